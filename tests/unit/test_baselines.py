"""Baseline scorers on synthetic cached features (no decoding): registry, heuristic separation, real-only iforest,
supervised fitting, failure rows, fitted-model reuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from avanomaly.evaluation.scorers import SCORE_COLUMNS, available_scorers, create_scorer
from avanomaly.preprocess import FeatureCache, Features

T = 120  # frames per synthetic clip
S = 16  # crop size (tiny_models' TINY_CROP)
M = 80
SHIFT = 8  # frames of A/V offset of the off-sync clips


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _openness(rng, t=T):
    """Syllable-like bursts in [0, 1] (T,)."""
    o = np.zeros(t)
    i = int(rng.integers(0, 4))
    while i < t:
        n = int(rng.integers(3, 8))
        o[i:i + n] = np.sin(np.linspace(0, np.pi, n))[: max(0, min(n, t - i))] * rng.uniform(0.5, 1.0)
        i += n + int(rng.integers(1, 6))
    return o


def synthetic_features(seed: int, offset: int = 0, unrelated: bool = False) -> Features:
    """Mouth crops whose lower-central region darkens with openness; mel energy following the openness of the
    audio (shifted by ``offset`` frames, or another clip's openness when ``unrelated``)."""
    rng = np.random.default_rng(seed)
    o_v = _openness(rng)
    o_a = _openness(np.random.default_rng(seed + 10_000)) if unrelated else np.roll(o_v, offset)
    yy, xx = np.mgrid[0:S, 0:S]
    mouth_mask = (((yy - 0.62 * S) / (0.2 * S)) ** 2 + ((xx - S / 2) / (0.3 * S)) ** 2) <= 1.0
    mouths = np.full((T, S, S), 180.0) + rng.normal(0, 4, (T, S, S))
    mouths -= 140.0 * o_v[:, None, None] * mouth_mask[None]
    mouths = np.clip(mouths, 0, 255).astype(np.uint8)
    spectrum = np.exp(-np.linspace(0, 4, M))  # (M,)
    power = (1e-4 + o_a.repeat(4)[:, None] * spectrum[None]) * rng.uniform(0.8, 1.2, (4 * T, M))
    mel = np.log(power).astype(np.float32)
    return Features(mouths=mouths, mel=mel, face_found=np.ones(T, bool),
                    meta={"face_rate": 1.0, "n_frames": T, "trimmed_seconds": 0.0})


def _cache_clips(tmp_path, cfg, specs) -> list[str]:
    """Write a dummy file per spec (unique bytes) and put its synthetic features in the cache -> paths."""
    cache = FeatureCache(tmp_path / "cache" / "features")
    paths = []
    for name, feats in specs:
        p = tmp_path / "clips" / f"{name}.mp4"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f"synthetic clip {name}".encode())
        for trim in (False, True):
            import dataclasses

            c = dataclasses.replace(cfg, trim_leading_silence=trim)
            cache.put(cache.key(p, c), feats)
        paths.append(str(p))
    return paths


@pytest.fixture
def model_dir(tmp_path):
    from avanomaly.postprocess.modelfile import save_model_file
    from avanomaly.scoring.testing import tiny_models

    sync, ar, cfg = tiny_models(seed=0)
    run = tmp_path / "run"
    run.mkdir()
    save_model_file(run / "model.pt", sync, ar, cfg)
    return run, cfg


@pytest.fixture
def dataset(tmp_path, model_dir):
    """Train split: 8 real + 8 fake (half shifted, half unrelated audio); test: 4 real + 4 fake."""
    run, cfg = model_dir
    specs, rows = [], []
    for split, n, base in (("train", 8, 0), ("test", 4, 500)):
        for i in range(n):
            specs.append((f"{split}_real{i}", synthetic_features(base + i)))
            rows.append((split, "real", "real"))
            fake = synthetic_features(base + 100 + i, offset=SHIFT) if i % 2 else \
                synthetic_features(base + 100 + i, unrelated=True)
            specs.append((f"{split}_fake{i}", fake))
            rows.append((split, "fake", "wav2lip" if i % 2 else "rtvc"))
    paths = _cache_clips(tmp_path, cfg, specs)
    df = pd.DataFrame({"path": paths, "split": [r[0] for r in rows], "label": [r[1] for r in rows],
                       "method": [r[2] for r in rows]})
    return run, cfg, df


