"""The out-of-domain rule (postprocess/domain.py) on synthetic numbers, the facts a scored clip carries, and the
`calibrate` command's warnings and basis."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from avanomaly.cli import cli
from avanomaly.postprocess import domain
from avanomaly.postprocess.domain import clip_facts, out_of_domain, pool_ranges

NAN = float("nan")
# a pool like the starter's: smallest face 50 px, lowest frame 256 px, fewest 0.034 bits per decoded pixel
POOL = pool_ranges([{"face_px": 50.0 + i, "frame_height": 256.0 + 100 * i, "bits_per_pixel": 0.034 + 0.01 * i}
                    for i in range(7)])
NORMAL = {"face_px": 45.0, "frame_height": 224.0, "bits_per_pixel": 0.1}


def test_pool_ranges():
    assert POOL["face_px"] == {"n": 7, "min": 50.0, "p05": pytest.approx(50.3), "p50": 53.0}
    assert pool_ranges([{"face_px": NAN, "frame_height": 90.0, "bits_per_pixel": NAN}]) == {
        "frame_height": {"n": 1, "min": 90.0, "p05": 90.0, "p50": 90.0}}


def test_normal_clip_gives_nothing():
    assert out_of_domain(NORMAL, POOL) == ([], [])
    # a 160 px LRS2-style crop with a 32 px face is inside (>= half the pool's minimum and above the floors)
    assert out_of_domain({"face_px": 32.0, "frame_height": 160.0, "bits_per_pixel": 0.26}, POOL) == ([], [])


@pytest.mark.parametrize("fact, value, reasons", [
    ("face_px", 24.0, []),  # below half the pool's smallest face (25)
    ("face_px", 9.0, ["face-too-small"]),  # below the hard floor
    ("frame_height", 144.0, []),  # at the absolute 144 p floor
    ("frame_height", 90.0, ["low-resolution"]),  # a 160x90 copy
    ("bits_per_pixel", 0.005, []),  # heavy compression: a warning, never an abstention
])
def test_each_fact_warns_below_its_limit(fact, value, reasons):
    warnings, got = out_of_domain({**NORMAL, fact: value}, POOL)
    assert len(warnings) == 1 and "out of domain" in warnings[0] and got == reasons


def test_a_low_pool_moves_the_rule_and_nothing_inside_it_is_flagged():
    low = {"face_px": 9.0, "frame_height": 90.0, "bits_per_pixel": 0.004}
    assert out_of_domain(low, pool_ranges([low])) == ([], [])  # calibrated on such clips: they are in domain
    low_pool = pool_ranges([{"face_px": 12.0, "frame_height": 100.0, "bits_per_pixel": 0.004}])
    warnings, reasons = out_of_domain({"face_px": 11.0, "frame_height": 99.0, "bits_per_pixel": 0.003}, low_pool)
    assert len(warnings) == 3 and reasons == []  # below the pool and the floors, above half the pool
    assert out_of_domain({**NORMAL, "face_px": 9.0}, low_pool)[1] == ["face-too-small"]


def test_unmeasured_facts_and_a_pool_without_ranges_say_nothing():
    assert out_of_domain({"face_px": NAN, "frame_height": NAN, "bits_per_pixel": NAN}, POOL) == ([], [])
    tiny = {"face_px": 5.0, "frame_height": 48.0, "bits_per_pixel": 0.001}
    assert out_of_domain(tiny, None) == ([], [])  # nothing recorded: nothing to be outside of
    warnings, reasons = out_of_domain(tiny, {"face_px": POOL["face_px"]})
    assert len(warnings) == 1 and reasons == ["face-too-small"]


def test_clip_facts_from_stream_info_and_container():
    info = {"frame_height": 288, "frame_width": 512, "face_px": 37.0}
    f = clip_facts(info, {"frame_height": 1080.0, "bits_per_frame": 288 * 512 * 0.5})
    assert f == {"face_px": 37.0, "frame_height": 1080.0, "bits_per_pixel": pytest.approx(0.5)}
    f = clip_facts(info, None)  # an in-memory clip: the decoded height, no bits
    assert f["frame_height"] == 288.0 and math.isnan(f["bits_per_pixel"])


def test_media_facts_of_a_written_file(tmp_path):
    from avanomaly.io.testing import write_test_video

    path = write_test_video(tmp_path / "v.mp4", n_frames=10, size=(64, 48))
    m = domain.media_facts(path)
    assert m["frame_height"] == 48.0 and m["bits_per_frame"] > 0
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 10)
    assert all(math.isnan(v) for v in domain.media_facts(bad).values())  # never raises


def test_scored_clip_carries_facts_and_the_calibration_basis(tmp_path):
    from avanomaly.io.testing import moving_mouth_frame_fn, write_test_video
    from avanomaly.postprocess.calibration import calibrate_terms
    from avanomaly.scoring.testing import tiny_detector

    rows = [{"nll": 3.0 + 0.1 * i, "sync": -0.1, "offset": 0.0} for i in range(6)]
    pool = [{"face_px": 20.0, "frame_height": 480.0, "bits_per_pixel": 0.05}] * 6
    cal = calibrate_terms(rows, 0.05, speakers=list("aabbcc"), facts=pool)
    det = tiny_detector(calibration=cal)
    path = write_test_video(tmp_path / "v.mp4", n_frames=40, size=(64, 64), frame_fn=moving_mouth_frame_fn)
    d = det.anomaly_score(str(path)).to_dict()
    assert d["input"]["frame_height"] == 64.0 and d["input"]["bits_per_pixel"] > 0
    assert d["calibration_basis"]["n_clips"] == 6 and d["calibration_basis"]["n_speakers"] == 3
    assert d["verdict"] == "unknown" and "low-resolution" in d["abstain"]  # 64 px high against a 480 px pool
    assert any("lower resolution than the model was calibrated on" in w for w in d["warnings"])
    json.dumps(d)  # JSON-safe


# --------------------------------------------------------------------------------------- the calibrate command
@pytest.fixture()
def clips(tmp_path, tiny_model):
    from avanomaly.io.testing import moving_mouth_frame_fn, write_test_video

    model = tmp_path / "model.pt"
    model.write_bytes(tiny_model.read_bytes())
    vids = [write_test_video(tmp_path / f"v{i}.mp4", n_frames=30 + 5 * i, size=(48, 48),
                             frame_fn=moving_mouth_frame_fn) for i in range(3)]
    return model, vids


def _calibrate(model, manifest):
    return CliRunner().invoke(cli, ["calibrate", "--model", str(model), "--data", str(manifest)],
                              catch_exceptions=False)


def test_calibrate_warns_on_few_clips_and_speakers_and_records_the_basis(clips, tmp_path):
    model, vids = clips
    manifest = tmp_path / "m.csv"
    rows = [f"{v},real,RealVideo-RealAudio,real,{spk},val,{dom}" for v, spk, dom in
            zip(vids, ("ann", "ann", "bob"), ("studio", "phone", "phone"))]
    manifest.write_text("path,label,category,method,identity,split,domain\n" + "\n".join(rows) + "\n")
    res = _calibrate(model, manifest)
    assert res.exit_code == 0, res.output
    lines = res.stderr.splitlines()
    assert sum("warning: only 3 real clips (< 30)" in x for x in lines) == 1
    assert sum("warning: only 2 speakers (< 10)" in x for x in lines) == 1
    basis = json.loads((tmp_path / "calibration.json").read_text())["basis"]
    assert basis["n_clips"] == 3 and basis["n_speakers"] == 2 and basis["domains"] == {"phone": 2, "studio": 1}
    assert basis["far"]["method"] == "leave-speaker-out" and set(basis["far"]["per_domain"]) == {"phone", "studio"}
    assert basis["pool"]["frame_height"]["min"] == 48.0
    assert "threshold rests on 3 real clip(s) of 2 speaker(s)" in res.stdout
    # the score table's footer says it too
    out = CliRunner().invoke(cli, ["score", str(vids[0]), "--model", str(model), "--workers", "1"])
    assert out.exit_code == 0 and "threshold rests on 3 real clip(s) of 2 speaker(s)" in out.stdout
