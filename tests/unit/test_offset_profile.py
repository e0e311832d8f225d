"""The offset-profile term (postprocess/profile.py): a real-only Gaussian over the whole offset curve, fit at
calibration (out of speaker for the calibration clips), stored in the model file, used by the Detector."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from avanomaly.errors import CheckpointError, ConfigError
from avanomaly.io.testing import speech_like
from avanomaly.postprocess.calibration import Calibration, calibrate_terms, needs_curves
from avanomaly.postprocess.fusion import clip_terms
from avanomaly.postprocess.profile import MIN_PROFILE_CLIPS, OffsetProfile, cross_fit_terms, profile_features
from avanomaly.scoring.testing import FPS, synthetic_clip, tiny_detector

K = 6


def _curve(rng, peak: int = 0, height: float = 0.5, width: float = 1.5, noise: float = 0.02,
           level: float = 0.1) -> np.ndarray:
    """A real-looking offset curve: a bump at ``peak`` frames on a noisy floor (O = 2K + 1)."""
    d = np.arange(-K, K + 1)
    return level + height * np.exp(-0.5 * ((d - peak) / width) ** 2) + noise * rng.standard_normal(d.size)


def _reals(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return [_curve(rng, peak=int(rng.integers(-1, 2)), height=rng.uniform(0.3, 0.7), level=rng.uniform(-0.1, 0.3))
            for _ in range(n)]


def test_features_are_the_curve_shape_and_log_peak_height():
    rng = np.random.default_rng(1)
    c = _curve(rng)
    f = profile_features(c, K)
    assert f.shape == (2 * K + 2,)
    assert f[:-1].mean() == pytest.approx(0.0, abs=1e-9) and f[:-1].std() == pytest.approx(1.0)
    # the shape part ignores the clip's similarity level and scale; the last feature keeps the peak height
    g = profile_features(0.3 + 2.0 * c, K)
    np.testing.assert_allclose(f[:-1], g[:-1], atol=1e-9)
    assert g[-1] == pytest.approx(f[-1] + np.log(2.0))
    with pytest.raises(ValueError, match="expected 13"):
        profile_features(c[:-1], K)


def test_offsets_without_frames_take_the_median_and_an_empty_curve_is_nan():
    rng = np.random.default_rng(2)
    c = _curve(rng)
    c[:2] = np.nan
    assert np.isfinite(profile_features(c, K)).all()
    assert np.isnan(profile_features(np.full(2 * K + 1, np.nan), K)).all()
    prof = OffsetProfile.fit(_reals(), K)
    assert np.isnan(prof.distance(np.full(2 * K + 1, np.nan)))


def test_shifted_and_flat_curves_are_far_from_real_ones():
    prof = OffsetProfile.fit(_reals(), K)
    rng = np.random.default_rng(3)
    real = [prof.distance(c) for c in _reals(30, seed=9)]
    shifted = [prof.distance(_curve(rng, peak=p)) for p in (-5, -3, 3, 5) * 5]
    flat = [prof.distance(_curve(rng, height=0.02)) for _ in range(20)]  # another voice: no peak
    assert np.median(real) < 2.0
    assert min(shifted) > max(real) and min(flat) > np.median(real)


def test_fit_refuses_too_few_clips_and_round_trips_checked():
    with pytest.raises(ConfigError, match=f"at least {MIN_PROFILE_CLIPS}"):
        OffsetProfile.fit(_reals(MIN_PROFILE_CLIPS - 1), K)
    prof = OffsetProfile.fit(_reals(), K, speakers=[f"s{i % 7}" for i in range(60)])
    assert prof.n_clips == 60 and prof.n_speakers == 7 and 0.0 <= prof.shrinkage <= 1.0
    again = OffsetProfile.from_dict(prof.to_dict())
    c = _reals(1, seed=5)[0]
    assert again.distance(c) == prof.distance(c)
    bad = prof.to_dict()
    bad["mean"] = bad["mean"][:-1]
    with pytest.raises(ConfigError, match="mean must have 14"):
        OffsetProfile.from_dict(bad)
    bad = prof.to_dict()
    bad["precision"][0][1] += 1.0
    with pytest.raises(ConfigError, match="symmetric"):
        OffsetProfile.from_dict(bad)
    bad = prof.to_dict()
    bad["precision"][2][2] = float("nan")
    with pytest.raises(ConfigError):
        OffsetProfile.from_dict(bad)


def test_cross_fit_leaves_each_speaker_out():
    curves = _reals(40)
    speakers = [f"s{i // 5}" for i in range(40)]  # 8 speakers of 5 clips
    out = cross_fit_terms(curves, K, speakers)
    full = OffsetProfile.fit(curves, K)
    first = OffsetProfile.fit(curves[5:], K)  # speaker s0 left out
    assert out[:5] == pytest.approx([first.distance(c) for c in curves[:5]])
    # in-sample distances are smaller on average: the calibration must not see those
    assert np.mean(out) > np.mean([full.distance(c) for c in curves])
    with pytest.raises(ConfigError, match="one speaker per curve"):
        cross_fit_terms(curves, K, speakers[:-1])


def test_clip_terms_add_the_profile_term_only_with_a_profile():
    prof = OffsetProfile.fit(_reals(), K)
    c = _reals(1, seed=7)[0]
    assert "profile" not in clip_terms(2.0, c, K)
    assert clip_terms(2.0, c, K, prof)["profile"] == pytest.approx(prof.distance(c))


def test_calibration_with_the_profile_term_stores_the_profile_and_uses_out_of_speaker_values():
    curves = _reals(40)
    speakers = [f"s{i // 4}" for i in range(40)]
    rows = [clip_terms(2.0 + 0.01 * i, c, K) for i, c in enumerate(curves)]
    terms = ["nll", "sync", "offset", "profile"]
    assert needs_curves(terms) and not needs_curves(["nll", "sync"])
    with pytest.raises(ConfigError, match="offset curves"):
        calibrate_terms(rows, terms=terms)
    cal = calibrate_terms(rows, terms=terms, speakers=speakers, curves=curves)
    assert cal.fusion["terms"] == terms and cal.profile["n_clips"] == 40 and cal.profile["n_speakers"] == 10
    held = cross_fit_terms(curves, K, speakers)
    fused = [cal.clip_score({**r, "profile": v}) for r, v in zip(rows, held)]
    np.testing.assert_allclose(sorted(fused), cal.reference_scores, atol=1e-12)
    back = Calibration.from_dict(cal.to_dict())
    assert back.offset_profile == cal.offset_profile
    d = cal.to_dict()
    d["profile"] = {}
    with pytest.raises(CheckpointError, match="no profile"):
        Calibration.from_dict(d)


def test_the_detector_scores_with_the_calibrations_profile():
    det = tiny_detector()
    clips = [(synthetic_clip(60 + 5 * i, seed=i)[0], speech_like((60 + 5 * i) / FPS, seed=i)) for i in range(12)]
    results = [det.anomaly_score(c, threshold=float("inf")) for c in clips]
    k = det.model.max_offset
    assert all(len(r.offset_curve) == 2 * k + 1 for r in results)
    assert results[0].to_dict()["offset_curve"] == pytest.approx(results[0].offset_curve)
    cal = calibrate_terms([r.score_terms for r in results], target_fpr=0.1, terms=["nll", "sync", "profile"],
                          aggregation=dataclasses.asdict(det.aggregation),
                          curves=[r.offset_curve for r in results])
    calibrated = tiny_detector(calibration=Calibration.from_dict(cal.to_dict()))
    res = calibrated.anomaly_score(clips[3])
    assert res.score_terms["profile"] == pytest.approx(cal.offset_profile.distance(np.array(res.offset_curve)))
    assert res.score == pytest.approx(cal.clip_score(res.score_terms))
    assert "profile" in res.score_definition


def test_the_profile_round_trips_through_the_model_file(tmp_path):
    from avanomaly.postprocess.modelfile import save_model_file, write_calibration
    from avanomaly.scoring import Detector
    from avanomaly.scoring.testing import tiny_models

    sync, ar, cfg = tiny_models(seed=0)
    path = save_model_file(tmp_path / "model.pt", sync, ar, cfg)
    k = int(sync.config.max_offset)
    rng = np.random.default_rng(0)
    curves = [_curve(rng, peak=int(rng.integers(-1, 2)))[K - k:K + k + 1] for _ in range(30)]
    rows = [clip_terms(2.0 + 0.01 * i, c, k) for i, c in enumerate(curves)]
    cal = calibrate_terms(rows, terms=["nll", "sync", "offset", "profile"], curves=curves,
                          speakers=[f"s{i % 6}" for i in range(30)])
    written, json_path = write_calibration(path, cal)
    det = Detector.from_pretrained(str(written), device="cpu", pipeline=False)
    assert det.calibration.profile == cal.profile and det.calibration.fusion == cal.fusion
    assert det._profile == cal.offset_profile
    assert Calibration.from_dict(__import__("json").loads(json_path.read_text())).profile == cal.profile
    # a profile of other offsets is not this model's calibration
    other = calibrate_terms([clip_terms(2.0, c, K) for c in _reals(20)], terms=["nll", "profile"], curves=_reals(20))
    with pytest.raises(CheckpointError, match="offsets"):
        Detector(sync, ar, cfg, calibration=other, pipeline=False)


def test_default_terms_include_the_profile_but_a_small_pool_leaves_it_out():
    from avanomaly.postprocess.fusion import DEFAULT_TERMS

    assert "profile" in DEFAULT_TERMS and needs_curves()
    curves = _reals(MIN_PROFILE_CLIPS - 1)
    rows = [clip_terms(2.0 + 0.1 * i, c, K) for i, c in enumerate(curves)]
    small = calibrate_terms(rows, curves=curves)
    assert small.fusion["terms"] == ["nll", "sync", "offset"] and small.profile == {}
    assert "no offset-profile term" in small.notes
    with pytest.raises(ConfigError, match=f"at least {MIN_PROFILE_CLIPS}"):  # asked for explicitly: refused
        calibrate_terms(rows, terms=list(DEFAULT_TERMS), curves=curves)
    curves = _reals(MIN_PROFILE_CLIPS)
    rows = [clip_terms(2.0 + 0.1 * i, c, K) for i, c in enumerate(curves)]
    big = calibrate_terms(rows, curves=curves)
    assert big.fusion["terms"] == list(DEFAULT_TERMS) and big.profile["n_clips"] == MIN_PROFILE_CLIPS
