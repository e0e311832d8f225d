"""Training from the sharded feature store (avanomaly.data.shards): clip refs over memory-mapped shards, and the
streaming loader for corpora too large to open at once.

Two ways to read a store (docs/scale.md "Training from shards"):

* ``data.shards`` alone: every clip is memory-mapped from its local shard (:func:`store_refs`) and drawn by the same
  :class:`RandomWindows` as the folder cache: for the same seed the same windows in the same order, so the same
  loss curve as training from the folder cache.
* with ``data.streaming``: :class:`StreamingWindows` reads whole shards front to back (a local path or a
  ``pipe:`` command, e.g. from object storage). Each epoch the shard order is shuffled (seeded by seed and epoch),
  shards are dealt to DDP ranks and then DataLoader workers (``shards[rank::world]``), and windows are drawn from
  a buffer of clips of several shards, so a batch mixes shards. Every rank yields exactly
  ``windows_per_epoch // world_size`` windows (DDP ranks must step together). Not the folder cache's order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from avanomaly.errors import DatasetError
from avanomaly.training.windows import ClipRef, _sample

#: clips held in the streaming shuffle buffer (windows are drawn across all of them)
SHUFFLE_CLIPS = 64


def store_refs(root, prefix: str = "", open_clips: bool = True) -> list[ClipRef]:
    """ClipRefs for every clip of the shard store at ``root``, in key order; ``group``: the clip's
    ``meta["identity"]`` when the store recorded one. ``open_clips``: memory-map each clip from its local shard;
    False: ``clip`` is None (only the index is read: what the streaming loader needs, whose shards may be remote)."""
    from avanomaly.data.shards import ShardStore

    store = ShardStore(root)
    refs = []
    for key in store.entries():
        meta = store.meta(key)
        clip = store.get(key) if open_clips else None
        refs.append(ClipRef(name=prefix + str(meta.get("source") or key), clip=clip, n_frames=store.n_frames(key),
                            group=str(meta.get("identity", ""))))
    return refs


def _ref(sample) -> ClipRef:
    """A streamed sample as a ClipRef over its in-memory arrays."""
    from avanomaly.preprocess.cache import CachedClip

    clip = CachedClip(Path(sample.key), sample.mouths, sample.mel, sample.face_found, sample.meta)
    return ClipRef(name=sample.key, clip=clip, n_frames=int(sample.mouths.shape[0]))


class StreamingWindows(IterableDataset):
    """Random ``window``-frame windows streamed from ``shards`` (see the module docstring); ``len()`` is the number
    this rank yields per epoch."""

    def __init__(self, shards, window: int, windows_per_epoch: int, seed: int = 0, epoch: int = 0, rank: int = 0,
                 world_size: int = 1, buffer_clips: int = SHUFFLE_CLIPS, windows_per_clip: int | None = None):
        self.shards = [str(s) for s in shards]
        if len(self.shards) < world_size:
            raise DatasetError(f"{len(self.shards)} shard(s) for {world_size} rank(s): every rank needs a shard "
                               "(write smaller shards: clips_per_shard)")
        self.window, self.seed, self.epoch = int(window), int(seed), int(epoch)
        self.rank, self.world = int(rank), int(world_size)
        self.per_rank = int(windows_per_epoch) // self.world
        if self.per_rank < 1:
            raise DatasetError(f"windows_per_epoch {windows_per_epoch} < {world_size} ranks")
        self.buffer_clips = max(1, int(buffer_clips))
        self.windows_per_clip = windows_per_clip

    def __len__(self) -> int:
        return self.per_rank

    def _my_shards(self, worker: int, n_workers: int) -> list[str]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.shards))
        mine = [self.shards[i] for i in order[self.rank::self.world]]
        return mine[worker::n_workers] if len(mine) >= n_workers else mine

    def __iter__(self):
        from avanomaly.data.shards import iter_shard

        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        quota = self.per_rank // n_workers + (1 if worker < self.per_rank % n_workers else 0)
        shards = self._my_shards(worker, n_workers)
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
        buffer: list[list] = []  # [clip, windows left]
        n = 0

        def samples():
            while True:  # cycle over this worker's shards until its quota is drawn
                usable = 0
                for url in shards:
                    for s in iter_shard(url):
                        if s.mouths.shape[0] >= self.window:
                            usable += 1
                            yield s
                if usable == 0:
                    raise DatasetError(f"no clip of {len(shards)} shard(s) is long enough for a {self.window}-frame "
                                       "window")

        stream = samples()
        while n < quota:
            while len(buffer) < self.buffer_clips:
                s = next(stream)
                per = self.windows_per_clip or max(1, (s.mouths.shape[0] - self.window + 1) // self.window)
                buffer.append([_ref(s), per])
            j = int(rng.integers(len(buffer)))
            ref, left = buffer[j]
            start = int(rng.integers(0, ref.n_frames - self.window + 1))
            yield _sample(ref, start, self.window, j)
            n += 1
            if left <= 1:
                buffer.pop(j)
            else:
                buffer[j][1] = left - 1


def shard_paths(root, url: str = "") -> list[str]:
    """The shards of the store at ``root`` in index order: local paths, or ``url`` with ``{name}`` replaced by each
    shard's file name (``data.shard_url``, e.g. ``pipe:aws s3 cp s3://bucket/vox2/{name} -``)."""
    from avanomaly.data.shards import ShardStore

    shards = ShardStore(root).shards
    if not url:
        return [str(p) for p in shards]
    if "{name}" not in url:
        raise DatasetError(f"data.shard_url {url!r} must contain {{name}} (replaced by each shard's file name)")
    return [url.replace("{name}", p.name) for p in shards]
