"""What a calibration rests on (postprocess/basis.py): the leave-speaker-out false-alarm rate on sets with a known
answer, the basis's round trip through the model file and calibration.json, strict checking, old files."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from scipy.stats import beta

from avanomaly.errors import CheckpointError
from avanomaly.postprocess.basis import clopper_pearson, describe, summary
from avanomaly.postprocess.calibration import (Calibration, calibrate_terms, leave_speaker_out,
                                           load_calibration_json)
from avanomaly.postprocess.modelfile import write_calibration

# speakers a, b, c are alike; d scores above all of them. At target FPR 0 the threshold is the largest reference
# score: fit on everyone, no clip is above it; held out, each of d's clips is above the others' largest (2.5).
SCORES = {"a": [1.0, 2.0], "b": [1.5, 2.5], "c": [0.5, 1.0], "d": [5.0, 6.0, 7.0]}


def _rows():
    rows, speakers, domains = [], [], []
    for spk, xs in SCORES.items():
        for x in xs:
            rows.append({"nll": x, "sync": -0.1, "offset": 0.0})
            speakers.append(spk)
            domains.append("phone" if spk == "d" else "studio")
    return rows, speakers, domains


def test_leave_speaker_out_far_has_the_known_answer():
    rows, speakers, domains = _rows()
    far = leave_speaker_out(rows, speakers, domains, target_fpr=0.0, terms=["nll"])
    assert far["method"] == "leave-speaker-out" and far["ci_method"] == "clopper-pearson"
    assert (far["overall"]["k"], far["overall"]["n"]) == (3, 9)  # d's 3 clips; in-sample it would be 0
    assert (far["per_domain"]["phone"]["k"], far["per_domain"]["phone"]["n"]) == (3, 3)
    assert (far["per_domain"]["studio"]["k"], far["per_domain"]["studio"]["n"]) == (0, 6)
    # Clopper-Pearson from the beta quantiles
    o = far["overall"]
    assert o["ci_low"] == pytest.approx(beta.ppf(0.025, 3, 7)) and o["ci_high"] == pytest.approx(beta.ppf(0.975, 4, 6))
    assert far["per_domain"]["studio"]["ci_low"] == 0.0
    assert far["per_domain"]["studio"]["ci_high"] == pytest.approx(1 - 0.025 ** (1 / 6))
    # in sample, the same threshold rule calls none of them
    assert calibrate_terms(rows, 0.0, terms=["nll"]).achieved_fpr == 0.0


def test_leave_one_clip_out_without_speakers_and_none_for_one_speaker():
    rows = [{"nll": x, "sync": 0.0, "offset": 0.0} for x in (1.0, 2.0, 3.0, 10.0)]
    far = leave_speaker_out(rows, None, None, target_fpr=0.0, terms=["nll"])
    assert far["method"] == "leave-one-clip-out" and far["overall"]["k"] == 1 and far["per_domain"] == {}
    assert leave_speaker_out(rows, ["x"] * 4, None, 0.0, ["nll"]) is None


def test_fusion_is_refit_without_the_held_out_speaker():
    """With the default fused terms, a speaker far off on one term is a false alarm held out: its own clips do not
    widen the term's std that would hide them (fitting the fusion on every clip, only 3 of its 6 would count)."""
    rng = np.random.default_rng(0)
    rows = [{"nll": 3.0 + 0.05 * rng.normal(), "sync": -0.1 + 0.01 * rng.normal(), "offset": 0.0} for _ in range(12)]
    speakers = [f"s{i // 3}" for i in range(12)]
    rows += [{"nll": 3.0 + 0.05 * rng.normal(), "sync": 0.2, "offset": 0.0} for _ in range(6)]  # sync far off
    speakers += ["odd"] * 6
    far = leave_speaker_out(rows, speakers, None, target_fpr=0.05)
    assert far["overall"]["k"] == 6 and far["overall"]["n"] == 18


def test_basis_of_calibrate_terms_counts_and_notes():
    rows, speakers, domains = _rows()
    facts = [{"face_px": 40.0 + i, "frame_height": 360.0, "bits_per_pixel": float("nan")} for i in range(9)]
    cal = calibrate_terms(rows, 0.05, speakers=speakers, domains=domains, facts=facts)
    b = cal.basis
    assert b["n_clips"] == 9 and b["n_speakers"] == 4 and b["domains"] == {"phone": 3, "studio": 6}
    assert b["pool"]["face_px"]["min"] == 40.0 and b["pool"]["face_px"]["p50"] == 44.0
    assert "bits_per_pixel" not in b["pool"]  # measured on no clip
    assert "only 4 speakers" in cal.notes and "only 9 real clips" in cal.notes
    assert "9 real clip(s) of 4 speaker(s)" in describe(b) and "phone 3" in describe(b)
    s = summary(b)
    assert s["n_speakers"] == 4 and s["far"]["rate"] == b["far"]["overall"]["rate"]
    # a missing identity makes the speakers unknown, not a speaker called ""
    cal = calibrate_terms(rows, 0.05, speakers=speakers[:-1] + [""], domains=None)
    assert cal.basis["n_speakers"] is None and cal.basis["far"]["method"] == "leave-one-clip-out"
    assert cal.basis["domains"] is None


