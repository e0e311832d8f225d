"""postprocess/terms.py: training's calibration makes a clip's score terms without a Detector; they must be the
Detector's terms for the same features, with and without frames lacking a face, whatever the aggregation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avanomaly.conventions import MEL_PER_FRAME
from avanomaly.models.composite import AnomalyModel
from avanomaly.postprocess.aggregate import AggregationConfig
from avanomaly.postprocess.terms import frame_terms
from avanomaly.scoring.detector import Detector
from avanomaly.scoring.testing import tiny_models

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _features(t: int, cfg, seed: int):
    rng = np.random.default_rng(seed)
    mouths = rng.integers(0, 256, (t, cfg.crop_size, cfg.crop_size), dtype=np.uint8)
    mel = rng.normal(size=(MEL_PER_FRAME * t, cfg.n_mels)).astype(np.float32)
    return mouths, mel


@pytest.mark.parametrize("faces, aggregation", [
    ("all", AggregationConfig()),
    ("some", AggregationConfig()),
    ("some", AggregationConfig(method="topk_mean", skip_seconds=0.2)),
    ("one", AggregationConfig()),  # one face frame, under the minimum: every frame is scored
])
def test_frame_terms_are_the_detectors_terms(faces, aggregation):
    sync, ar, cfg = tiny_models(seed=0)
    t = 40
    mouths, mel = _features(t, cfg, seed=1)
    found = {"all": np.ones(t, bool), "some": np.arange(t) % 3 != 0,
             "one": np.isin(np.arange(t), [5])}[faces]
    detector = Detector(sync, ar, cfg, device="cpu", prefetch=False, chunk_frames=16)
    want = detector.score_features(mouths, mel, found, threshold=float("inf"), aggregation=aggregation).score_terms

    model = AnomalyModel(detector.sync_model, detector.ar_model)
    scorer = model.scorer(device="cpu")
    for s in range(0, t, 7):  # another chunking: the streams give the same numbers
        scorer.push(mouths[s:s + 7], mel[MEL_PER_FRAME * s:MEL_PER_FRAME * (s + 7)])
    got = frame_terms(scorer.finish(), found, model.sync, model.max_offset, aggregation, fps=float(cfg.fps))
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-9, rel=0), key
    # the face rule matters here: scoring every frame gives other terms when some frames have no face
    if faces == "some":
        every = frame_terms(_finish(model, mouths, mel), found, model.sync, model.max_offset, aggregation,
                            fps=float(cfg.fps), face_frames_only=False)
        assert every["nll"] != pytest.approx(want["nll"], abs=1e-9)


def _finish(model, mouths, mel):
    scorer = model.scorer(device="cpu")
    scorer.push(mouths, mel)
    return scorer.finish()


def test_frame_terms_refuse_frame_scores_of_another_length():
    sync, ar, cfg = tiny_models(seed=0)
    model = AnomalyModel(sync.eval(), ar.eval())
    mouths, mel = _features(10, cfg, seed=2)
    with torch.no_grad(), pytest.raises(ValueError, match="9 NLL values for 12 frames"):
        frame_terms(_finish(model, mouths, mel), np.ones(12, bool), model.sync, model.max_offset,
                    AggregationConfig(), fps=25.0)
