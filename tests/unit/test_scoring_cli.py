"""`avanomaly score` / `avanomaly calibrate` with a tiny random model file: outputs, schema, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from avanomaly.cli import cli
from avanomaly.cli_common import EXIT_SOME_FAILED, EXIT_TERMINATED, EXIT_USAGE
from avanomaly.postprocess.calibration import calibrate
from avanomaly.scoring.detector import Detector
from avanomaly.postprocess.modelfile import save_model_file
from avanomaly.scoring.output import CSV_COLUMNS
from avanomaly.scoring.result import SCHEMA_VERSION
from avanomaly.scoring.result import RESULT_KEYS
from avanomaly.scoring.testing import tiny_models


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from avanomaly.io.testing import moving_mouth_frame_fn, speech_like_fn, write_test_video

    root = tmp_path_factory.mktemp("score_cli")
    sync, ar, cfg = tiny_models(seed=0)
    model = save_model_file(root / "run" / "model.pt", sync, ar, cfg,
                            calibration=calibrate(np.linspace(0, 40, 21), target_fpr=0.1))
    vids = [write_test_video(root / f"v{i}.mp4", n_frames=30 + 10 * i, size=(48, 48), frame_fn=moving_mouth_frame_fn,
                             audio_fn=speech_like_fn(seed=i)) for i in range(2)]  # speech: verdicts, not "unknown"
    bad = root / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    return {"root": root, "model": model, "vids": [str(v) for v in vids], "bad": str(bad)}


def run(args, **kw):
    """The CLI in this process; ``score`` on the in-process path (``--workers 1``: the score_file seam these tests
    patch, and no pool start-up per test) unless the test chooses workers (tests/unit/test_score_workers.py)."""
    if args[:1] == ["score"] and "--workers" not in args:
        args = [*args, "--workers", "1"]
    return CliRunner().invoke(cli, args, catch_exceptions=False, **kw)


def test_score_table_json_csv(files, tmp_path):
    res = run(["score", *files["vids"], "--model", str(files["model"]), "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "v0.mp4" in res.output and "v1.mp4" in res.output and "verdict" in res.output

    res = run(["score", *files["vids"], "--model", str(files["model"].parent), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == SCHEMA_VERSION and len(doc["results"]) == 2
    for r, n in zip(doc["results"], (30, 40)):
        assert tuple(r) == RESULT_KEYS and r["n_frames"] == n and len(r["frame_nll"]) == n - 1
        assert r["verdict"] in ("real", "fake") and 0 <= r["percentile"] <= 100

    out = tmp_path / "s.csv"
    res = run(["score", *files["vids"], "--model", str(files["model"]), "--csv", str(out), "--threshold", "1e9"])
    assert res.exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == CSV_COLUMNS and [r["verdict"] for r in rows] == ["real", "real"]


def test_bad_file_is_reported_and_others_scored(files):
    res = run(["score", files["vids"][0], files["bad"], "--model", str(files["model"]), "--json"])
    assert res.exit_code == EXIT_SOME_FAILED
    doc = json.loads(res.stdout)
    assert [r["status"] for r in doc["results"]] == ["ok", "failed"]
    assert doc["results"][1]["reason"] and "bad.mp4" in res.stderr


def test_aggregation_override(files):
    base = run(["score", files["vids"][1], "--model", str(files["model"]), "--json"])
    mx = run(["score", files["vids"][1], "--model", str(files["model"]), "--json", "--aggregation", "max_window_mean",
              "--window", "3", "--skip-seconds", "0"])
    a, b = json.loads(base.stdout)["results"][0], json.loads(mx.stdout)["results"][0]
    assert b["aggregation"]["method"] == "max_window_mean" and b["aggregation"]["skip_seconds"] == 0
    assert b["score"] == pytest.approx(max(np.convolve(b["frame_nll"], np.ones(3) / 3, "valid")))
    assert a["frame_nll"] == pytest.approx(b["frame_nll"])


def test_model_errors_exit_2(files, tmp_path, monkeypatch):
    res = run(["score", files["vids"][0], "--model", str(tmp_path / "missing.pt")])
    assert res.exit_code == EXIT_USAGE and "missing.pt" in res.output
    # $AVANOMALY_MODEL is the default model when set (else the shipped starter model, tests/integration)
    monkeypatch.setenv("AVANOMALY_MODEL", str(tmp_path / "env-missing.pt"))
    res = run(["score", files["vids"][0]])
    assert res.exit_code == EXIT_USAGE and "env-missing.pt" in res.output
    monkeypatch.setenv("AVANOMALY_MODEL", str(files["model"]))
    res = run(["score", files["vids"][0], "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["model_file"] == str(files["model"])
    # a shipped model is not re-calibrated in place
    manifest = tmp_path / "real.csv"
    manifest.write_text(f"path,label,category,method,identity,split\n{files['vids'][0]},real,RealVideo-RealAudio,real,a,val\n")
    res = run(["calibrate", "--model", "starter", "--data", str(manifest)])
    assert res.exit_code == EXIT_USAGE and "copy" in res.output


def test_plot_writes_png(files, tmp_path):
    res = run(["score", files["vids"][1], "--model", str(files["model"]), "--plot", str(tmp_path / "plots")])
    assert res.exit_code == 0, res.output
    pngs = list((tmp_path / "plots").glob("*.png"))
    assert len(pngs) == 1 and pngs[0].stat().st_size > 5000


def test_calibrate_command_real_only(files, tmp_path):
    model = tmp_path / "model.pt"
    model.write_bytes(files["model"].read_bytes())
    manifest = tmp_path / "m.csv"
    rows = [f"{files['vids'][0]},real,RealVideo-RealAudio,real,id0,val",
            f"{files['vids'][1]},real,RealVideo-RealAudio,real,id1,val",
            f"{files['bad']},fake,FakeVideo-RealAudio,wav2lip,id0,val"]
    manifest.write_text("path,label,category,method,identity,split\n" + "\n".join(rows) + "\n")
    res = run(["calibrate", "--model", str(model), "--data", str(manifest)])
    assert res.exit_code == EXIT_USAGE and "--real-only" in res.output  # fakes refused
    res = run(["calibrate", "--model", str(model), "--data", str(manifest), "--real-only", "--target-fpr", "0.5"])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "calibration.json").read_text())
    assert saved["n"] == 2 and saved["target_fpr"] == 0.5 and "1 non-real" in saved["notes"]
    d = Detector.from_pretrained(model, device="cpu")  # calibration stored inside the model file too
    assert d.calibration.n == 2 and d.threshold == pytest.approx(min(saved["reference_scores"]))
    assert saved["curve"] == "cosine" and d.curve == "cosine"  # the model's curve is kept unless --curve says
    res = run(["calibrate", "--model", str(model), "--data", str(manifest), "--real-only", "--curve", "vote"])
    assert res.exit_code == 0 and "offset curve: vote" in res.output, res.output
    assert json.loads((tmp_path / "calibration.json").read_text())["curve"] == "vote"
    assert Detector.from_pretrained(model, device="cpu").curve == "vote"
    res = run(["calibrate", "--model", str(model), "--data", str(manifest), "--real-only"])
    assert res.exit_code == 0 and "offset curve: vote" in res.output, res.output  # kept



def test_calibrate_max_per_speaker_caps_the_pool_and_needs_identities(files, tmp_path):
    model = tmp_path / "model.pt"
    model.write_bytes(files["model"].read_bytes())
    manifest = tmp_path / "m.csv"
    a, b = files["vids"]
    copies = [tmp_path / f"a{i}.mp4" for i in range(3)]  # 3 clips of id0
    for c in copies:
        c.write_bytes(Path(a).read_bytes())
    rows = [f"{c},real,RealVideo-RealAudio,real,id0,val" for c in copies] + [f"{b},real,RealVideo-RealAudio,real,id1,val"]
    manifest.write_text("path,label,category,method,identity,split\n" + "\n".join(rows) + "\n")
    res = run(["calibrate", "--model", str(model), "--data", str(manifest), "--max-per-speaker", "1",
               "--target-fpr", "0.5"])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "calibration.json").read_text())
    assert saved["n"] == 2 and saved["basis"]["n_speakers"] == 2  # 3 clips of id0 capped to 1, id1's kept
    assert "at most 1 clips per speaker: 2 of 4" in saved["notes"]
    manifest.write_text("path,label,category,method,identity,split\n"
                        f"{a},real,RealVideo-RealAudio,real,,val\n{b},real,RealVideo-RealAudio,real,id1,val\n")
    res = run(["calibrate", "--model", str(model), "--data", str(manifest), "--max-per-speaker", "1"])
    assert res.exit_code == EXIT_USAGE and "identity" in res.output


def test_calibrate_help_names_the_default_terms():
    from avanomaly.postprocess.fusion import DEFAULT_TERMS

    res = run(["calibrate", "--help"])
    text = " ".join(res.output.split())
    assert f"[{','.join(DEFAULT_TERMS)}]" in text and "[both]" not in text


def test_precision_bf16_option(files):
    res = run(["score", files["vids"][0], "--model", str(files["model"]), "--json", "--precision", "bf16"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)["results"][0]
    assert r["status"] == "ok" and any("bf16" in w for w in r["warnings"])
    assert run(["score", files["vids"][0], "--model", str(files["model"]), "--precision", "fp16"]).exit_code == 2


def test_folders_are_expanded_and_an_empty_one_is_a_usage_error(files, tmp_path):
    res = run(["score", str(files["root"]), "--model", str(files["model"]), "--json"])
    doc = json.loads(res.stdout)
    names = sorted(Path(r["path"]).name for r in doc["results"])
    assert names == ["bad.mp4", "v0.mp4", "v1.mp4"]  # recursive, video extensions only; the bad one is reported
    assert res.exit_code == EXIT_SOME_FAILED
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run(["score", str(empty), "--model", str(files["model"])])
    assert res.exit_code == 2 and "no video files" in res.output


# ------------------------------------------------------------------------ resumable --csv, long paths, long text
#: files of the resumable batch and the file after which the first run is interrupted
N_BATCH = 4
N_BEFORE_INTERRUPT = 2
#: bytes over the file system's file-name limit used for an overlong name
OVER_NAME_MAX = 45


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from avanomaly.io.testing import moving_mouth_frame_fn, speech_like_fn, write_test_video

    root = tmp_path_factory.mktemp("batch")
    return [str(write_test_video(root / f"b{i}.mp4", n_frames=30 + 5 * i, size=(48, 48), frame_fn=moving_mouth_frame_fn,
                                 audio_fn=speech_like_fn(seed=i))) for i in range(N_BATCH)]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _interrupt_after(monkeypatch, n):
    """The seam: the CLI scores through commands.score_file; the (n+1)-th call raises KeyboardInterrupt."""
    import avanomaly.scoring.commands as commands

    real, calls = commands.score_file, {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(commands, "score_file", flaky)


def test_interrupted_csv_keeps_finished_rows_and_a_rerun_resumes(files, batch, tmp_path, monkeypatch):
    from avanomaly.cli_common import EXIT_INTERRUPTED

    out = tmp_path / "s.csv"
    args = ["score", *batch, "--model", str(files["model"]), "--csv", str(out)]
    with monkeypatch.context() as m:
        _interrupt_after(m, N_BEFORE_INTERRUPT)
        res = run(args)
    assert res.exit_code == EXIT_INTERRUPTED and "run the same command again to resume" in res.stderr
    rows = _rows(out)  # the finished rows are on disk, complete
    assert [r["path"] for r in rows] == batch[:N_BEFORE_INTERRUPT] and all(r["status"] == "ok" for r in rows)

    res = run(args)
    assert res.exit_code == 0, res.output
    assert f"{N_BEFORE_INTERRUPT} file(s) already scored there are skipped" in res.stderr
    assert f"[{N_BEFORE_INTERRUPT + 1}/{N_BATCH}]" in res.stderr and f"[1/{N_BATCH}]" not in res.stderr
    rows = _rows(out)
    assert [r["path"] for r in rows] == batch  # every file exactly once

    fresh = tmp_path / "fresh.csv"
    assert run(["score", *batch, "--model", str(files["model"]), "--csv", str(fresh)]).exit_code == 0
    assert [r["score"] for r in _rows(fresh)] == [r["score"] for r in rows]  # resumed = uninterrupted

    res = run(args)  # nothing left to do
    assert res.exit_code == 0 and f"{N_BATCH} file(s) already scored there are skipped" in res.stderr
    assert len(_rows(out)) == N_BATCH


def test_resume_drops_a_half_written_row_rescores_changed_and_failed_files(files, batch, tmp_path):
    import os

    out = tmp_path / "s.csv"
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    args = ["score", batch[0], str(bad), batch[1], "--model", str(files["model"]), "--csv", str(out)]
    assert run(args).exit_code == EXIT_SOME_FAILED
    rows = _rows(out)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"] and rows[1]["reason"]  # failures are rows too
    text = out.read_text()
    out.write_text(text[:text.rindex(batch[1])] + batch[1] + ",o")  # killed while writing the last row
    st = os.stat(batch[0])
    os.utime(batch[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # the 1st file changed since its row
    res = run(args)
    assert res.exit_code == EXIT_SOME_FAILED
    assert "1 failed file(s) are tried again" in res.stderr and "1 changed file(s) are scored again" in res.stderr
    assert "incomplete last row" in res.stderr
    rows = _rows(out)
    assert sorted(r["path"] for r in rows) == sorted([*batch[:2], str(bad)])  # one row per file, none half
    assert {r["path"]: r["status"] for r in rows}[str(bad)] == "failed"


def test_resume_refuses_other_settings_and_overwrite_starts_again(files, batch, tmp_path):
    out = tmp_path / "s.csv"
    base = ["score", batch[0], "--model", str(files["model"]), "--csv", str(out)]
    assert run(base).exit_code == 0
    before = out.read_bytes()
    res = run(base + ["--threshold", "1e9"])
    assert res.exit_code == EXIT_USAGE and "other scoring settings" in res.output
    assert out.read_bytes() == before  # refused: nothing lost
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    res = run(["score", batch[0], "--model", str(files["model"]), "--csv", str(other)])
    assert res.exit_code == EXIT_USAGE and "--overwrite" in res.output and other.read_text() == "a,b\n1,2\n"
    res = run(base + ["--threshold", "1e9", "--overwrite"])
    assert res.exit_code == 0 and "skipped" not in res.stderr
    assert [r["verdict"] for r in _rows(out)] == ["real"]


def test_csv_to_stdout_streams_rows(files, batch):
    res = run(["score", *batch[:2], "--model", str(files["model"]), "--csv", "-"])
    assert res.exit_code == 0
    rows = list(csv.DictReader(res.stdout.splitlines()))
    assert tuple(rows[0]) == CSV_COLUMNS and [r["path"] for r in rows] == batch[:2]


def test_overlong_path_is_a_per_file_failure(files, batch, tmp_path):
    from avanomaly.errors import PathTooLongError
    from avanomaly.utils import name_max

    long = tmp_path / ("x" * (name_max(tmp_path) + OVER_NAME_MAX) + ".mp4")
    out = tmp_path / "s.csv"
    res = run(["score", str(long), batch[0], "--model", str(files["model"]), "--csv", str(out)])
    assert res.exit_code == EXIT_SOME_FAILED
    rows = _rows(out)
    assert [r["status"] for r in rows] == ["failed", "ok"]  # the batch went on
    assert rows[0]["reason"] == PathTooLongError.reason and "NAME_MAX" in rows[0]["message"]
    assert "Traceback" not in res.output


def test_a_huge_manifest_field_is_quoted_short_on_stderr(files, tmp_path):
    from avanomaly.errors import MAX_MESSAGE_CHARS

    huge = "y" * (100 * MAX_MESSAGE_CHARS)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{huge},real\n{files['vids'][0]},real\n")
    res = run(["score", str(manifest), "--model", str(files["model"]), "--csv", str(tmp_path / "s.csv")])
    assert res.exit_code == EXIT_SOME_FAILED and "characters left out" in res.stderr
    assert len(res.stderr) < 4 * MAX_MESSAGE_CHARS and len(res.stdout) < 4 * MAX_MESSAGE_CHARS


def test_folder_scan_lists_what_it_does_not_read(files, tmp_path):
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(files["vids"][0], folder / "clip.mp4")
    (folder / "voice.m4a").write_bytes(b"x")
    res = run(["score", str(folder), "--model", str(files["model"]), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [r["path"] for r in doc["results"]] == [str(folder / "clip.mp4")]
    assert doc["not_read"] == [{"path": str(folder / "voice.m4a"),
                                "reason": "audio-only file (.m4a): audio-visual scoring needs a video track"}]
    assert "voice.m4a" in res.stderr and "audio-only" in res.stderr


def test_sigterm_keeps_finished_rows_and_says_how_to_resume(files, batch, tmp_path, monkeypatch):
    """A real SIGTERM to this process during the 3rd file: exit 143, the 2 finished rows are on disk, the message
    names the CSV; a re-run resumes."""
    import os
    import signal

    import avanomaly.scoring.commands as commands

    real, calls = commands.score_file, {"n": 0}

    def terminated_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # handled by the command's handler (this is the main thread)
        return real(*args, **kwargs)

    monkeypatch.setattr(commands, "score_file", terminated_on_third)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "s.csv"
    res = run(["score", *batch, "--model", str(files["model"]), "--csv", str(out)])
    assert res.exit_code == EXIT_TERMINATED
    assert "interrupted by SIGTERM" in res.stderr and str(out) in res.stderr and "resume" in res.stderr
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is restored
    assert len(_rows(out)) == 2
    monkeypatch.setattr(commands, "score_file", real)
    res = run(["score", *batch, "--model", str(files["model"]), "--csv", str(out)])
    assert res.exit_code == 0 and len(_rows(out)) == len(batch)


#: what the core never needs: each is an extra (or was a dependency nothing imported)
OPTIONAL_PACKAGES = ("lightning", "pytorch_lightning", "efficientnet_pytorch", "mambapy", "mamba_ssm", "fastapi",
                     "uvicorn", "safetensors", "torchvision", "torchaudio")


def test_import_and_score_need_no_optional_package(files):
    """`import avanomaly` and `avanomaly score` run with every optional package made unimportable."""
    import subprocess
    import sys

    code = ("import sys\n"
            f"for name in {OPTIONAL_PACKAGES!r}:\n"
            "    sys.modules[name] = None  # any import of it now fails\n"
            "import avanomaly\n"
            "from avanomaly.cli import main\n"
            "main(sys.argv[1:])\n")
    proc = subprocess.run([sys.executable, "-c", code, "score", files["vids"][0], "--model", str(files["model"]),
                           "--json", "--threads", "1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["verdict"] in ("real", "fake")


def test_max_seconds_refuses_long_files_per_file(files, tmp_path):
    """--max-seconds: a file over the limit is a per-file failure (too-long); the others are scored."""
    from avanomaly.io.testing import moving_mouth_frame_fn, write_test_video

    long = write_test_video(tmp_path / "long.mkv", n_frames=100, size=(48, 48), frame_fn=moving_mouth_frame_fn,
                            streamed=True)  # no container duration: only decoding can tell its length
    res = run(["score", files["vids"][0], str(long), "--model", str(files["model"]), "--json", "--max-seconds", "2"])
    assert res.exit_code == EXIT_SOME_FAILED
    by_path = {r["path"]: r for r in json.loads(res.stdout)["results"]}
    assert by_path[files["vids"][0]]["status"] == "ok"
    assert by_path[str(long)]["status"] == "failed" and by_path[str(long)]["reason"] == "too-long"


def test_two_runs_cannot_write_the_same_csv(files, tmp_path):
    from avanomaly.scoring.resume import ScoreCSV

    out = tmp_path / "s.csv"
    holder = ScoreCSV(out, CSV_COLUMNS, "settings")
    holder.open([files["vids"][0]])
    try:
        res = run(["score", files["vids"][0], "--model", str(files["model"]), "--csv", str(out)])
        assert res.exit_code == EXIT_USAGE and "another avanomaly score run" in res.output
    finally:
        holder.close()
    res = run(["score", files["vids"][0], "--model", str(files["model"]), "--csv", str(out), "--overwrite"])
    assert res.exit_code == 0, res.output  # the lock is released with the first writer


def test_a_command_whose_module_cannot_be_imported_says_why(monkeypatch):
    """The lazy group turns an import failure into a command that explains itself (it used to raise NameError:
    the except block's ``exc`` is unbound by the time the command runs)."""
    from avanomaly import cli as cli_module

    monkeypatch.setitem(cli_module.COMMANDS, "ghost", ("avanomaly.no_such_module", "ghost", "a missing command"))
    res = CliRunner().invoke(cli, ["ghost"])
    assert res.exit_code == 1 and "command 'ghost' is unavailable" in res.output
    assert "no_such_module" in res.output and not isinstance(res.exception, NameError)
    assert "unavailable" in CliRunner().invoke(cli, ["ghost", "--help"]).output