def _model(tmp_path):
    model = tmp_path / "model.pt"
    torch.save({"format": "avanomaly-model", "sync": {}, "ar": {}, "preprocess": {}, "calibration": None}, model)
    return model


def _calibration():
    rows, speakers, domains = _rows()
    facts = [{"face_px": 50.0 + i, "frame_height": 256.0, "bits_per_pixel": 0.05} for i in range(9)]
    return calibrate_terms(rows, 0.05, speakers=speakers, domains=domains, facts=facts)


def test_basis_round_trips_through_model_file_and_json(tmp_path):
    cal = _calibration()
    written, js = write_calibration(_model(tmp_path), cal)
    for again in (Calibration.from_dict(torch.load(written, weights_only=True)["calibration"]),
                  load_calibration_json(js)):
        assert again.basis == cal.basis and again.threshold == cal.threshold
    assert json.loads(js.read_text())["basis"]["far"]["overall"]["n"] == 9


def test_old_calibration_without_basis_still_loads():
    d = _calibration().to_dict()
    del d["basis"]
    assert Calibration.from_dict(d).basis == {}
    assert describe({}).startswith("calibration basis not recorded") and summary({}) is None


def _broken(change):
    d = copy.deepcopy(_calibration().to_dict())
    change(d["basis"])
    return d


@pytest.mark.parametrize("change, message", [
    (lambda b: b.update(n_speakers=0), "n_speakers"),
    (lambda b: b.update(n_speakers=99), "n_speakers must be in 1..9"),
    (lambda b: b.update(n_clips=8), "calibration's n"),
    (lambda b: b.update(extra=1), "unknown key"),
    (lambda b: b["domains"].update(phone=2), "count the 9 clips"),
    (lambda b: b["far"].update(method="cross-validation"), "far.method"),
    (lambda b: b["far"]["overall"].update(k=10), "must be <= n"),
    (lambda b: b["far"]["overall"].update(rate=0.9), "rate must be k/n"),
    (lambda b: b["far"]["overall"].update(ci_high=float("nan")), "finite"),
    (lambda b: b["far"]["per_domain"].update(web=b["far"]["overall"]), "not one of basis.domains"),
    (lambda b: b["pool"]["face_px"].update(min=60.0), "min <= p05 <= p50"),
    (lambda b: b["pool"].update(faces={}), "unknown key"),
    (lambda b: b.update(note=3), "note must be a string"),
    (lambda b: b.update(n_clips="9"), "integer"),
])
def test_malformed_basis_is_a_typed_error_naming_the_field(change, message):
    assert Calibration.from_dict(_calibration().to_dict()).basis  # well-formed: accepted
    with pytest.raises(CheckpointError, match=message):
        Calibration.from_dict(_broken(change), source="m.pt")


def test_clopper_pearson_edges():
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0
    lo, hi = clopper_pearson(5, 100)
    assert lo < 0.05 < hi


def test_shipped_starter_basis_is_well_formed_and_says_what_it_rests_on():
    """The starter's calibration loads with its basis (``avanomaly calibrate`` on the domain corpus's val split,
    314 clips of 57 people the starter never trained on, with the offset profile and the vote offset curve:
    docs/results.md "Domain corpus: the retrained starter", "The offset curve: a per-frame vote", "Session 32")."""
    from avanomaly.postprocess.modelfile import pretrained_path, read_model_file

    cal = Calibration.from_dict(read_model_file(pretrained_path("starter"))["calibration"])
    assert cal.n == 314 and cal.threshold == pytest.approx(1.713267528503595, abs=1e-12)
    b = cal.basis
    assert b["n_clips"] == 314 and b["n_speakers"] == 57
    assert b["domains"] == {"interview": 265, "lab": 5, "lowres": 2, "news": 4, "noisy": 1, "phone": 5, "web": 8,
                            "webcam": 24}
    assert b["far"]["method"] == "leave-speaker-out" and (b["far"]["overall"]["k"], b["far"]["overall"]["n"]) == (16, 314)
    assert cal.fusion["terms"] == ["nll", "sync", "offset", "profile"] and cal.curve == "vote"
    assert cal.profile["n_clips"] == 314 and cal.profile["n_speakers"] == 57
    assert set(b["pool"]) == {"face_px", "frame_height", "bits_per_pixel"}


def test_cap_per_speaker_keeps_at_most_n_spread_over_each_speakers_clips():
    from avanomaly.errors import ConfigError
    from avanomaly.postprocess.calibration import cap_per_speaker

    speakers = ["a"] * 9 + ["b", "c", "b"] + ["a"]  # a: 10 clips (indices 0-8 and 12), b: 2, c: 1
    keep = cap_per_speaker(speakers, 3)
    assert keep == sorted(keep) and [speakers[i] for i in keep].count("a") == 3
    assert [i for i in keep if speakers[i] == "a"] == [0, 4, 12]  # first, middle (4.5 rounded to even), last of a's clips
    assert [i for i in keep if speakers[i] != "a"] == [9, 10, 11]  # speakers under the cap keep every clip
    assert cap_per_speaker(speakers, 100) == list(range(len(speakers)))
    with pytest.raises(ConfigError, match=">= 1"):
        cap_per_speaker(speakers, 0)
    with pytest.raises(ConfigError, match="speaker label"):
        cap_per_speaker(["a", "", "b"], 2)
