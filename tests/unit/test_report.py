"""evaluate() on a synthetic per-clip results table: every report file exists and parses."""

import csv
import json
import re

import numpy as np
import pandas as pd
import pytest

from avanomaly.evaluation.report import DETAILED_COLUMNS, evaluate, per_category_table, subcategory_of

FAKES = [("RealVideo-FakeAudio", "rtvc", 1.5), ("FakeVideo-RealAudio", "wav2lip", 2.0),
         ("FakeVideo-RealAudio", "faceswap", 0.2), ("FakeVideo-FakeAudio", "wav2lip", 2.5),
         ("FakeVideo-FakeAudio", "faceswap-wav2lip", 1.0), ("FakeVideo-FakeAudio", "fsgan-wav2lip", 0.8)]


def synthetic_results(n=12, seed=0, with_nll=True):
    rng = np.random.default_rng(seed)
    rows = []
    for trimmed in (False, True):
        # raw pass: fakes are shifted more (the leading-silence shortcut); trimmed: less
        boost = 1.0 if not trimmed else 0.5
        groups = [("RealVideo-RealAudio", "real", 0.0)] + FAKES
        for cat, method, shift in groups:
            for i in range(n):
                score = float(rng.normal(shift * boost, 1.0))
                nll = rng.normal(score, 0.3, 20).tolist()
                rows.append(dict(path=f"/d/{cat}/{method}/{i:03d}.mp4", label="real" if method == "real" else "fake",
                                 category=cat, method=method, identity=f"id{i:05d}", split="test", score=score,
                                 verdict="", threshold=0.9, offset=0, confidence=5.0, face_rate=1.0, trimmed=trimmed,
                                 trimmed_seconds=0.2 if trimmed else 0.0, status="ok", error="",
                                 nll=nll if with_nll else None, times=(np.arange(20) / 25).tolist()))
    rows.append(dict(path="/d/bad.mp4", label="fake", category="FakeVideo-FakeAudio", method="wav2lip",
                     identity="id99999", split="test", score=np.nan, trimmed=False, status="failed",
                     error="no-face: no face in any frame", nll=None, times=None))
    return pd.DataFrame(rows)


def test_subcategory_mapping():
    assert subcategory_of("RealVideo-FakeAudio", "rtvc") == "RVFA"
    assert subcategory_of("FakeVideo-FakeAudio", "fsgan-wav2lip") == "FVFA-GAN"
    assert subcategory_of("FakeVideo-RealAudio", "faceswap") == "FVRA-FS"
    assert subcategory_of("FakeVideo-RealAudio", "newgen") == ""  # outside FakeAVCeleb's taxonomy (data layer's)


def test_a_method_outside_the_taxonomy_gets_no_subcategory_group(tmp_path):
    """Fakes of a method FakeAVCeleb does not have are compared by category, method and pooled, but no
    sub-category is invented for them (main called them 'FVRA-newgen')."""
    rows = [dict(path=f"/d/r{i}.mp4", label="real", category="RealVideo-RealAudio", method="real", score=float(i))
            for i in range(4)]
    rows += [dict(path=f"/d/{m}{i}.mp4", label="fake", category="FakeVideo-RealAudio", method=m, score=10.0 + i)
             for m in ("wav2lip", "newgen") for i in range(3)]
    payload = evaluate(pd.DataFrame(rows), tmp_path, bootstrap=0)
    comps = payload["passes"]["raw"]["comparisons"]
    names = {kind: {c["name"]: c["n_fake"] for c in comps if c["kind"] == kind} for kind in ("subcategory", "method")}
    assert names["subcategory"] == {"FVRA-WL": 3}
    assert names["method"] == {"newgen": 3, "wav2lip": 3}
    assert next(c for c in comps if c["kind"] == "pooled")["n_fake"] == 6
    detailed = pd.read_csv(tmp_path / "detailed_results.csv", keep_default_na=False)
    assert set(detailed.loc[detailed["method"] == "newgen", "subcategory"]) == {""}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    payload = evaluate(synthetic_results(), out, bootstrap=20, seed=0)
    return out, payload


