"""Rows streamed to CSV as files finish (issue 23, item 3): ``evaluate``'s detailed_results.csv and
``preprocess``'s failures.csv go through the one crash-safe writer (``avanomaly.utils.AppendCSV``), so a killed
run leaves a valid CSV of what finished, a rerun writes no row twice, and a finished run's file is the one an
unstreamed run writes."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from avanomaly.errors import FileBusyError
from avanomaly.evaluation.detailed import DETAILED_FILE
from avanomaly.evaluation.pipeline import evaluate_model
from avanomaly.evaluation.scorers import _REGISTRY, Scorer, register_scorer
from avanomaly.utils import AppendCSV

N_CLIPS = 6


class Killed(BaseException):
    """Stands for the run being killed (not an Exception: nothing on the way may swallow it)."""


def _rows(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _manifest(tmp_path):
    labels = ["real"] * (N_CLIPS // 2) + ["fake"] * (N_CLIPS // 2)
    path = tmp_path / "m.csv"
    pd.DataFrame(dict(path=[f"/x/{i}.mp4" for i in range(N_CLIPS)], label=labels,
                      category=["RealVideo-RealAudio" if lab == "real" else "FakeVideo-RealAudio" for lab in labels],
                      method=["real" if lab == "real" else "wav2lip" for lab in labels],
                      identity=[f"id{i}" for i in range(N_CLIPS)], split="test",
                      trimmed=np.linspace(0.0, 0.5, N_CLIPS))).to_csv(path, index=False)
    return path


def _row(i: int, p, trim: bool) -> dict:
    if i == 1:  # one failure, kept as a row
        return dict(path=p, score=float("nan"), status="failed", error="no-face: none found", warnings="")
    return dict(path=p, score=i / 7 + (0.01 if trim else 0.0), verdict="fake" if i > 2 else "real", threshold=0.4,
                offset=i - 2, confidence=1.5, face_rate=1.0, trimmed_seconds=0.04 * trim, status="ok", error="",
                warnings="w" if i == 4 else "")


class _Scorer(Scorer):
    """Scores clip i as i / 7, finishing them in reverse order; ``store`` plays the score cache (kept across
    runs: a cached clip finishes at once and is not scored again); ``kill_after`` rows, the run is killed."""

    name = "test-streaming"
    store: dict = {}
    scored: list = []
    kill_after = None
    on_disk: list = []  # data rows in detailed_results.csv each time a row is reported

    def __init__(self, out=None, **kwargs):
        self.out = out

    def score_many(self, paths, trim_leading_silence=False, on_row=None):
        rows = {}
        for i in reversed(range(len(paths))):
            key = (paths[i], trim_leading_silence)
            if key not in self.store:
                if self.kill_after is not None and len(type(self).scored) >= self.kill_after:
                    raise Killed()
                type(self).scored.append(key)
                self.store[key] = _row(i, paths[i], trim_leading_silence)
            rows[i] = self.store[key]
            if on_row is not None:
                on_row(i, rows[i])
                type(self).on_disk.append(len(_rows(self.out / DETAILED_FILE)))
        return pd.DataFrame([rows[i] for i in range(len(paths))])


class _Unstreamed(_Scorer):
    """The same scores, returned only when the pass ends (a scorer without ``on_row``)."""

    name = "test-unstreamed"

    def score_many(self, paths, trim_leading_silence=False):
        return super().score_many(paths, trim_leading_silence)


@pytest.fixture()
def scorers(tmp_path):
    _Scorer.store, _Scorer.scored, _Scorer.kill_after, _Scorer.on_disk = {}, [], None, []
    register_scorer(_Scorer.name)(lambda **kw: _Scorer(out=tmp_path / "report"))
    register_scorer(_Unstreamed.name)(lambda **kw: _Unstreamed())
    try:
        yield
    finally:
        _REGISTRY.pop(_Scorer.name, None)
        _REGISTRY.pop(_Unstreamed.name, None)


def test_each_row_is_on_disk_as_its_clip_finishes_and_the_final_file_is_the_unstreamed_one(tmp_path, scorers):
    manifest = _manifest(tmp_path)
    evaluate_model(None, manifest, tmp_path / "report", method=_Scorer.name, bootstrap=0)
    assert _Scorer.on_disk == list(range(1, 2 * N_CLIPS + 1))  # raw then trimmed pass, one row more each time
    evaluate_model(None, manifest, tmp_path / "plain", method=_Unstreamed.name, bootstrap=0)
    streamed = (tmp_path / "report" / DETAILED_FILE).read_text()
    assert streamed == (tmp_path / "plain" / DETAILED_FILE).read_text()  # input order, the unstreamed columns
    final = pd.read_csv(tmp_path / "report" / DETAILED_FILE)
    assert list(final["path"]) == [f"/x/{i}.mp4" for i in range(N_CLIPS)] * 2
    assert "leading_silence_s" in final.columns and "warnings" in final.columns


def test_a_killed_evaluation_leaves_the_finished_rows_and_a_rerun_adds_only_the_missing(tmp_path, scorers):
    manifest = _manifest(tmp_path)
    out = tmp_path / "report"
    _Scorer.kill_after = 4
    with pytest.raises(Killed):
        evaluate_model(None, manifest, out, method=_Scorer.name, bootstrap=0)
    partial = _rows(out / DETAILED_FILE)  # a valid CSV: header and the 4 clips that finished (last first)
    assert [r["path"] for r in partial] == [f"/x/{i}.mp4" for i in (5, 4, 3, 2)]
    assert [float(r["score"]) for r in partial] == pytest.approx([i / 7 for i in (5, 4, 3, 2)])
    assert {r["trimmed"] for r in partial} == {"False"} and partial[0]["subcategory"] == "FVRA-WL"
    assert partial[1]["warnings"] == "w" and partial[0]["leading_silence_s"] == "0.5"

    _Scorer.kill_after, _Scorer.on_disk = None, []
    evaluate_model(None, manifest, out, method=_Scorer.name, bootstrap=0)
    assert len(_Scorer.scored) == 2 * N_CLIPS  # the 4 finished clips were not scored again
    assert _Scorer.on_disk == list(range(1, 2 * N_CLIPS + 1))  # the file started again: no row written twice
    final = _rows(out / DETAILED_FILE)
    assert len(final) == 2 * N_CLIPS
    assert len({(r["path"], r["trimmed"]) for r in final}) == 2 * N_CLIPS
    for r in partial:  # the killed run's rows hold the final values
        again = next(f for f in final if f["path"] == r["path"] and f["trimmed"] == "False")
        assert float(again["score"]) == pytest.approx(float(r["score"]))
        assert again["verdict"] == r["verdict"] and again["status"] == r["status"]


def test_two_evaluations_cannot_write_one_report_folder(tmp_path, scorers):
    from avanomaly.errors import DatasetError

    out = tmp_path / "report"
    holder = AppendCSV(out / DETAILED_FILE, ["path"])
    holder.lock()
    try:
        with pytest.raises(DatasetError, match="another avanomaly evaluate run"):
            evaluate_model(None, _manifest(tmp_path), out, method=_Scorer.name, bootstrap=0)
    finally:
        holder.close()
    evaluate_model(None, _manifest(tmp_path), out, method=_Scorer.name, bootstrap=0)  # released: it runs


def test_the_avanomaly_scorer_reports_every_row_once_and_cached_ones_first(tmp_path, tiny_model):
    from avanomaly.evaluation.scorers import create_scorer
    from avanomaly.io.testing import write_test_video

    def tone(i):  # each clip its own content (the score cache is keyed by content)
        return lambda t: (0.5 * np.sin(2 * np.pi * (220 + 40 * i) * t)).astype(np.float32)

    paths = [str(write_test_video(tmp_path / f"c{i}.mp4", n_frames=40, size=(64, 64), audio_fn=tone(i)))
             for i in range(3)]
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    paths.append(str(tmp_path / "bad.mp4"))
    scorer = create_scorer("avanomaly", model=tiny_model, cache=tmp_path / "cache", workers=1, progress=False)
    seen = []
    first = scorer.score_many(paths[:2], on_row=lambda i, row: seen.append((i, row["status"])))
    assert sorted(seen) == [(0, "ok"), (1, "ok")]
    seen.clear()
    out = scorer.score_many(paths, on_row=lambda i, row: seen.append((i, row["status"], row["score"])))
    assert [s[0] for s in seen[:2]] == [0, 1]  # from the cache, at once
    assert sorted(s[0] for s in seen) == [0, 1, 2, 3] and seen[-1][:2] == (3, "failed")
    np.testing.assert_allclose([s[2] for s in sorted(seen)[:3]], out["score"][:3])
    np.testing.assert_allclose(out["score"][:2], first["score"])


# ------------------------------------------------------------------------------------------ preprocess
def test_failures_csv_streams_each_failure_and_a_killed_run_keeps_them(tmp_path, monkeypatch):
    from avanomaly.io.testing import write_test_video
    from avanomaly.preprocess import PreprocessConfig, pipeline

    cfg = PreprocessConfig(detector="center", crop_size=32)
    src = tmp_path / "src"
    src.mkdir()
    good = str(write_test_video(src / "good.mp4", n_frames=15))
    bad = []
    for name in ("z.mp4", "a.mp4"):
        (src / name).write_bytes(b"")
        bad.append(str(src / name))
    cache = tmp_path / "cache"
    failures = cache / "failures.csv"
    real = pipeline._process_one
    seen, kill = [], {"at": 2}

    def watched(task):  # what failures.csv holds when each file starts; the run is killed at file `kill["at"]`
        seen.append([r["path"] for r in _rows(failures)])
        if len(seen) > kill["at"]:
            raise Killed()
        return real(task)

    monkeypatch.setattr(pipeline, "_process_one", watched)
    with pytest.raises(Killed):
        pipeline.preprocess_many([bad[0], good, bad[1]], cache, cfg, workers=1, progress=False)
    assert seen == [[], [bad[0]], [bad[0]]]  # the first failure was on disk before the next file started
    assert [(r["path"], r["reason"]) for r in _rows(failures)] == [(bad[0], "empty-file")]

    seen.clear()
    kill["at"] = 99
    report = pipeline.preprocess_many([bad[0], good, bad[1]], cache, cfg, workers=1, progress=False)
    assert seen == [[], [bad[0]], [bad[0]]]  # started again, nothing carried over twice
    assert [r["path"] for r in _rows(failures)] == sorted(bad)  # sorted when the run ends
    reference = tmp_path / "reference.csv"
    pipeline.write_failures(reference, report.failed)
    assert failures.read_text() == reference.read_text()


def test_failures_csv_of_a_run_beside_another_is_written_at_its_end(tmp_path):
    from avanomaly.preprocess import PreprocessConfig, preprocess_many

    (tmp_path / "empty.mp4").write_bytes(b"")
    cache = tmp_path / "cache"
    holder = AppendCSV(cache / "failures.csv", ["path"])
    holder.lock()  # another run on this cache is streaming its failures
    try:
        report = preprocess_many([tmp_path / "empty.mp4"], cache, PreprocessConfig(detector="center"),
                                 progress=False)
    finally:
        holder.close()
    assert [r["path"] for r in _rows(cache / "failures.csv")] == [str(tmp_path / "empty.mp4")]
    assert report.failures_csv == str(cache / "failures.csv")


# ----------------------------------------------------------------------------------------- the writer
def test_append_csv_rows_survive_and_a_second_writer_is_refused(tmp_path):
    path = tmp_path / "rows.csv"
    first = AppendCSV(path, ["a", "b"])
    first.lock()
    first.start([{"a": 1, "b": "x,y"}])
    first.append({"a": 2, "b": None, "extra": "ignored"})
    assert path.read_text() == 'a,b\n1,"x,y"\n2,\n'  # on disk before close
    with pytest.raises(FileBusyError):
        AppendCSV(path, ["a", "b"]).lock()
    first.rewrite([{"a": 3}])
    first.append({"a": 4, "b": "z"})
    first.close()
    assert path.read_text() == "a,b\n3,\n4,z\n"
    second = AppendCSV(path, ["a", "b"])
    second.lock()  # released by close
    second.start()  # appends to the file as it is
    second.append({"a": 5})
    second.close()
    assert path.read_text().endswith("4,z\n5,\n")
