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
    assert subcategory_of("FakeVideo-RealAudio", "newgen") == "FVRA-newgen"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    payload = evaluate(synthetic_results(), out, bootstrap=50, seed=0)
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