def _auc(df, labels):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score([1 if lab == "fake" else 0 for lab in labels], df["score"].to_numpy())


def test_baselines_registered():
    assert {"sync-heuristic", "sync-only", "iforest", "supervised"} <= set(available_scorers())


def test_heuristic_separates_in_sync_from_off_sync():
    from avanomaly.evaluation.baselines import HeuristicConfig, heuristic_sync

    for signal in ("darkness", "motion"):
        cfg = HeuristicConfig(visual_signal=signal)
        for seed in range(3):
            f_in = synthetic_features(seed)
            f_off = synthetic_features(seed, offset=SHIFT)
            r_in, r_off = heuristic_sync(f_in.mouths, f_in.mel, cfg), heuristic_sync(f_off.mouths, f_off.mel, cfg)
            assert np.isfinite(r_in["score"]) and np.isfinite(r_off["score"])
            assert r_in["score"] < r_off["score"], (signal, seed, r_in["score"], r_off["score"])
            assert abs(r_in["offset"]) <= 1
    # audio delayed by SHIFT frames (np.roll forward) peaks at d = +SHIFT (architecture convention)
    f = synthetic_features(7, offset=SHIFT)
    assert heuristic_sync(f.mouths, f.mel)["offset"] == SHIFT


def test_xcorr_constant_signal_gives_nan_score():
    from avanomaly.evaluation.baselines import heuristic_sync

    mouths = np.full((T, S, S), 100, np.uint8)
    r = heuristic_sync(mouths, np.zeros((4 * T, M), np.float32))
    assert np.isnan(r["score"])


def test_heuristic_scorer_rows_and_failures(tmp_path, dataset):
    run, cfg, df = dataset
    test = df[df["split"] == "test"]
    missing = str(tmp_path / "does_not_exist.mp4")
    paths = list(test["path"]) + [missing]
    scorer = create_scorer("sync-heuristic", model=run, cache=tmp_path / "cache", progress=False)
    out = scorer.score_many(paths, trim_leading_silence=False)
    assert list(out.columns) == list(SCORE_COLUMNS)
    assert list(out["path"]) == paths
    ok = out[out["status"] == "ok"]
    assert len(ok) == len(test) and np.isfinite(ok["score"]).all()
    bad = out[out["path"] == missing].iloc[0]
    assert bad["status"] == "failed" and "not found" in bad["error"]
    assert _auc(ok, test["label"]) == 1.0


def test_sync_only_scores_finite_and_uses_confidence(tmp_path, dataset):
    run, cfg, df = dataset
    test = df[df["split"] == "test"]
    scorer = create_scorer("sync-only", model=run, cache=tmp_path / "cache", progress=False)
    out = scorer.score_many(list(test["path"]))
    assert (out["status"] == "ok").all() and np.isfinite(out["score"]).all()
    np.testing.assert_allclose(out["score"].to_numpy(), -out["confidence"].to_numpy().astype(float))


def test_sync_only_needs_a_model():
    from avanomaly.errors import ConfigError

    with pytest.raises(ConfigError, match="needs --model"):
        create_scorer("sync-only", model=None)


def test_iforest_fits_on_train_reals_only(tmp_path, dataset):
    run, cfg, df = dataset
    test = df[df["split"] == "test"]
    scorer = create_scorer("iforest", model=run, cache=tmp_path / "cache", progress=False, train_data=df,
                           fit={"n_estimators": 50})
    out = scorer.score_many(list(test["path"]))
    assert (out["status"] == "ok").all() and np.isfinite(out["score"]).all()
    info = scorer.fit_info[False]
    assert info["n_real"] == 8 and info["n_fake"] == 0 and info["n_train"] == 8
    # the stored training features are reused by a second scorer (same fingerprint, no feature pass: an empty
    # feature cache would have to preprocess again) and the refit gives the same scores
    stored = run / "baselines" / "iforest-raw.npz"
    assert stored.is_file()
    again = create_scorer("iforest", model=run, cache=tmp_path / "cache", progress=False, train_data=df,
                           fit={"n_estimators": 50})
    again._training_features = None  # a recompute would fail: the stored features must be used
    np.testing.assert_allclose(again.score_many(list(test["path"]))["score"], out["score"])


