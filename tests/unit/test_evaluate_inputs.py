"""`avanomaly evaluate` inputs (issue 24): --seed reaches the FakeAVCeleb split, and no --model means the model
`avanomaly score` uses ($AVANOMALY_MODEL, else the shipped starter model)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner
from favc_tree import build_tree

from avanomaly.cli import cli
from avanomaly.data import identity_split, index_fakeavceleb
from avanomaly.evaluation.scorers import _REGISTRY, Scorer, create_scorer, register_scorer


def _test_identities(df: pd.DataFrame) -> set[str]:
    return set(df.loc[df["split"] == "test", "identity"])


def test_seed_chooses_the_fakeavceleb_split(tmp_path):
    root, _ = build_tree(tmp_path / "data", n_ids=12)
    index = index_fakeavceleb(root, warn=False)
    expected = {s: _test_identities(identity_split(index, seed=s)) for s in range(20)}
    other = next(s for s in range(1, 20) if expected[s] != expected[0])  # a seed whose test identities differ
    name = "test-constant-by-label"

    @register_scorer(name)
    class ByLabel(Scorer):  # never opens the (8-byte) files: real 0, fake 1
        def __init__(self, **kwargs):
            self.name = name

        def score_many(self, paths, trim_leading_silence=False):
            return pd.DataFrame([dict(path=p, score=0.0 if "RealVideo-RealAudio" in str(p) else 1.0, status="ok",
                                      error="") for p in paths])

    try:
        for seed in (0, other):
            out = tmp_path / f"out{seed}"
            res = CliRunner().invoke(cli, ["evaluate", "--data", str(root), "--out", str(out), "--method", name,
                                           "--seed", str(seed), "--bootstrap", "0", "--no-trimmed", "--quiet"])
            assert res.exit_code == 0, res.output + repr(res.exception)
            detailed = pd.read_csv(out / "detailed_results.csv")
            assert set(detailed["split"]) == {"test"}
            assert set(detailed["identity"]) == expected[seed]
    finally:
        _REGISTRY.pop(name, None)


def test_scorer_without_a_model_uses_the_score_default(monkeypatch, tiny_model):
    from avanomaly.postprocess.modelfile import ENV_MODEL, pretrained_path

    monkeypatch.setenv(ENV_MODEL, str(tiny_model))
    assert create_scorer("avanomaly", model=None, progress=False).describe()["model"] == str(tiny_model)
    monkeypatch.delenv(ENV_MODEL)
    shipped = create_scorer("avanomaly", model=None, progress=False).describe()["model"]
    assert shipped == str(pretrained_path("starter"))


def test_cli_evaluates_without_model(tmp_path, monkeypatch, tiny_model):
    from avanomaly.io.testing import write_test_video

    rows = []
    for i, (label, cat, method) in enumerate([("real", "RealVideo-RealAudio", "real")] * 2
                                             + [("fake", "FakeVideo-RealAudio", "wav2lip")] * 2):
        def audio_fn(t, i=i):
            return (0.5 * np.sin(2 * np.pi * (220 + 40 * i) * t)).astype(np.float32)

        path = write_test_video(tmp_path / f"clip{i}.mp4", n_frames=40, size=(64, 64), audio_fn=audio_fn)
        rows.append(dict(path=path.name, label=label, category=cat, method=method, identity=f"id{i}", split="test"))
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    monkeypatch.setenv("AVANOMALY_MODEL", str(tiny_model))
    out = tmp_path / "report"
    res = CliRunner().invoke(cli, ["evaluate", "--data", str(tmp_path / "manifest.csv"), "--out", str(out),
                                   "--bootstrap", "0", "--no-trimmed", "--quiet"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["model"] == str(tiny_model) and metrics["passes"]["raw"]["n_failed"] == 0
