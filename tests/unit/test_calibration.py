"""Calibration on real scores: target FPR, percentiles, storage in the model file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avanomaly.errors import CheckpointError, ConfigError
from avanomaly.postprocess.calibration import Calibration, calibrate, load_calibration_json
from avanomaly.postprocess.modelfile import write_calibration


@pytest.mark.parametrize("n", [20, 100, 1000])
@pytest.mark.parametrize("fpr", [0.01, 0.05, 0.1, 0.25])
def test_threshold_gives_target_fpr_on_known_list(n, fpr):
    scores = np.random.default_rng(n).permutation(np.arange(1, n + 1, dtype=float))  # distinct, shuffled
    cal = calibrate(scores, target_fpr=fpr)
    above = int((scores > cal.threshold).sum())
    assert above <= fpr * n + 1e-9  # never more false positives than asked for ...
    assert above >= int(np.floor(fpr * n + 1e-9))  # ... and the lowest such threshold
    assert cal.achieved_fpr == pytest.approx(above / n)
    assert cal.n == n and cal.reference_scores == sorted(scores.tolist())


def test_known_values():
    cal = calibrate(range(1, 101), target_fpr=0.05)
    assert cal.threshold == 95.0 and cal.achieved_fpr == pytest.approx(0.05)
    assert calibrate([3.0, 1.0, 2.0], target_fpr=0.0).threshold == 3.0  # FPR 0: the maximum
    assert "coarse" in calibrate([1.0, 2.0], 0.05).notes  # few clips -> a note


def test_percentile_monotone_and_bounded():
    cal = calibrate(np.random.default_rng(0).normal(size=200), target_fpr=0.05)
    xs = np.linspace(-5, 5, 501)
    p = np.array([cal.percentile(x) for x in xs])
    assert np.all(np.diff(p) >= 0) and p[0] == 0.0 and p[-1] == 100.0
    assert cal.percentile(cal.reference_scores[100]) == pytest.approx(50.0)  # 100 of 200 strictly lower


def test_rejects_bad_input():
    with pytest.raises(ConfigError):
        calibrate([], 0.05)
    with pytest.raises(ConfigError):
        calibrate([1.0, float("nan")], 0.05)
    with pytest.raises(ConfigError):
        calibrate([1.0], 1.5)


def test_write_into_model_file_and_json(tmp_path):
    model = tmp_path / "model.pt"
    torch.save({"format": "avanomaly-model", "sync": {}, "ar": {}, "preprocess": {}, "calibration": None}, model)
    cal = calibrate(np.arange(50.0), 0.1, aggregation={"method": "mean"}, notes="test")
    written, js = write_calibration(model, cal)
    obj = torch.load(written, weights_only=True)
    assert obj["calibration"]["threshold"] == cal.threshold and obj["sync"] == {}  # the rest kept
    again = Calibration.from_dict(obj["calibration"])
    assert again.reference_scores == cal.reference_scores and again.aggregation == {"method": "mean"}
    assert load_calibration_json(js).threshold == cal.threshold
    assert json.loads(js.read_text())["achieved_fpr"] == pytest.approx(cal.achieved_fpr)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temp file
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    with pytest.raises(CheckpointError, match="bad.pt"):
        write_calibration(bad, cal)


def _offset_calibration():
    from avanomaly.postprocess.calibration import calibrate_terms

    rows = [{"nll": 3.0 + 0.1 * i, "sync": -0.1 - 0.01 * i, "offset": 0.1 * (i % 3)} for i in range(8)]
    return calibrate_terms(rows, 0.1)


def test_offset_term_round_trips_through_model_file_and_json(tmp_path):
    model = tmp_path / "model.pt"
    torch.save({"format": "avanomaly-model", "sync": {}, "ar": {}, "preprocess": {}, "calibration": None}, model)
    cal = _offset_calibration()
    assert cal.fusion["terms"] == ["nll", "sync", "offset"] and "offset" in cal.score_definition
    written, js = write_calibration(model, cal)
    for again in (Calibration.from_dict(torch.load(written, weights_only=True)["calibration"]),
                  load_calibration_json(js)):
        assert again.fusion == cal.fusion and again.reference_scores == cal.reference_scores
        terms = {"nll": 3.2, "sync": -0.05, "offset": 4.0}
        assert again.clip_score(terms) == pytest.approx(cal.clip_score(terms))
        assert again.clip_score(terms) > again.clip_score({**terms, "offset": 0.0})  # the offset counts


@pytest.mark.parametrize("change, message", [
    ({"std": [0.1, 0.01]}, "same length"),
    ({"std": [0.1, 0.01, 0.0]}, "must be > 0"),
    ({"mean": [3.0, -0.1, float("nan")]}, "finite"),
    ({"std": [0.1, 0.01, float("inf")]}, "finite"),
    ({"terms": ["nll", "sync", "offsets"]}, "distinct names"),
    ({"terms": ["nll", "offset", "offset"]}, "distinct names"),
])
def test_strict_validation_refuses_a_malformed_offset_fusion(change, message):
    d = _offset_calibration().to_dict()
    assert Calibration.from_dict(d).fusion["terms"] == ["nll", "sync", "offset"]  # well-formed: accepted
    d["fusion"] = {**d["fusion"], **change}
    with pytest.raises(CheckpointError, match=message):
        Calibration.from_dict(d)
