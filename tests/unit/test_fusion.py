"""Score fusion (real-only z-scores of the nll, sync and offset terms) and calibration == scoring."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from avanomaly.errors import ConfigError
from avanomaly.postprocess.calibration import Calibration, calibrate_terms
from avanomaly.postprocess.fusion import STD_FLOOR, TERM_STD_FLOORS, TERMS, CURVE_TERMS, ScoreFusion, clip_terms, offset_term, sync_term
from avanomaly.io.testing import speech_like
from avanomaly.scoring.testing import FPS, synthetic_clip, tiny_detector


def test_fit_standardises_each_term_on_the_reference_clips():
    rows = [{"nll": 1.0, "sync": -0.3}, {"nll": 2.0, "sync": -0.1}, {"nll": 3.0, "sync": -0.2}]
    f = ScoreFusion.fit(rows, terms=("nll", "sync"))
    assert f.mean == pytest.approx([2.0, -0.2]) and f.std == pytest.approx([1.0, 0.1])
    assert f.combine({"nll": 2.0, "sync": -0.2}) == pytest.approx(0.0)
    # one std above on nll, two on sync -> mean z 1.5
    assert f.combine({"nll": 3.0, "sync": 0.0}) == pytest.approx(1.5)
    assert "nll" in f.describe() and "sync" in f.describe()
    assert ScoreFusion.from_dict(f.to_dict()) == f


def test_a_constant_term_is_floored_not_divided_by_zero():
    f = ScoreFusion.fit([{"nll": 1.0, "sync": 0.0}, {"nll": 1.0, "sync": 1.0}], terms=("nll", "sync"))
    assert f.std[0] == STD_FLOOR
    assert np.isfinite(f.combine({"nll": 5.0, "sync": 0.5}))


def test_bad_terms_are_refused():
    with pytest.raises(ConfigError, match="subset"):
        ScoreFusion.fit([{"nll": 1.0}], terms=["loudness"])
    with pytest.raises(ConfigError, match="at least one"):
        ScoreFusion.fit([])
    with pytest.raises(ConfigError, match="non-finite"):
        ScoreFusion.fit([{"nll": float("nan"), "sync": 0.0}], terms=("nll", "sync"))


def test_sync_term_is_minus_confidence_at_zero_offset_within_a_frame():
    k = 3
    peaked = np.array([0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1])  # in sync: peak at offset 0
    assert sync_term(peaked, k) == pytest.approx(0.1 - 0.9)
    assert sync_term(np.roll(peaked, 1), k) == pytest.approx(0.1 - 0.9)  # 1 frame off: within the tolerance
    assert sync_term(np.roll(peaked, 1), k, tolerance=0) == pytest.approx(0.0)
    shifted = np.roll(peaked, 2)  # peak at +2: out of sync
    assert sync_term(shifted, k) == pytest.approx(0.0)
    assert sync_term(np.full(7, 0.2), k) == pytest.approx(0.0)  # another voice: no peak anywhere


def test_nll_only_calibration_keeps_the_old_score():
    rows = [{"nll": float(i), "sync": 0.0} for i in range(20)]
    cal = calibrate_terms(rows, target_fpr=0.1, terms=["nll"])
    assert cal.fusion == {} and cal.clip_score({"nll": 7.5, "sync": 3.0}) == 7.5
    assert cal.threshold == 17.0


def test_calibration_scores_are_the_detector_scores():
    """Calibrate on real clips' score_terms, then score the same clips with the calibrated detector: each score is
    one of the calibration's reference scores (the stored threshold applies to exactly these numbers)."""
    det = tiny_detector()
    clips = [(synthetic_clip(60 + 10 * i, seed=i)[0], speech_like((60 + 10 * i) / FPS, seed=i))
             for i in range(4)]  # speech: a verdict, not "unknown"
    rows = [det.anomaly_score(c, threshold=float("inf")).score_terms for c in clips]
    cal = calibrate_terms(rows, target_fpr=0.25, aggregation=dataclasses.asdict(det.aggregation))
    assert cal.fusion["terms"] == ["nll", "sync", "offset"]
    calibrated = tiny_detector(calibration=Calibration.from_dict(cal.to_dict()))
    scores = sorted(calibrated.anomaly_score(c).score for c in clips)
    np.testing.assert_allclose(scores, cal.reference_scores, rtol=0, atol=1e-9)
    res = calibrated.anomaly_score(clips[0])
    assert res.score == pytest.approx(cal.clip_score(res.score_terms))
    assert res.score_definition == cal.score_definition and "z-scores" in res.score_definition
    assert res.verdict == ("fake" if res.score > cal.threshold else "real")
    d = res.to_dict()
    assert set(d["score_terms"]) == set(CURVE_TERMS) and d["score_definition"]


def _peaked(k: int, at: int, height: float = 0.8, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = 0.1 + noise * rng.standard_normal(2 * k + 1)
    c[k + at] = 0.1 + height
    c[k + at - 1] += height / 2 if at - 1 >= -k else 0.0  # a broad peak, as a 5-frame window model gives
    c[min(2 * k, k + at + 1)] += height / 2
    return c


def test_offset_term_is_high_for_a_shifted_curve_and_low_for_a_centred_one():
    k = 15
    centred, own_offset = _peaked(k, 0, noise=0.01), _peaked(k, -1, noise=0.01, seed=1)
    assert offset_term(centred, k) < 0.1 and offset_term(own_offset, k) < 0.6  # within +-1: in sync
    for n in (3, 5, -3, -5):
        assert offset_term(_peaked(k, n, noise=0.01), k) == pytest.approx(abs(n) - 1, abs=0.6)
    assert offset_term(np.full(2 * k + 1, 0.2), k) > 5  # flat (another voice): mass spread over every offset
    # scale-free: only the curve's shape matters
    assert offset_term(3 * _peaked(k, 4) + 1, k) == pytest.approx(offset_term(_peaked(k, 4), k))
    # NaN where no frame is valid is skipped
    c = _peaked(k, 5)
    c[:3] = np.nan
    assert offset_term(c, k) == pytest.approx(offset_term(_peaked(k, 5), k), abs=0.01)
    assert np.isnan(offset_term(np.full(5, np.nan), 2))
    assert set(clip_terms(3.0, centred, k)) == set(CURVE_TERMS) == {"nll", "sync", "offset"}


def test_offset_std_is_floored_in_frames():
    rows = [{"nll": 1.0, "sync": -0.2, "offset": 0.0}, {"nll": 2.0, "sync": -0.1, "offset": 0.01}]
    f = ScoreFusion.fit(rows)
    assert f.terms == ["nll", "sync", "offset"]
    assert f.std[2] == TERM_STD_FLOORS["offset"] > STD_FLOOR
    # a 5-frame shift of an otherwise average clip: z = 4 / 0.25 = 16 on offset, mean over 3 terms
    z = f.combine({"nll": f.mean[0], "sync": f.mean[1], "offset": f.mean[2] + 4.0})
    assert z == pytest.approx(16 / 3)
