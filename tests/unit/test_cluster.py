"""The Dask engine (issue 25): a 2-worker local cluster gives the local pool's features and keys, bitwise; a worker
killed mid-clip loses nothing (the rerun completes, every entry valid); scoring on the cluster = the local pool."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("distributed")

from avanomaly.distributed import engine_spec  # noqa: E402
from avanomaly.preprocess.testing import KILL_FLAG_ENV  # noqa: E402
from avanomaly.errors import ConfigError  # noqa: E402
from avanomaly.preprocess import FeatureCache, PreprocessConfig, import_detector, preprocess_many  # noqa: E402

SIZE = dict(identities=2, reals_per_identity=1, fakes_per_identity=1, duration=(0.8, 1.0), frame_size=96)
KILLER = "avanomaly.preprocess.testing:KillOnceDetector"


@pytest.fixture(scope="module")
def synth_paths(tmp_path_factory):
    from avanomaly.data.synth import SynthSize, generate

    out = tmp_path_factory.mktemp("synth")
    generate(out, seed=11, size=SynthSize(**SIZE))
    return sorted(str(p) for p in out.rglob("*.mp4"))


def assert_same_caches(a: FeatureCache, b: FeatureCache) -> None:
    assert a.entries() == b.entries() and a.entries()
    for key in a.entries():
        x, y = a.get(key), b.get(key)
        assert np.array_equal(x.mouths, y.mouths) and x.mouths.dtype == y.mouths.dtype, key
        assert np.array_equal(x.mel, y.mel) and np.array_equal(x.face_found, y.face_found), key
        drop = ("source",)
        assert {k: v for k, v in x.meta.items() if k not in drop} == {k: v for k, v in y.meta.items() if k not in drop}


def test_engine_spec_checks_its_options():
    assert engine_spec().is_local and engine_spec("dask", "tcp://h:8786").address == "tcp://h:8786"
    with pytest.raises(ConfigError, match="unknown engine"):
        engine_spec("spark")
    with pytest.raises(ConfigError, match="--engine dask"):
        engine_spec("local", "tcp://h:8786")


def test_dask_engine_without_the_package_is_a_usage_error_with_the_pip_line(monkeypatch):
    import sys

    import click

    from avanomaly.distributed.options import engine_from_options

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if avanomaly[cluster] were not installed
    with pytest.raises(click.UsageError, match=r"avanomaly\[cluster\]"):
        engine_from_options("dask", None)
    assert engine_from_options("local", None).is_local  # the default needs nothing


@pytest.mark.slow  # a local cluster and a local pool: ~50 s on a busy 2-core machine
def test_two_worker_cluster_gives_the_local_pools_features(synth_paths, tmp_path):
    cfg = PreprocessConfig()
    local = preprocess_many(synth_paths, tmp_path / "pool", cfg, workers=2, progress=False)
    dask = preprocess_many(synth_paths, tmp_path / "dask", cfg, workers=2, progress=False, engine=engine_spec("dask"))
    assert local.ok and dask.ok and len(dask.done) == len(synth_paths)
    assert dask.keys == local.keys  # the same content-hash keys
    assert_same_caches(FeatureCache(tmp_path / "pool"), FeatureCache(tmp_path / "dask"))
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        existing = engine_spec("dask", cluster.scheduler_address)  # --address: a cluster started elsewhere
        again = preprocess_many(synth_paths, tmp_path / "dask", cfg, progress=False, engine=existing)
    assert sorted(again.skipped) == sorted(dask.done) and not again.done  # resumable: done entries skipped


@pytest.mark.slow  # a local cluster and a local pool: ~50 s on a busy 2-core machine
def test_a_worker_killed_mid_clip_loses_nothing(synth_paths, tmp_path, monkeypatch):
    import_detector(KILLER)
    cfg = PreprocessConfig(detector=KILLER)
    reference = preprocess_many(synth_paths, tmp_path / "ref", cfg, workers=1, progress=False)  # no flag: no kill
    flag = tmp_path / "kill-once"
    flag.write_text("")
    monkeypatch.setenv(KILL_FLAG_ENV, str(flag))  # the cluster's worker processes inherit it
    first = preprocess_many(synth_paths, tmp_path / "dask", cfg, workers=2, progress=False, engine=engine_spec("dask"))
    assert not flag.exists()  # a worker did die
    cache = FeatureCache(tmp_path / "dask")
    assert cache.temp_dirs()  # killed mid-entry: its temporary folder is left, and it is no entry
    assert not set(p.name for p in cache.temp_dirs()) & set(cache.entries())
    # the dead worker's clip was run again on another worker (or is listed as failed, never half written)
    assert {r[1] for r in first.failed} <= {"worker-died"}
    rerun = preprocess_many(synth_paths, cache, cfg, workers=2, progress=False, engine=engine_spec("dask"))
    assert rerun.ok and len(rerun.done) + len(rerun.skipped) == len(synth_paths)
    assert_same_caches(FeatureCache(tmp_path / "ref"), cache)  # every entry there and valid, none lost
    assert sorted(reference.keys.values()) == cache.entries()


@pytest.mark.slow  # a local cluster and a local pool: ~50 s on a busy 2-core machine
def test_scoring_on_the_cluster_equals_the_local_pool(synth_paths, tiny_model):
    from avanomaly.scoring.pool import load_detector, scoring_pool

    paths = synth_paths[:2]

    def run(engine):
        with scoring_pool(paths, 2, load_detector, (str(tiny_model), "cpu", {}), engine=engine) as finished:
            return {i: r for i, r in finished}

    local, dask = run(None), run(engine_spec("dask"))
    assert sorted(dask) == list(range(len(paths)))
    for i in range(len(paths)):
        assert local[i].ok and dask[i].ok, (local[i], dask[i])
        assert dask[i].score == pytest.approx(local[i].score, abs=1e-6) and dask[i].path == paths[i]


def test_cli_engine_option(synth_paths, tmp_path):
    from click.testing import CliRunner

    from avanomaly.preprocess.commands import preprocess

    res = CliRunner().invoke(preprocess, [synth_paths[0], "--out", str(tmp_path / "c"), "--engine", "local",
                                          "--address", "tcp://127.0.0.1:1"])
    assert res.exit_code == 2 and "--engine dask" in res.output
    res = CliRunner().invoke(preprocess, [synth_paths[0], "--out", str(tmp_path / "c"), "--engine", "dask",
                                          "--workers", "1", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "done 1" in res.output and len(FeatureCache(tmp_path / "c").entries()) == 1


@pytest.mark.integration
def test_two_worker_cluster_on_the_shared_real_clips(real_av, tmp_path):
    import csv

    with open(real_av / "manifest.csv", newline="") as fh:
        paths = [str(real_av / r["path"]) for r in csv.DictReader(fh) if r["label"] == "real"][:3]
    cfg = PreprocessConfig()
    local = preprocess_many(paths, tmp_path / "pool", cfg, workers=2, progress=False)
    dask = preprocess_many(paths, tmp_path / "dask", cfg, workers=2, progress=False, engine=engine_spec("dask"))
    assert local.ok and dask.ok and dask.keys == local.keys
    assert_same_caches(FeatureCache(tmp_path / "pool"), FeatureCache(tmp_path / "dask"))
