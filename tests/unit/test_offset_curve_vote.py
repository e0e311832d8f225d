"""The clip's offset curve as a per-frame vote (postprocess/fusion.py ``vote_curve``, ``Calibration.curve``): each
frame's softmax over its valid offsets, averaged; recorded in the calibration so every later clip is scored the
same way; files calibrated before it keep the mean-cosine curve."""

from __future__ import annotations

import numpy as np
import pytest

from avanomaly.errors import CheckpointError, ConfigError
from avanomaly.io.testing import speech_like
from avanomaly.postprocess.calibration import Calibration, calibrate, calibrate_terms
from avanomaly.postprocess.fusion import DEFAULT_CURVE, VOTE_MIN_OFFSETS, check_curve, vote_curve
from avanomaly.scoring.testing import FPS, synthetic_clip, tiny_detector

O = 11  # offsets -5..5


def _cos(peaks, height=0.5, floor=0.0):
    """(T, O) cosines: frame t peaks at offset index peaks[t] with ``height[t]`` above ``floor``."""
    peaks = np.asarray(peaks)
    height = np.broadcast_to(np.asarray(height, dtype=float), peaks.shape)
    c = np.full((len(peaks), O), floor, dtype=float)
    c[np.arange(len(peaks)), peaks] += height
    return c


def test_every_frame_has_one_vote_however_large_its_cosines():
    # 9 frames peak at index 3 (0.5 above the rest: 10 temperatures), one frame peaks far higher at index 8
    cos = _cos([3] * 9 + [8], height=[0.5] * 9 + [8.0])
    valid = np.ones_like(cos, bool)
    v = vote_curve(cos, valid)
    assert v.sum() == pytest.approx(1.0)
    assert int(np.argmax(v)) == 3 and v[3] == pytest.approx(0.9, abs=0.01) and v[8] == pytest.approx(0.1, abs=0.01)
    mean_cosine = np.where(valid, cos, 0).sum(0) / valid.sum(0)
    assert int(np.argmax(mean_cosine)) == 8  # the mean cosine follows the one loud frame: the vote does not


def test_invalid_offsets_get_no_vote_and_frames_seeing_few_offsets_do_not_vote():
    cos = _cos([2, 2, 9, 9], height=1.0)
    valid = np.ones_like(cos, bool)
    valid[2:, :] = False
    valid[2:, 9:9 + VOTE_MIN_OFFSETS - 1] = True  # frames 2, 3 see too few offsets: they do not vote
    valid[0, 5] = False
    v = vote_curve(cos, valid)
    assert v[2] == pytest.approx(1.0, abs=1e-6) and np.nansum(v) == pytest.approx(1.0)
    assert np.isfinite(v[5])  # frame 1 still sees offset 5
    none = vote_curve(cos[2:], valid[2:])
    assert np.isnan(none).all()  # no frame votes: no curve (the terms are then NaN, as for a clip with no frame)
    col = valid.copy()
    col[:, 0] = False
    assert np.isnan(vote_curve(cos, col)[0])  # an offset no voter sees is NaN, not 0


def test_the_curve_kind_is_checked_and_recorded_in_the_calibration():
    assert check_curve("vote") == "vote" and DEFAULT_CURVE == "cosine"
    with pytest.raises(ConfigError, match="unknown offset curve"):
        check_curve("median")
    rows = [{"nll": 2.0 + 0.1 * i, "sync": -0.1 + 0.01 * i, "offset": 0.1 * (i % 3)} for i in range(12)]
    cal = calibrate_terms(rows, terms=["nll", "sync", "offset"], curve="vote")
    assert cal.curve == "vote" and Calibration.from_dict(cal.to_dict()).curve == "vote"
    old = cal.to_dict()
    del old["curve"]  # a file calibrated before the vote existed
    assert Calibration.from_dict(old).curve == "cosine"
    with pytest.raises(CheckpointError, match="unknown offset curve"):
        Calibration.from_dict({**cal.to_dict(), "curve": "median"})
    with pytest.raises(ConfigError, match="unknown offset curve"):
        calibrate_terms(rows, terms=["nll"], curve="median")


def _clips(n=12):
    return [(synthetic_clip(60 + 5 * i, seed=i)[0], speech_like((60 + 5 * i) / FPS, seed=i)) for i in range(n)]


def test_the_detector_makes_the_calibrations_curve():
    clips = _clips()
    det = tiny_detector(calibration=calibrate(np.linspace(0, 5, 11), target_fpr=0.1))  # an old, cosine calibration
    assert det.curve == "cosine"
    old = det.anomaly_score(clips[0])
    assert old.offset_curve_kind == "cosine" and old.to_dict()["offset_curve_kind"] == "cosine"
    cal, failed = det.calibrate(clips, target_fpr=0.1, terms=["nll", "sync", "offset", "profile"], curve="vote")
    assert not failed and cal.curve == det.curve == "vote"
    new = det.anomaly_score(clips[0])
    assert new.offset_curve_kind == "vote"
    assert np.nansum(new.offset_curve) == pytest.approx(1.0, abs=1e-6)  # a vote: the frames' mass over the offsets
    assert new.score_terms["nll"] == pytest.approx(old.score_terms["nll"])  # the NLL does not read the curve
    assert new.score_terms["profile"] == pytest.approx(cal.offset_profile.distance(np.array(new.offset_curve)))
    assert new.score == pytest.approx(cal.clip_score(new.score_terms))
    # the profile was fit on vote curves: the calibration clips were scored with the vote, not the old curve
    assert cal.profile["n_clips"] == len(clips)
    again = tiny_detector(calibration=Calibration.from_dict(cal.to_dict()))
    assert again.curve == "vote" and again.anomaly_score(clips[0]).score == pytest.approx(new.score)
    kept, _ = again.calibrate(clips[:6], target_fpr=0.1, terms=["nll", "sync"])  # a re-calibration keeps the curve
    assert kept.curve == again.curve == "vote"
    cos_cal, _ = det.calibrate(clips, target_fpr=0.1, terms=["nll", "sync"], curve="cosine")
    assert cos_cal.curve == det.curve == "cosine"
    assert det.anomaly_score(clips[0]).offset_curve == pytest.approx(old.offset_curve)


def test_health_says_which_offset_curve_the_score_reads():
    from avanomaly.serve.app import describe_detector

    det = tiny_detector(calibration=calibrate(np.linspace(0, 5, 11), target_fpr=0.1))
    assert describe_detector(det)["offset_curve"] == "cosine"
    rows = [{"nll": 2.0 + 0.1 * i, "sync": -0.1 + 0.01 * i, "offset": 0.1 * (i % 3)} for i in range(12)]
    det.calibration = calibrate_terms(rows, terms=["nll", "sync", "offset"], curve="vote")
    assert describe_detector(det)["offset_curve"] == "vote"


def test_training_calibrates_with_its_configs_curve_and_the_starter_preset_says_vote():
    from avanomaly.training.config import TrainConfig, load_config

    assert TrainConfig().calibration_curve == "cosine"
    assert load_config("starter").calibration_curve == "vote" and load_config("demo").calibration_curve == "cosine"
    bad = TrainConfig()
    bad.calibration_curve = "median"
    with pytest.raises(ConfigError, match="unknown offset curve"):
        bad.validate()
