"""Many files over processes (issue 23 item 3): ``score`` and ``evaluate`` spread files over worker processes by
default; scores are those of one in-process worker; rows stream to the resumable CSV; the table / JSON keep the
input order however rows finish."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from avanomaly.cli import cli
from avanomaly.postprocess.calibration import calibrate
from avanomaly.postprocess.modelfile import save_model_file
from avanomaly.scoring.testing import tiny_models

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: clips of different lengths (so they finish out of order in two workers: the longest is first)
N_FRAMES = (60, 25, 35)
#: scores of 1 and 2 workers agree to this (they are the same arithmetic on the same thread count)
SCORE_TOL = 1e-6


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from avanomaly.io.testing import moving_mouth_frame_fn, write_test_video

    root = tmp_path_factory.mktemp("score_workers")
    sync, ar, cfg = tiny_models(seed=1)
    model = save_model_file(root / "model.pt", sync, ar, cfg,
                            calibration=calibrate(np.linspace(0, 40, 21), target_fpr=0.1))
    vids = [str(write_test_video(root / f"w{i}.mp4", n_frames=n, size=(48, 48), frame_fn=moving_mouth_frame_fn))
            for i, n in enumerate(N_FRAMES)]
    return {"model": str(model), "vids": vids, "root": root}


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def _json(res) -> list[dict]:
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["results"]


def test_two_workers_score_exactly_as_one_in_input_order(clips, tmp_path):
    base = ["score", *clips["vids"], "--model", clips["model"], "--json"]
    one = _json(run(base + ["--workers", "1"]))
    two = _json(run(base + ["--workers", "2"]))
    assert [r["path"] for r in two] == clips["vids"] == [r["path"] for r in one]  # input order, not finish order
    for a, b in zip(one, two):
        assert b["status"] == "ok" and b["n_frames"] == a["n_frames"]
        assert b["score"] == pytest.approx(a["score"], abs=SCORE_TOL)
        assert np.allclose(b["frame_nll"], a["frame_nll"], atol=SCORE_TOL)


def test_two_workers_stream_the_csv_and_a_rerun_resumes(clips, tmp_path):
    out = tmp_path / "s.csv"
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    args = ["score", *clips["vids"], str(bad), "--model", clips["model"], "--csv", str(out), "--workers", "2"]
    res = run(args)
    assert res.exit_code == 3 and "bad.mp4" in res.stderr  # a bad file fails alone, in a worker
    with open(out, newline="") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {*clips["vids"], str(bad)} and rows[str(bad)]["status"] == "failed"
    assert all(rows[v]["status"] == "ok" for v in clips["vids"])
    table = res.stdout
    assert [table.index(f"w{i}.mp4") for i in range(3)] == sorted(table.index(f"w{i}.mp4") for i in range(3))
    res = run(args)  # resumes: only the failed file is tried again
    assert res.exit_code == 3 and "3 file(s) already scored there are skipped" in res.stderr
    assert "1 failed file(s) are tried again" in res.stderr


def test_workers_default_to_the_cores(clips, monkeypatch):
    """No --workers: as many processes as cores (the in-process seam is never called); --workers 1 uses it."""
    import avanomaly.scoring.commands as commands
    import avanomaly.utils as utils

    calls = []
    real = commands.score_file
    monkeypatch.setattr(commands, "score_file", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    monkeypatch.setattr(utils, "available_cores", lambda: 2)
    two = _json(run(["score", *clips["vids"][:2], "--model", clips["model"], "--json"]))
    assert calls == [] and [r["status"] for r in two] == ["ok", "ok"]
    _json(run(["score", *clips["vids"][:2], "--model", clips["model"], "--json", "--workers", "1"]))
    assert calls == clips["vids"][:2]


def test_available_cores_follows_the_affinity(monkeypatch):
    import os

    from avanomaly.utils import available_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert available_cores() == 3


def test_evaluate_spreads_clips_over_the_cores_by_default_and_matches_one_worker(clips, tmp_path, monkeypatch):
    """``evaluate`` without --workers uses one process per core, through the pool of ``score``, and gives the
    scores of ``--workers 1``."""
    import pandas as pd

    import avanomaly.scoring.pool as pool
    import avanomaly.utils as utils

    monkeypatch.setattr(utils, "available_cores", lambda: 2)
    pools = []
    real_pool = pool.scoring_pool
    monkeypatch.setattr(pool, "scoring_pool", lambda paths, workers, *a, **k: pools.append(workers)
                        or real_pool(paths, workers, *a, **k))
    manifest = tmp_path / "m.csv"
    labels = ("real", "fake", "real")
    cats = ("RealVideo-RealAudio", "FakeVideo-FakeAudio", "RealVideo-RealAudio")
    manifest.write_text("path,label,category,method,identity,split\n" + "".join(
        f"{v},{lab},{c},{'real' if lab == 'real' else 'wav2lip'},id{i},test\n"
        for i, (v, lab, c) in enumerate(zip(clips["vids"], labels, cats))))
    scores = {}
    for name, extra in (("default", []), ("one", ["--workers", "1"])):
        out = tmp_path / name
        res = run(["evaluate", "--model", clips["model"], "--data", str(manifest), "--out", str(out),
                   "--bootstrap", "0", "--no-trimmed", "--quiet", *extra])
        assert res.exit_code == 0, res.output
        df = pd.read_csv(out / "detailed_results.csv")
        assert list(df["path"]) == clips["vids"]
        scores[name] = df["score"].to_numpy()
    assert pools == [2]  # the default run used a 2-process pool, --workers 1 none
    assert np.allclose(scores["default"], scores["one"], atol=SCORE_TOL)
