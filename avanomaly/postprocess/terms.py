"""Frame scores -> a clip's score terms: the step between the networks (models/composite.py: frames -> per-frame NLL,
sync logits and mask) and the calibration (the fusion of the terms, the threshold).

``score_frames`` is the one place this step is done: the Detector calls it for every file and cached clip, and
training's calibration (training/calibrate.py) through ``frame_terms`` for its validation clips, so training needs
no ``Detector`` (the face-frame rule, the aggregation of the NLL curve, the sync model's offset curve over the
kept frames, ``clip_terms``). Takes the models' objects, imports no model code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from avanomaly.postprocess.aggregate import AggregationConfig, aggregate_curve
from avanomaly.postprocess.fusion import DEFAULT_CURVE, check_curve, clip_terms, vote_curve

#: fewest frames a clip may have (the AR model predicts frame 1 from frame 0; the Detector's MIN_CLIP_FRAMES)
MIN_FRAMES = 2


@dataclass
class FrameEvidence:
    """What a clip's frame scores say: the score terms, whether the aggregation's skip left out every frame
    (``skip_dropped``), the sync model's peak offset (frames) and its confidence over the kept frames, and the
    offset curve itself (``curve`` (O,) at audio offsets -K..K, of kind ``curve_kind`` (CURVES); NaN where no
    frame)."""

    terms: dict
    skip_dropped: bool
    offset: float
    confidence: float
    curve: np.ndarray | None = None
    curve_kind: str = DEFAULT_CURVE


def score_frames(frames, face_found: np.ndarray, sync_model, max_offset: int, aggregation: AggregationConfig,
                 fps: float, face_frames_only: bool = True, device="cpu", profile=None,
                 curve: str = DEFAULT_CURVE) -> FrameEvidence:
    """One clip's frame scores -> :class:`FrameEvidence`.

    ``frames``: a ``FrameScores`` (``nll`` (T-1,) of frames 1..T-1, ``logits`` / ``mask`` (T, O)); ``face_found``
    (T,) bool; ``sync_model`` gives ``offset_curve`` / ``offset_confidence(logits, mask)``; ``fps`` places frames
    in time (the aggregation's skip, from the first scored frame). With ``face_frames_only`` (and at least
    MIN_FRAMES face frames) only frames with a face count. ``profile`` (an ``OffsetProfile``, from the
    calibration) adds the ``profile`` term; ``curve`` (CURVES, the calibration's) says how the offset curve the
    sync / offset / profile terms read is made. The reported offset and confidence are SyncNet's, from the mean
    cosine curve, whatever ``curve`` is."""
    check_curve(curve)
    face_found = np.asarray(face_found, dtype=bool)
    n = int(face_found.shape[0])
    if frames.nll.shape[0] != n - 1:
        raise ValueError(f"{frames.nll.shape[0]} NLL values for {n} frames (expected {n - 1})")
    times = np.arange(1, n, dtype=np.float64) / float(fps)
    keep = face_found if face_frames_only and face_found.sum() >= MIN_FRAMES else None
    nll_score, skip_dropped = aggregate_curve(frames.nll, times, aggregation, keep=None if keep is None else keep[1:])
    valid = frames.mask if keep is None else frames.mask & keep[:, None]
    with torch.no_grad():
        logits = torch.from_numpy(frames.logits)[None].to(device)  # (1, T, O)
        mask = torch.from_numpy(valid)[None].to(device)  # (1, T, O)
        offset, confidence = sync_model.offset_confidence(logits, mask)
        if curve == "cosine":
            values = sync_model.offset_curve(logits, mask)[0].float().cpu().numpy()  # (O,)
        else:
            values = vote_curve(frames.logits / float(sync_model.scale.detach()), valid)  # (O,)
    return FrameEvidence(clip_terms(float(nll_score), values, int(max_offset), profile), bool(skip_dropped),
                         _scalar(offset), _scalar(confidence), values, curve)


def _scalar(x) -> float:
    """The first element of a tensor / array / sequence, or a number -> float."""
    if isinstance(x, torch.Tensor):
        return float(x.reshape(-1)[0].item())
    if isinstance(x, np.ndarray):
        return float(x.reshape(-1)[0])
    if isinstance(x, (list, tuple)):
        return _scalar(x[0])
    return float(x)


def frame_terms(frames, face_found: np.ndarray, sync_model, max_offset: int, aggregation: AggregationConfig,
                fps: float, face_frames_only: bool = True, device="cpu", profile=None,
                curve: str = DEFAULT_CURVE) -> dict:
    """The score terms (``fusion.TERMS``) of one clip from its frame scores: ``score_frames(...).terms``."""
    return score_frames(frames, face_found, sync_model, max_offset, aggregation, fps, face_frames_only, device,
                        profile, curve).terms
