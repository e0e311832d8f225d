"""Frame scores -> a clip's score terms: the step between the networks (models/composite.py: frames -> per-frame NLL,
sync logits and mask) and the calibration (the fusion of the terms, the threshold).

``frame_terms`` is what training's calibration uses to score its validation clips (training/calibrate.py), so
training needs no ``Detector``. It follows ``Detector._score_chunks`` step for step (the face-frame rule, the
aggregation of the NLL curve, the sync model's offset curve over the kept frames, ``clip_terms``); a unit test
(tests/unit/test_postprocess_terms.py) checks the two give the same terms. Takes the models' objects, imports no
model code.
"""

from __future__ import annotations

import numpy as np
import torch

from avanomaly.postprocess.aggregate import AggregationConfig, aggregate_curve
from avanomaly.postprocess.fusion import clip_terms

#: frames a clip needs to be scored (as the Detector's MIN_CLIP_FRAMES)
MIN_FRAMES = 2


def frame_terms(frames, face_found: np.ndarray, sync_model, max_offset: int, aggregation: AggregationConfig,
                fps: float, face_frames_only: bool = True, device="cpu") -> dict:
    """The score terms (``fusion.TERMS``) of one clip from its frame scores.

    ``frames``: a ``FrameScores`` (``nll`` (T-1,) of frames 1..T-1, ``logits`` / ``mask`` (T, O)); ``face_found``
    (T,) bool; ``sync_model`` gives ``offset_curve(logits, mask)``; ``fps`` places frames in time (the
    aggregation's skip). With ``face_frames_only`` (and at least MIN_FRAMES face frames) only frames with a face
    count, as in the Detector."""
    face_found = np.asarray(face_found, dtype=bool)
    n = int(face_found.shape[0])
    if frames.nll.shape[0] != n - 1:
        raise ValueError(f"{frames.nll.shape[0]} NLL values for {n} frames (expected {n - 1})")
    times = np.arange(1, n, dtype=np.float64) / float(fps)
    keep = face_found if face_frames_only and face_found.sum() >= MIN_FRAMES else None
    nll_score, _dropped = aggregate_curve(frames.nll, times, aggregation, keep=None if keep is None else keep[1:])
    valid = frames.mask if keep is None else frames.mask & keep[:, None]
    with torch.no_grad():
        logits = torch.from_numpy(frames.logits)[None].to(device)
        mask = torch.from_numpy(valid)[None].to(device)
        curve = sync_model.offset_curve(logits, mask)[0].float().cpu().numpy()
    return clip_terms(float(nll_score), curve, int(max_offset))
