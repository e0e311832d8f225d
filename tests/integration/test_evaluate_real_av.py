"""`avanomaly evaluate` on the shared real / fake / bad clips with a tiny untrained model: the machinery works
on real files (decoding, both passes, failures kept, report parses). The scores themselves mean nothing."""

import json

import pandas as pd
import pytest

pytestmark = pytest.mark.integration


def test_evaluate_shared_clips(real_av, tmp_path):
    from click.testing import CliRunner

    from avanomaly.cli import cli
    from avanomaly.postprocess.modelfile import save_model_file
    from avanomaly.scoring.testing import tiny_models

    sync, ar, cfg = tiny_models(seed=0)
    model = save_model_file(tmp_path / "model.pt", sync, ar, cfg)
    out = tmp_path / "report"
    res = CliRunner().invoke(cli, ["evaluate", "--model", str(model), "--data", str(real_av / "manifest.csv"),
                                   "--out", str(out), "--split", "all", "--bootstrap", "20", "--quiet"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    manifest = pd.read_csv(real_av / "manifest.csv")
    n_eval = int(manifest["label"].isin(["real", "fake"]).sum())  # 'bad' inputs are left out on purpose
    detailed = pd.read_csv(out / "detailed_results.csv")
    assert len(detailed) == 2 * n_eval
    assert (detailed["status"] == "ok").all(), detailed.loc[detailed["status"] != "ok", ["path", "error"]]
    metrics = json.loads((out / "metrics.json").read_text())
    cats = {c["name"] for c in metrics["passes"]["trimmed"]["comparisons"] if c["kind"] == "category"}
    assert cats == set(manifest.loc[manifest["label"] == "fake", "category"])
    assert "<img" in (out / "report.html").read_text()
