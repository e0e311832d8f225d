"""The sharded feature store (issue 25): cache <-> shards bitwise, memory-mapped and streamed reads, resumable and
atomic writes, the streaming windows (shard shuffling per epoch, ranks and workers get disjoint shards, exact
counts), and training from shards = training from the folder cache (same seed: the same per-step loss curve)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avanomaly.data.shards import (INDEX_SUFFIX, STORE_INDEX, ShardStore, cache_to_shards, iter_shard,
                                   shards_to_cache)
from avanomaly.errors import DatasetError
from avanomaly.preprocess import FeatureCache, Features
from avanomaly.training.testing import synthetic_clips

CROP = 16


def fill_cache(root, n: int = 7, n_frames: int = 30, seed: int = 1, prefix: str = "k") -> FeatureCache:
    """A folder cache holding ``n`` synthetic clips (training.testing.synthetic_clips) under keys prefix000.."""
    cache = FeatureCache(root)
    for i in range(n):  # clips of different lengths
        c = synthetic_clips(1, n_frames + i, seed=seed * 100 + i, crop_size=CROP)[0].clip
        found = np.arange(c.mouths.shape[0]) % 5 != 3  # not all true: the array must survive the trip
        cache.put(f"{prefix}{i:03d}-abc", Features(c.mouths, c.mel, found, meta={"source": f"/v/{prefix}{i}.mp4",
                                                                                 "identity": f"id{i % 3}"}))
    return cache


def test_cache_to_shards_and_back_is_bitwise(tmp_path):
    cache = fill_cache(tmp_path / "cache")
    index = cache_to_shards(cache, tmp_path / "store", clips_per_shard=3)
    assert [len(s["entries"]) for s in index["shards"]] == [3, 3, 1]
    store = ShardStore(tmp_path / "store")
    assert store.entries() == cache.entries()
    streamed = {s.key: s for shard in store.shards for s in iter_shard(str(shard))}
    assert sorted(streamed) == cache.entries()
    for key in cache.entries():
        a, b = cache.get(key), store.get(key)
        assert isinstance(b.mouths, np.memmap)  # read in place from the tar, not unpacked
        for x, y in ((a.mouths, b.mouths), (a.mel, b.mel), (a.face_found, b.face_found),
                     (a.mouths, streamed[key].mouths), (a.mel, streamed[key].mel)):
            assert x.dtype == y.dtype and np.array_equal(x, y), key
        assert b.meta == a.meta == streamed[key].meta
        for got, want in zip(b.window(0, 12), a.window(0, 12)):
            assert np.array_equal(got, want)
    back = FeatureCache(tmp_path / "back")
    shards_to_cache(store, back)
    assert back.entries() == cache.entries()
    assert all(np.array_equal(back.get(k).mel, cache.get(k).mel) for k in cache.entries())


def test_the_shards_are_webdataset_shards(tmp_path):
    wds = pytest.importorskip("webdataset")
    cache = fill_cache(tmp_path / "cache", n=4)
    cache_to_shards(cache, tmp_path / "store", clips_per_shard=2)
    store = ShardStore(tmp_path / "store")
    got = {}
    for sample in wds.WebDataset([str(s) for s in store.shards], shardshuffle=False).decode():
        got[sample["__key__"]] = sample
    assert sorted(got) == cache.entries()
    key = cache.entries()[1]
    assert np.array_equal(got[key]["mouths.npy"], cache.get(key).mouths)
    assert got[key]["json"]["identity"] == cache.get(key).meta["identity"]


def test_conversion_resumes_and_an_unfinished_shard_is_not_a_shard(tmp_path):
    cache = fill_cache(tmp_path / "cache", n=5)
    out = tmp_path / "store"
    cache_to_shards(cache, out, clips_per_shard=2)
    first = (out / "shard-000001.tar").stat().st_mtime_ns
    (out / "shard-000002.tar").unlink()  # as if the writer of shard 2 was killed before its rename
    (out / ("shard-000002.tar" + INDEX_SUFFIX)).unlink()
    (out / ".tmp-shard-000002.tar-x").write_bytes(b"half a tar")
    (out / STORE_INDEX).unlink()
    assert ShardStore(out).entries() == cache.entries()[:4]  # the finished shards, never the temporary file
    cache_to_shards(cache, out, clips_per_shard=2)
    assert (out / "shard-000001.tar").stat().st_mtime_ns == first  # finished shards are not written again
    assert ShardStore(out).entries() == cache.entries()


def test_bad_inputs_are_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="no cache entry"):
        cache_to_shards(FeatureCache(tmp_path / "empty"), tmp_path / "s")
    with pytest.raises(DatasetError, match="not a shard store"):
        ShardStore(tmp_path)
    cache = fill_cache(tmp_path / "cache", n=2)
    cache_to_shards(cache, tmp_path / "s")
    with pytest.raises(DatasetError, match="no clip"):
        ShardStore(tmp_path / "s").get("nope")


def _windows(ds) -> list[tuple]:
    return [(int(s["start"]), s["mouths"].numpy().tobytes()) for s in ds]


def test_streaming_windows_shuffle_shards_and_split_ranks(tmp_path):
    from torch.utils.data import DataLoader

    from avanomaly.training.streaming import StreamingWindows, shard_paths

    cache = fill_cache(tmp_path / "cache", n=8)
    cache_to_shards(cache, tmp_path / "store", clips_per_shard=2)
    shards = shard_paths(tmp_path / "store")
    ranks = [StreamingWindows(shards, 12, 20, seed=3, epoch=0, rank=r, world_size=2) for r in (0, 1)]
    mine = [set(ds._my_shards(0, 1)) for ds in ranks]
    assert not (mine[0] & mine[1]) and mine[0] | mine[1] == set(shards)  # disjoint, all shards dealt
    epoch1 = StreamingWindows(shards, 12, 20, seed=3, epoch=1, rank=0, world_size=1)._my_shards(0, 1)
    epochs = [StreamingWindows(shards, 12, 20, seed=3, epoch=e)._my_shards(0, 1) for e in range(4)]
    assert len({tuple(e) for e in epochs}) > 1 and sorted(epoch1) == sorted(shards)  # a new order per epoch
    a, b = _windows(ranks[0]), _windows(StreamingWindows(shards, 12, 20, seed=3, epoch=0, rank=0, world_size=2))
    assert a == b and len(a) == len(ranks[0]) == 10  # deterministic, exactly windows_per_epoch / world
    # every window is a real window of one of the clips
    clips = [cache.get(k) for k in cache.entries()]
    for s in ranks[1]:
        start, got = int(s["start"]), s["mouths"].numpy()
        assert any(c.n_frames >= start + 12 and np.array_equal(c.window(start, 12)[0], got) for c in clips)
    loader = DataLoader(ranks[0], batch_size=2, num_workers=2)  # workers split this rank's shards and its count
    assert sum(len(batch["start"]) for batch in loader) == 10


def test_streaming_needs_a_shard_per_rank(tmp_path):
    from avanomaly.training.streaming import StreamingWindows, shard_paths

    cache_to_shards(fill_cache(tmp_path / "cache", n=2), tmp_path / "store", clips_per_shard=2)
    with pytest.raises(DatasetError, match="every rank needs a shard"):
        StreamingWindows(shard_paths(tmp_path / "store"), 12, 20, world_size=2)


class StepLosses:
    """A Lightning callback that keeps every training step's loss."""

    def __new__(cls):
        import lightning as L

        class _Rec(L.Callback):
            def __init__(self):
                self.losses = []

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                loss = outputs["loss"] if isinstance(outputs, dict) else outputs
                self.losses.append(float(loss.detach()))

        return _Rec()