class _Payload:
    """Unpickling this creates a marker file: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_files_in_a_run_folder_run_no_code(tmp_path, dataset):
    """A run folder is data: a crafted object array in the stored features (or a leftover .pkl) is refused, the
    features are recomputed, and the payload never runs."""
    import pickle

    run, cfg, df = dataset
    test = df[df["split"] == "test"]
    marker = tmp_path / "payload-ran"
    folder = run / "baselines"
    folder.mkdir(exist_ok=True)
    crafted = folder / "iforest-raw.npz"
    np.savez(crafted, x=np.array([_Payload(marker)], dtype=object), y=np.zeros(1), header=np.array("{}"))
    (folder / "iforest-raw.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    scorer = create_scorer("iforest", model=run, cache=tmp_path / "cache", progress=False, train_data=df,
                           fit={"n_estimators": 20})
    out = scorer.score_many(list(test["path"]))
    assert not marker.exists()
    assert (out["status"] == "ok").all() and scorer.fit_info[False]["n_real"] == 8
    from avanomaly.evaluation.baselines.learned import load_fit_features

    assert load_fit_features(crafted)[1].shape[0] == 8  # rewritten as plain arrays
    assert not marker.exists()


def test_iforest_refuses_fakes_in_fit(dataset):
    from avanomaly.errors import ConfigError
    from avanomaly.evaluation.baselines import IsolationForestScorer

    run, cfg, df = dataset
    s = IsolationForestScorer(model=run, progress=False, train_data=df)
    with pytest.raises(ConfigError, match="real clips only"):
        s.fit(np.zeros((5, 3)), np.array([0, 0, 0, 0, 1]))


def test_supervised_uses_both_labels_and_holdout(tmp_path, dataset):
    run, cfg, df = dataset
    test = df[df["split"] == "test"]
    scorer = create_scorer("supervised", model=run, cache=tmp_path / "cache", progress=False, train_data=df)
    out = scorer.score_many(list(test["path"]), trim_leading_silence=True)
    assert (out["status"] == "ok").all() and np.isfinite(out["score"]).all()
    assert scorer.fit_info[True]["n_real"] == 8 and scorer.fit_info[True]["n_fake"] == 8
    assert _auc(out, test["label"]) >= 0.75
    assert "not real-only" in scorer.describe()["training"]
    held = create_scorer("supervised", model=run, cache=tmp_path / "cache", progress=False, train_data=df,
                         fit={"holdout_methods": ["wav2lip"]})
    held.score_many(list(test["path"]))
    assert held.fit_info[False]["n_fake"] == 4 and held.fit_info[False]["holdout_methods"] == ["wav2lip"]


def test_train_rows_come_from_the_runs_config_yaml(tmp_path, dataset):
    """Without train_data the fitted baselines read the run's config.yaml (as training saves it) for the manifest
    and its split settings: plain YAML, no trainer needed."""
    from avanomaly.errors import ConfigError
    from avanomaly.evaluation.baselines.common import RUN_CONFIG, run_data_split, train_rows_of_run
    from avanomaly.training.config import DataConfig, TrainConfig, save_config

    run, _cfg, df = dataset
    manifest = tmp_path / "manifest.csv"
    df.assign(category="RealVideo-RealAudio", identity=[f"id{i}" for i in range(len(df))]).to_csv(manifest,
                                                                                                   index=False)
    seed, fractions = 7, (0.5, 0.25, 0.25)
    save_config(TrainConfig(data=DataConfig(manifest=str(manifest), split_seed=seed, split_fractions=list(fractions))),
                run / RUN_CONFIG)
    assert run_data_split(run / RUN_CONFIG) == (str(manifest), {"seed": seed, "fractions": fractions})
    rows = train_rows_of_run(run)
    assert sorted(rows["path"]) == sorted(df.loc[df["split"] == "train", "path"])

    (run / RUN_CONFIG).write_text(f"data:\n  manifest: {manifest}\n")  # split settings left out: the defaults
    assert run_data_split(run / RUN_CONFIG) == (str(manifest), {})
    for text in ("data:\n  manifest: ''\n", "stage1: {}\n", "data: [unclosed\n"):
        (run / RUN_CONFIG).write_text(text)
        with pytest.raises(ConfigError, match=RUN_CONFIG):
            train_rows_of_run(run)