def test_every_file_is_written_and_parses(report):
    out, payload = report
    metrics = json.loads((out / "metrics.json").read_text())  # strict JSON (no NaN)
    assert set(metrics["passes"]) == {"raw", "trimmed"} and metrics["honest_pass"] == "trimmed"
    raw = metrics["passes"]["raw"]
    names = {(c["kind"], c["name"]) for c in raw["comparisons"]}
    for expected in [("category", "RealVideo-FakeAudio"), ("category", "FakeVideo-RealAudio"),
                     ("category", "FakeVideo-FakeAudio"), ("method", "rtvc"), ("method", "fsgan-wav2lip"),
                     ("subcategory", "RVFA"), ("subcategory", "FVRA-WL"), ("subcategory", "FVFA-WL"),
                     ("subcategory", "FVFA-FS"), ("subcategory", "FVFA-GAN"), ("pooled", "all fakes")]:
        assert expected in names
    fvra_fs = next(c for c in raw["comparisons"] if c["name"] == "FVRA-FS")
    assert fvra_fs["published"] is False
    assert raw["n_failed"] == 1 and raw["failures"][0]["path"] == "/d/bad.mp4"
    assert metrics["passes"]["trimmed"]["n_failed"] == 0
    assert raw["threshold"] == pytest.approx(0.9)
    assert {op["name"] for op in raw["operating_points"]} == {"calibrated", "eer", "best_f1"}
    line = metrics["summary"]["raw"]["dataset"]
    assert set(line) >= {"acc", "auc", "eer", "ap", "video_auc"}

    with open(out / "detailed_results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0].keys()) == DETAILED_COLUMNS
    assert len(rows) == 7 * 12 * 2 + 1  # every clip of both passes + the failed one, nothing dropped
    assert any(r["status"] == "failed" for r in rows)

    sweep = pd.read_csv(out / "threshold_sweep.csv")
    assert {"pass", "threshold", "fpr", "tpr", "tpr_RealVideo-FakeAudio"} <= set(sweep.columns)
    raw_sw = sweep[sweep["pass"] == "raw"]
    assert raw_sw["threshold"].is_monotonic_decreasing and raw_sw["fpr"].is_monotonic_increasing

    md = (out / "report.md").read_text()
    assert "honest" in md and "| comparison |" in md and "FVFA-GAN" in md

    html = (out / "report.html").read_text()
    assert html.count("<table>") >= 8
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 10  # 5 plots x 2 passes, inlined
    import base64

    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "src=\"plots/" not in html  # self-contained
    for p in ("roc", "pr", "hist", "rates", "nll"):
        assert (out / "plots" / f"{p}_trimmed.png").stat().st_size > 1000


def test_metrics_reflect_the_data(report):
    _, payload = report
    by = {n: {(c["kind"], c["name"]): c for c in p["comparisons"]} for n, p in payload["passes"].items()}
    # shift 2.5 (FVFA wav2lip) separates better than shift 0.2 (FVRA faceswap)
    assert by["raw"][("method", "wav2lip")]["auc"] > by["raw"][("subcategory", "FVRA-FS")]["auc"]
    # the raw pass has the larger shifts -> higher pooled AUC than trimmed
    assert by["raw"][("pooled", "all fakes")]["auc"] > by["trimmed"][("pooled", "all fakes")]["auc"]
    ci = by["raw"][("pooled", "all fakes")]["auc_ci"]
    assert ci[0] <= by["raw"][("pooled", "all fakes")]["auc"] <= ci[1]
    table = per_category_table(payload)
    assert "RealVideo-FakeAudio" in table and "AUC trimmed" in table


def test_single_pass_without_curves_or_threshold(tmp_path):
    df = synthetic_results(n=6, with_nll=False)
    df = df[~df["trimmed"]].drop(columns=["threshold", "nll", "times"])
    payload = evaluate(df, tmp_path, bootstrap=0)
    assert list(payload["passes"]) == ["raw"] and payload["honest_pass"] is None
    assert payload["passes"]["raw"]["threshold"] is None
    assert payload["summary"]["raw"]["dataset"]["acc_threshold_kind"] == "eer"
    assert not (tmp_path / "plots" / "nll_raw.png").exists()
    assert "Only the raw pass" in (tmp_path / "report.md").read_text()


def test_missing_columns_are_a_clear_error(tmp_path):
    from avanomaly.errors import DatasetError

    with pytest.raises(DatasetError, match="score"):
        evaluate(pd.DataFrame({"path": ["a"], "label": ["real"], "category": ["x"]}), tmp_path)


# ------------------------------------------------------------------ CLI, end to end with a tiny model
N_FRAMES = 40
SILENCE_SECONDS = 0.4  # leading silence of the "fake" clips (the FakeAVCeleb shortcut)


def _write_dataset(root):
    from avanomaly.io.testing import write_test_video

    rows = []
    specs = [("real", "RealVideo-RealAudio", "real", 0.0)] * 3 + \
            [("fake", "RealVideo-FakeAudio", "rtvc", SILENCE_SECONDS)] * 2 + \
            [("fake", "FakeVideo-FakeAudio", "wav2lip", SILENCE_SECONDS)] * 2
    for i, (label, cat, method, silence) in enumerate(specs):
        def audio_fn(t, silence=silence, i=i):
            return np.where(t < silence, 0.0, 0.5 * np.sin(2 * np.pi * (220 + 40 * i) * t)).astype(np.float32)

        path = write_test_video(root / f"clip{i}.mp4", n_frames=N_FRAMES, size=(64, 64), audio_fn=audio_fn)
        rows.append(dict(path=path.name, label=label, category=cat, method=method, identity=f"id{i}", split="test"))
    rows.append(dict(path="broken.mp4", label="fake", category="FakeVideo-FakeAudio", method="wav2lip",
                     identity="id9", split="test"))
    (root / "broken.mp4").write_bytes(b"not a video at all")
    rows.append(dict(path="train0.mp4", label="real", category="RealVideo-RealAudio", method="real", identity="id8",
                     split="train"))
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def test_cli_scores_raw_and_trimmed_and_reuses_the_cache(tmp_path, tiny_model):
    from click.testing import CliRunner

    from avanomaly.cli import cli

    manifest = _write_dataset(tmp_path / "data")
    out, cache = tmp_path / "report", tmp_path / "cache"
    args = ["evaluate", "--model", str(tiny_model), "--data", str(manifest), "--out", str(out), "--bootstrap", "10",
            "--cache", str(cache), "--quiet"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "RealVideo-FakeAudio" in res.output and "report.html" in res.output
    detailed = pd.read_csv(out / "detailed_results.csv")
    assert len(detailed) == 2 * 8  # 8 test clips (the train clip left out) x 2 passes, the broken one kept
    assert set(detailed["trimmed"]) == {False, True}
    broken = detailed[detailed["path"].str.endswith("broken.mp4")]
    assert (broken["status"] == "failed").all() and broken["error"].str.len().gt(0).all()
    trimmed_fakes = detailed[detailed["trimmed"] & (detailed["label"] == "fake") & (detailed["status"] == "ok")]
    raw_fakes = detailed[~detailed["trimmed"] & (detailed["label"] == "fake") & (detailed["status"] == "ok")]
    assert (trimmed_fakes["trimmed_seconds"] > SILENCE_SECONDS / 2).all()  # the silence was removed
    assert (raw_fakes["trimmed_seconds"] == 0).all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["passes"]["raw"]["n_failed"] == 1 and metrics["run"]["method"] == "avanomaly"
    n_cached = len(list(cache.rglob("*.json")))
    assert n_cached == 2 * 7  # ok clips of both passes; failures are not cached

    # second run: from the cache, same scores
    res2 = CliRunner().invoke(cli, args[:-3] + ["--out", str(tmp_path / "report2"), "--quiet", "--no-trimmed"])
    assert res2.exit_code == 0, res2.output
    again = pd.read_csv(tmp_path / "report2" / "detailed_results.csv")
    assert set(again["trimmed"]) == {False}
    np.testing.assert_allclose(again["score"], detailed[~detailed["trimmed"]]["score"].to_numpy())
    assert len(list(cache.rglob("*.json"))) == n_cached


def test_custom_scorer_plugs_in_and_must_return_every_row(tmp_path):
    from avanomaly.errors import DatasetError
    from avanomaly.evaluation.pipeline import evaluate_model
    from avanomaly.evaluation.scorers import _REGISTRY, Scorer, available_scorers, register_scorer

    manifest = tmp_path / "m.csv"
    pd.DataFrame(dict(path=[f"/x/{i}.mp4" for i in range(6)], label=["real"] * 3 + ["fake"] * 3,
                      category=["RealVideo-RealAudio"] * 3 + ["FakeVideo-RealAudio"] * 3,
                      method=["real"] * 3 + ["wav2lip"] * 3, identity=list("abcdef"), split="test")).to_csv(manifest,
                                                                                                           index=False)

    @register_scorer("test-index")
    class IndexScorer(Scorer):
        name = "test-index"

        def __init__(self, drop=False, **kwargs):
            self.drop = drop

        def score_many(self, paths, trim_leading_silence=False):
            rows = [dict(path=p, score=float(i) + (0.5 if trim_leading_silence else 0), status="ok", error="")
                    for i, p in enumerate(paths)]
            return pd.DataFrame(rows[:-1] if self.drop else rows)

    try:
        assert "test-index" in available_scorers() and "avanomaly" in available_scorers()
        m = evaluate_model(None, manifest, tmp_path / "out", method="test-index", bootstrap=0)
        pooled = next(c for c in m["passes"]["trimmed"]["comparisons"] if c["kind"] == "pooled")
        assert pooled["auc"] == 1.0 and pooled["eer"] == 0.0  # fakes have the higher indices
        _REGISTRY["test-index"] = lambda **kw: IndexScorer(drop=True)
        with pytest.raises(DatasetError, match="every clip needs one row"):
            evaluate_model(None, manifest, tmp_path / "out2", method="test-index", bootstrap=0)
    finally:
        _REGISTRY.pop("test-index", None)


@pytest.mark.parametrize("lost", ["real", "fake"])
def test_cli_exits_non_zero_when_every_clip_of_a_class_failed(tmp_path, lost):
    from click.testing import CliRunner

    from avanomaly.cli import cli
    from avanomaly.evaluation.commands import EXIT_NO_CLASS_LEFT
    from avanomaly.evaluation.scorers import _REGISTRY, Scorer, register_scorer

    n_per_class = 3
    labels = ["real"] * n_per_class + ["fake"] * n_per_class
    manifest = tmp_path / "m.csv"
    pd.DataFrame(dict(path=[f"/x/{i}.mp4" for i in range(len(labels))], label=labels,
                      category=["RealVideo-RealAudio"] * n_per_class + ["FakeVideo-RealAudio"] * n_per_class,
                      method=["real"] * n_per_class + ["wav2lip"] * n_per_class, identity=list("abcdef"),
                      split="test")).to_csv(manifest, index=False)
    label_of = dict(zip(pd.read_csv(manifest)["path"], labels))
    name = f"test-lose-{lost}"

    @register_scorer(name)
    class LoseOneClass(Scorer):
        def __init__(self, **kwargs):
            self.name = name

        def score_many(self, paths, trim_leading_silence=False):
            rows = []
            for i, p in enumerate(paths):
                failed = label_of.get(p, label_of.get(str(p))) == lost
                rows.append(dict(path=p, score=float("nan") if failed else float(i),
                                 status="failed" if failed else "ok", error="corrupt: simulated" if failed else ""))
            return pd.DataFrame(rows)

    try:
        out = tmp_path / "out"
        res = CliRunner().invoke(cli, ["evaluate", "--data", str(manifest), "--out", str(out), "--method", name,
                                       "--bootstrap", "0", "--no-trimmed", "--quiet"])
    finally:
        _REGISTRY.pop(name, None)
    assert res.exit_code == EXIT_NO_CLASS_LEFT, res.output + repr(res.exception)
    assert f"no {lost} clip left to compute metrics ({n_per_class} {lost} clip(s) failed" in res.output
    metrics = json.loads((out / "metrics.json").read_text())  # the report (with the failures) is still written
    assert metrics["passes"]["raw"]["n_failed"] == n_per_class


def test_the_templates_write_exactly_this_markdown_and_html(tmp_path):
    """report.md / report.html come from Jinja2 templates (evaluation/templates): blank lines, escaping of
    table cells and the highlighted notes are as the hand-written renderer wrote them."""
    from avanomaly.evaluation.compute import HONEST_NOTE
    from avanomaly.evaluation.render import Section, Table, render_html, render_markdown

    (tmp_path / "plots").mkdir()
    png = tmp_path / "plots" / "roc.png"
    png.write_bytes(b"\x89PNG-not-really")
    sections = [Section("S <1>", paragraphs=["a **b** & c", HONEST_NOTE],
                        tables=[Table(["h|1", "h2"], [[1, "x\ny"], ["0.9 [0.8, 1.0]", "-0.5"]], "cap")],
                        images=[("ROC", png)]),
                Section("Empty")]
    assert render_markdown(sections, "T", tmp_path) == (
        "# T\n\n## S <1>\n\na **b** & c\n\n" + HONEST_NOTE + "\n\n**cap**\n\n| h\\|1 | h2 |\n|---|---|\n"
        "| 1 | x y |\n| 0.9 [0.8, 1.0] | -0.5 |\n\n![ROC](plots/roc.png)\n\n## Empty\n")
    page = render_html(sections, "T & co")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>T &amp; co</title>')
    assert page.endswith("\n<h2>Empty</h2>\n</body></html>\n")
    assert "<h2>S &lt;1&gt;</h2>\n<p>a <b>b</b> &amp; c</p>\n<p class=\"note\">" in page
    assert ("<tr><th>h|1</th><th>h2</th></tr>\n<tr><td>1</td><td class=\"text\">x\ny</td></tr>\n"
            "<tr><td>0.9<br><small>[0.8, 1.0]</small></td><td>-0.5</td></tr>\n</table></div>") in page
    assert '<img alt="ROC" src="data:image/png;base64,iVBORy1ub3QtcmVhbGx5">' in page