def test_training_from_shards_gives_the_folder_caches_loss_curve(tmp_path):
    from test_training import tiny_cfg

    from avanomaly.training.callbacks import read_metrics
    from avanomaly.training.train import train, train_on_clips
    from avanomaly.training.windows import ClipRef

    train_cache = fill_cache(tmp_path / "train", n=6, prefix="t")
    val_cache = fill_cache(tmp_path / "val", n=2, seed=2, prefix="v")
    cache_to_shards(train_cache, tmp_path / "train_store", clips_per_shard=2)
    cache_to_shards(val_cache, tmp_path / "val_store", clips_per_shard=2)

    def refs(cache):
        return [ClipRef(name=k, clip=cache.get(k), n_frames=cache.get(k).n_frames) for k in cache.entries()]

    extra = ("calibrate=false", "stage2.max_epochs=1")
    folder_steps, shard_steps = StepLosses(), StepLosses()
    torch.manual_seed(0)
    train_on_clips(tiny_cfg(tmp_path / "folder", *extra), refs(train_cache), refs(val_cache),
                   callbacks=[folder_steps])
    cfg = tiny_cfg(tmp_path / "shards", *extra, f"data.shards={tmp_path / 'train_store'}",
                   f"data.val_shards={tmp_path / 'val_store'}")
    from avanomaly.training.streaming import store_refs

    train_on_clips(cfg, store_refs(cfg.data.shards), store_refs(cfg.data.val_shards), callbacks=[shard_steps])
    assert len(folder_steps.losses) == len(shard_steps.losses) > 4
    assert folder_steps.losses == shard_steps.losses  # bitwise: the same windows in the same order
    rows = {d: [(r["stage"], r["epoch"], r["train_loss"], r["val_loss"]) for r in read_metrics(tmp_path / d /
                                                                                               "metrics.csv")]
            for d in ("folder", "shards")}
    assert rows["folder"] == rows["shards"]
    # the config route (data.shards + data.streaming through train()) trains too, from streamed windows
    streamed = train(tiny_cfg(tmp_path / "streamed", *extra, f"data.shards={tmp_path / 'train_store'}",
                              f"data.val_shards={tmp_path / 'val_store'}", "data.streaming=true"))
    assert streamed.model_path is not None and streamed.model_path.is_file()
    assert np.isfinite(float(streamed.stage1["best"]))


