"""Limits that hold and messages that fit (issue 27 items 4, 7, 8): ``--max-seconds`` refuses from the declared
duration before decoding; per-event warnings (audio gaps) fold into one line per kind; messages shown by the
command line name no Python-only option."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from avanomaly.cli import cli
from avanomaly.errors import TooLongError
from avanomaly.io.testing import moving_mouth_frame_fn, write_test_video
from avanomaly.postprocess.calibration import calibrate
from avanomaly.cli_common import EXIT_SOME_FAILED
from avanomaly.postprocess.modelfile import save_model_file
from avanomaly.scoring.testing import tiny_models

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: the declared length of the "long" file and the limit it breaks (the issue's numbers)
DECLARED_S = 1200
LIMIT_S = 300
#: audio gaps written into the gappy clip: one every GAP_EVERY_S seconds, GAP_S long
N_GAPS = 30
GAP_EVERY_S = 0.25
GAP_S = 0.04
GAPPY_FRAMES = 250  # 10 s
#: Python-only options no command-line message may suggest
PYTHON_ONLY = ("allow_partial", "require_audio", "face_fallback=", "face_fallback='", "load_clip(")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    sync, ar, cfg = tiny_models(seed=0)
    model = save_model_file(root / "run" / "model.pt", sync, ar, cfg,
                            calibration=calibrate(np.linspace(0, 40, 21), target_fpr=0.1))
    # three frames at 0, 600 and ~1200 s: the container declares 1200 s, yet the file is a few KB
    declared = write_test_video(root / "declares_1200s.mp4", n_frames=3, vfr_pts=[0, DECLARED_S / 2, DECLARED_S - 0.04],
                                size=(48, 48), audio_duration=1.0)
    gappy = write_test_video(root / "gappy.mp4", n_frames=GAPPY_FRAMES, size=(48, 48), frame_fn=moving_mouth_frame_fn,
                             audio_gaps=[(GAP_EVERY_S * (k + 1), GAP_S) for k in range(N_GAPS)])
    return {"root": root, "model": str(model), "declared": str(declared), "gappy": str(gappy)}


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


# ------------------------------------------------------------------------------------------- --max-seconds
def test_the_test_file_declares_1200_s(files):
    from avanomaly.io import probe

    assert probe(files["declared"])["duration"] == pytest.approx(DECLARED_S, abs=0.1)


def test_score_max_seconds_refuses_a_declared_long_file_before_decoding(files, decoded_frames):
    res = run(["score", files["declared"], "--model", files["model"], "--json", "--max-seconds", str(LIMIT_S)])
    assert res.exit_code == EXIT_SOME_FAILED, res.output
    (row,) = json.loads(res.stdout)["results"]
    assert row["status"] == "failed" and row["reason"] == "too-long", row
    assert f"{DECLARED_S:.1f} s" in row["message"] and f"{LIMIT_S:g} s" in row["message"]
    assert decoded_frames == []  # not one frame decoded (today's main decodes 300 s first)


def test_decoder_refuses_from_the_declared_duration_and_counts_from_start(files):
    from avanomaly.io import iter_clip_chunks

    with pytest.raises(TooLongError, match="before decoding"):
        next(iter_clip_chunks(files["declared"], max_seconds=LIMIT_S))
    # only 10 s wanted: the declared length does not matter, the decoder's count does
    n = sum(c.n_frames for c in iter_clip_chunks(files["declared"], max_seconds=LIMIT_S, duration=10))
    assert n == 250


def test_check_length_is_the_rule_the_service_uses(files):
    from avanomaly.io.decode import DECLARED_SLACK_S, check_length

    with pytest.raises(TooLongError) as info:
        check_length(files["declared"], LIMIT_S)
    assert info.value.reason == "too-long"
    check_length(files["declared"], DECLARED_S)  # at the limit: fine
    check_length(files["declared"], DECLARED_S - DECLARED_SLACK_S / 2)  # within the slack: left to decoding
    check_length(files["declared"], None)


# ------------------------------------------------------------------------------------------- folded warnings
def _gap_lines(warnings) -> list[str]:
    return [w for w in warnings if "audio gap" in w]


def test_many_audio_gaps_fold_into_one_line_everywhere(files, tmp_path):
    from avanomaly.io import load_clip

    clip = load_clip(files["gappy"])
    (line,) = _gap_lines(clip.warnings)
    assert f"{N_GAPS} times" in line and f"largest {GAP_S * 1000:.0f} ms" in line and "first at" in line

    res = run(["score", files["gappy"], "--model", files["model"], "--json"])
    assert res.exit_code == 0, res.output
    (result,) = json.loads(res.stdout)["results"]
    assert _gap_lines(result["warnings"]) == [line]

    out = tmp_path / "s.csv"
    assert run(["score", files["gappy"], "--model", files["model"], "--csv", str(out)]).exit_code == 0
    with open(out, newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["warnings"].count("audio gap") == 1 and line in row["warnings"]

    table = run(["score", files["gappy"], "--model", files["model"]])
    assert table.exit_code == 0 and table.output.count("audio gap") == 1


def test_fold_warnings_keeps_order_singles_and_merges_folded_lines():
    from avanomaly.io.decode import fold_warnings

    gaps = [f"audio gap of {40 + i} ms at {1.0 + i:.2f} s filled with zeros" for i in range(10)]
    other = "variable frame rate: source frame intervals range 30.0-50.0 ms (median 40.0 ms); frames resampled"
    folded = fold_warnings([other, *gaps, "short clip (0.80 s < 1.0 s)"])
    assert folded == [other, "audio gaps filled with zeros: 10 times (first at 1.00 s, largest 49 ms, 445 ms in all)",
                      "short clip (0.80 s < 1.0 s)"]
    assert fold_warnings(fold_warnings(gaps[:4]) + fold_warnings(gaps[4:])) == fold_warnings(gaps)
    assert fold_warnings(gaps[:1]) == gaps[:1]  # one event: its own line
    alike = [f"audio format changed mid-stream ({r} Hz, mono); resampler restarted" for r in (8000, 16000, 8000)]
    assert fold_warnings(alike) == [f"{alike[0]} (and 2 more like it)"]


# ------------------------------------------------------------------------------------------- CLI messages
def test_score_messages_name_no_python_only_option(files, tmp_path):
    mute = write_test_video(tmp_path / "mute.mp4", n_frames=30, size=(48, 48), audio_rate=None)
    whole = write_test_video(tmp_path / "whole.mp4", n_frames=50, size=(48, 48),
                             container_options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # fails part-way through decoding
    res = run(["score", str(mute), str(cut), "--model", files["model"], "--json"])
    assert res.exit_code == EXIT_SOME_FAILED
    rows = {r["path"]: r for r in json.loads(res.stdout)["results"]}
    assert rows[str(mute)]["reason"] == "no-audio" and rows[str(cut)]["reason"] == "corrupt", rows
    for text in (res.stdout, res.stderr):
        assert not [o for o in PYTHON_ONLY if o in text], text


def test_python_callers_still_get_the_python_hint(tmp_path):
    from avanomaly.errors import NoAudioError
    from avanomaly.io import load_clip

    mute = write_test_video(tmp_path / "mute.mp4", n_frames=10, size=(48, 48), audio_rate=None)
    with pytest.raises(NoAudioError) as info:
        load_clip(mute)
    assert "require_audio=False" in str(info.value) and "require_audio" not in info.value.message


def test_preprocess_no_face_failure_names_the_cli_flag(tmp_path):
    faceless = write_test_video(tmp_path / "faceless.mp4", n_frames=30, size=(48, 48))
    res = CliRunner().invoke(cli, ["preprocess", str(faceless), "--out", str(tmp_path / "cache"), "--no-progress"])
    assert res.exit_code == 1 and "no-face" in res.output, res.output
    assert "--face-fallback center" in res.output
    assert not [o for o in PYTHON_ONLY if o in res.output], res.output