def test_shards_cli_pack_a_manifest_split_unpack_and_info(tmp_path):
    from click.testing import CliRunner

    from avanomaly.cli import cli

    cache = fill_cache(tmp_path / "cache", n=5)  # sources /v/k0.mp4 .. /v/k4.mp4
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,identity,split\n" + "".join(
        f"/v/k{i}.mp4,real,spk{i % 2},{'val' if i == 4 else 'train'}\n" for i in range(5)) +
        "/v/missing.mp4,real,spk9,train\n")
    run = CliRunner()
    res = run.invoke(cli, ["shards", "pack", str(cache.root), "--out", str(tmp_path / "train"), "--manifest",
                           str(manifest), "--split", "train", "--clips-per-shard", "3"])
    assert res.exit_code == 0, res.output
    assert "4 clip(s) in 2 shard(s)" in res.output and "1 manifest clip(s) not in the cache" in res.output
    store = ShardStore(tmp_path / "train")
    assert store.entries() == cache.entries()[:4]
    assert [store.get(k).meta["identity"] for k in store.entries()] == ["spk0", "spk1", "spk0", "spk1"]
    res = run.invoke(cli, ["shards", "unpack", str(tmp_path / "train"), "--out", str(tmp_path / "back")])
    assert res.exit_code == 0 and FeatureCache(tmp_path / "back").entries() == store.entries()
    res = run.invoke(cli, ["shards", "info", str(tmp_path / "train")])
    assert res.exit_code == 0 and "2 shard(s), 4 clip(s)" in res.output
    res = run.invoke(cli, ["shards", "info", str(tmp_path)])
    assert res.exit_code == 1 and "not a shard store" in res.output


def test_streaming_reads_shards_through_a_pipe_url(tmp_path):
    """data.shard_url: shards read through a command's stdout (as from object storage) give the same windows."""
    from avanomaly.training.streaming import StreamingWindows, shard_paths, store_refs

    cache_to_shards(fill_cache(tmp_path / "cache", n=4), tmp_path / "store", clips_per_shard=2)
    local = shard_paths(tmp_path / "store")
    piped = shard_paths(tmp_path / "store", f"pipe:cat {tmp_path / 'store'}/{{name}}")
    assert piped[0].startswith("pipe:cat ") and piped[0].endswith("shard-000000.tar")
    assert _windows(StreamingWindows(piped, 12, 8, seed=1)) == _windows(StreamingWindows(local, 12, 8, seed=1))
    with pytest.raises(DatasetError, match="name"):
        shard_paths(tmp_path / "store", "s3://bucket/shards")
    refs = store_refs(tmp_path / "store", open_clips=False)  # the index alone: no shard opened
    assert [r.clip for r in refs] == [None] * 4 and [r.n_frames for r in refs] == [30, 31, 32, 33]
    assert [r.group for r in refs] == ["id0", "id1", "id2", "id0"]


def test_a_broken_or_failing_stream_is_a_dataset_error(tmp_path):
    bad = tmp_path / "shard-000000.tar"
    bad.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(DatasetError, match="not a readable tar shard"):
        list(iter_shard(str(bad)))
    with pytest.raises(DatasetError, match="exited with status 3"):
        list(iter_shard("pipe:exit 3"))
