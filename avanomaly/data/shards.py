"""The sharded feature store: the per-clip cache's entries packed into WebDataset tar shards.

Layout (docs/scale.md "Feature store")::

    <store>/shard-000000.tar             uncompressed tar, WebDataset naming: one sample per cache key
        <key>.mouths.npy  <key>.mel.npy  <key>.face_found.npy  <key>.json     (the cache entry's files)
    <store>/shard-000000.tar.idx.json    that shard's index: per key n_frames, meta, and where each array's data
                                         starts in the tar (so a local shard is memory-mapped, never unpacked)
    <store>/index.json                   all shard indexes (written by ``finish_store``; readers fall back to
                                         the per-shard files)

Why WebDataset's format (docs/scale.md): plain POSIX tar, written and read by the standard library, streamable from
object storage with no random access (``pipe:aws s3 cp s3://bucket/shard-000000.tar -``), readable by the
``webdataset`` package and ``tar`` itself; no server, no metadata database. Keys are the cache's content-hash keys,
so the same clip has the same name in the folder cache and in the shards.

Shards are written whole into a hidden temporary file and renamed into place (atomic), index last: a writer
killed mid-shard leaves no shard, and a rerun of :func:`cache_to_shards` writes only the shards not finished.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from avanomaly.errors import DatasetError, shorten
from avanomaly.utils import _json_default, atomic_write_json

SHARD_PREFIX = "shard-"
SHARD_SUFFIX = ".tar"
INDEX_SUFFIX = ".idx.json"
STORE_INDEX = "index.json"
#: array members of a sample, in the order they are written (the cache entry's .npy files)
ARRAYS = ("mouths", "mel", "face_found")
META_MEMBER = "json"
#: default clips per shard: ~250 clips of 10 s at 64x64 crops are ~ 130 MB, a good size for object storage
DEFAULT_CLIPS_PER_SHARD = 256
STORE_VERSION = 1


def shard_name(index: int) -> str:
    return f"{SHARD_PREFIX}{index:06d}{SHARD_SUFFIX}"


@dataclass
class SampleArrays:
    """One clip's arrays as stored: mouths (T,S,S) uint8 or (T,F) float32, mel (4T,M) float16, face_found (T,)."""

    key: str
    mouths: np.ndarray
    mel: np.ndarray
    face_found: np.ndarray
    meta: dict


def _npy_bytes(array: np.ndarray) -> tuple[bytes, int]:
    """-> (the .npy file's bytes, the length of its header: where the array data starts)."""
    buf = io.BytesIO()
    array = np.ascontiguousarray(array)
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(array))
    header = buf.tell()
    buf.write(array.tobytes())
    return buf.getvalue(), header


def write_shard(path, samples: Sequence[SampleArrays]) -> dict:
    """Write ``samples`` into the tar shard ``path`` (atomically) and its ``.idx.json``; -> the shard index."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    entries = []
    try:
        with os.fdopen(fd, "wb") as fh:
            with tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for s in samples:
                    if "." in s.key or "/" in s.key:
                        raise DatasetError(f"shard key {shorten(s.key)!r} must not contain '.' or '/'")
                    arrays = {"mouths": s.mouths, "mel": np.asarray(s.mel, dtype=np.float16),
                              "face_found": np.asarray(s.face_found, dtype=bool)}
                    where = {}
                    for name in ARRAYS:
                        data, header = _npy_bytes(arrays[name])
                        info = tarfile.TarInfo(f"{s.key}.{name}.npy")
                        info.size, info.mtime = len(data), 0
                        offset = tar.offset  # the member's header block starts here
                        tar.addfile(info, io.BytesIO(data))
                        a = arrays[name]
                        where[name] = {"offset": offset + tarfile.BLOCKSIZE + header,
                                       "dtype": np.lib.format.dtype_to_descr(a.dtype), "shape": list(a.shape)}
                    meta = json.dumps(s.meta, sort_keys=True, default=_json_default).encode()
                    info = tarfile.TarInfo(f"{s.key}.{META_MEMBER}")
                    info.size, info.mtime = len(meta), 0
                    tar.addfile(info, io.BytesIO(meta))
                    entries.append({"key": s.key, "n_frames": int(s.mouths.shape[0]), "arrays": where,
                                    "meta": json.loads(meta)})
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    index = {"version": STORE_VERSION, "shard": path.name, "entries": entries}
    atomic_write_json(path.with_name(path.name + INDEX_SUFFIX), index)
    return index


def finish_store(root) -> dict:
    """Gather every shard's index into ``<root>/index.json``; -> that index. DatasetError when there is no shard."""
    root = Path(root)
    shards = []
    for idx in sorted(root.glob(f"{SHARD_PREFIX}*{SHARD_SUFFIX}{INDEX_SUFFIX}")):
        if (root / idx.name[: -len(INDEX_SUFFIX)]).is_file():
            shards.append(_read_json(idx))
    if not shards:
        raise DatasetError(f"{root}: no finished shard (shard-*.tar with its .idx.json)")
    index = {"version": STORE_VERSION, "shards": shards}
    atomic_write_json(root / STORE_INDEX, index)
    return index


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable shard index ({shorten(exc, 200)})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: a shard index must be a JSON object")
    return data


# --------------------------------------------------------------------------------------------- random access
class ShardStore:
    """A finished store opened for random access: every clip is memory-mapped from its (local) shard."""

    def __init__(self, root):
        self.root = Path(root)
        index_file = self.root / STORE_INDEX
        if index_file.is_file():
            shards = _read_json(index_file).get("shards", [])
        else:
            shards = [_read_json(p) for p in sorted(self.root.glob(f"{SHARD_PREFIX}*{INDEX_SUFFIX}"))]
        if not shards:
            raise DatasetError(f"{self.root}: not a shard store (no {STORE_INDEX}, no shard indexes)")
        self.shards = [self.root / s["shard"] for s in shards]
        self._entries = {}
        for s in shards:
            for e in s["entries"]:
                self._entries[e["key"]] = (self.root / s["shard"], e)

    def entries(self) -> list[str]:
        return sorted(self._entries)

    def n_frames(self, key: str) -> int:
        return int(self._entries[key][1]["n_frames"])

    def meta(self, key: str) -> dict:
        """The clip's meta as recorded in the index (no shard is opened)."""
        return dict(self._entries[key][1]["meta"])

    def get(self, key: str):
        """The clip ``key`` as a :class:`avanomaly.preprocess.CachedClip` over memory maps of its shard."""
        from avanomaly.preprocess.cache import CachedClip

        if key not in self._entries:
            raise DatasetError(f"{self.root}: no clip {shorten(key)!r} in the store")
        shard, e = self._entries[key]
        arrays = {}
        for name in ARRAYS:
            a = e["arrays"][name]
            arrays[name] = np.memmap(shard, dtype=np.lib.format.descr_to_dtype(a["dtype"]), mode="r",
                                     offset=int(a["offset"]), shape=tuple(a["shape"]))
        return CachedClip(shard, arrays["mouths"], arrays["mel"], arrays["face_found"], dict(e["meta"]))


# --------------------------------------------------------------------------------------------- streaming
class _PipeStream:
    """The stdout of a ``pipe:`` command. Closing it after the end waits for the command and checks its status; closing
    it early (the reader stopped) ends the command. Either way no process is left behind."""

    def __init__(self, command: str):
        self.command = command
        self.proc = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE)  # noqa: S602 - the user's own
        self.stdout = self.proc.stdout
        self.at_end = False

    def read(self, n: int = -1) -> bytes:
        data = self.stdout.read(n)
        if not data and n != 0:
            self.at_end = True
        return data

    def close(self) -> None:
        self.stdout.close()
        if not self.at_end:
            self.proc.kill()
            self.proc.wait()
            return
        code = self.proc.wait()
        if code != 0:
            raise DatasetError(f"pipe:{shorten(self.command)} exited with status {code}")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_stream(url: str):
    """A readable byte stream of a shard: a local path, or ``pipe:COMMAND`` (the command's stdout, WebDataset's
    convention for object storage, e.g. ``pipe:aws s3 cp s3://bucket/shard-000000.tar -``)."""
    if url.startswith("pipe:"):
        return _PipeStream(url[5:])
    return open(url, "rb")


def iter_shard(url: str) -> Iterator[SampleArrays]:
    """The samples of one shard, read front to back (no seeking: works on a pipe). DatasetError when the stream is
    not a tar shard (truncated, or a failed download)."""
    try:
        with open_stream(url) as fh, tarfile.open(fileobj=fh, mode="r|") as tar:
            current, parts = None, {}
            for member in tar:
                key, _, ext = member.name.partition(".")
                if key != current:
                    if current is not None:
                        yield _sample(current, parts, url)
                    current, parts = key, {}
                parts[ext] = tar.extractfile(member).read()
            if current is not None:
                yield _sample(current, parts, url)
    except (tarfile.TarError, OSError) as exc:
        raise DatasetError(f"{shorten(url)}: not a readable tar shard ({shorten(exc, 200)})") from None


def _sample(key: str, parts: dict, url: str) -> SampleArrays:
    missing = [f"{n}.npy" for n in ARRAYS if f"{n}.npy" not in parts] + \
        ([META_MEMBER] if META_MEMBER not in parts else [])
    if missing:
        raise DatasetError(f"{shorten(url)}: sample {shorten(key)!r} lacks {', '.join(missing)}")
    arrays = [np.load(io.BytesIO(parts[f"{n}.npy"]), allow_pickle=False) for n in ARRAYS]
    return SampleArrays(key, *arrays, meta=json.loads(parts[META_MEMBER]))


# --------------------------------------------------------------------------------------------- converters
def _cache_sample(cache, key: str, extra: dict | None = None) -> SampleArrays:
    clip = cache.get(key)
    ff = clip.face_found if clip.face_found is not None else np.ones(clip.n_frames, dtype=bool)
    return SampleArrays(key, np.asarray(clip.mouths), np.asarray(clip.mel), np.asarray(ff),
                        {**clip.meta, **(extra or {})})


def _write_cache_shard(job: tuple) -> str:
    """One converter task (module level: it runs on engine workers): (cache root, keys, shard path, extra meta per
    key) -> the path."""
    from avanomaly.preprocess.cache import FeatureCache

    root, keys, path, extra = job
    cache = FeatureCache(root)
    write_shard(path, [_cache_sample(cache, k, extra.get(k)) for k in keys])
    return str(path)


def cache_to_shards(cache, out, keys: Sequence[str] | None = None, clips_per_shard: int = DEFAULT_CLIPS_PER_SHARD,
                    engine=None, workers: int = 1, extra_meta: dict | None = None) -> dict:
    """Pack the folder cache's entries (all, or ``keys``; in sorted key order) into shards under ``out``.

    Shard ``i`` holds keys ``i*clips_per_shard ..``; each shard is one task, written by whichever worker runs it
    (``engine``: an :class:`avanomaly.distributed.EngineSpec`; None/local: in this process). Shards already
    finished are kept (resumable). ``extra_meta``: key -> fields added to that clip's stored meta (e.g. the
    manifest's ``identity``, which ``RandomWindows(balance=True)`` groups by). -> the store index (``finish_store``)."""
    from avanomaly.preprocess.cache import FeatureCache

    cache = cache if isinstance(cache, FeatureCache) else FeatureCache(cache)
    keys = sorted(set(cache.entries() if keys is None else keys))
    missing = [k for k in keys if not cache.has(k)]
    if missing:
        raise DatasetError(f"{cache.root}: {len(missing)} key(s) not in the cache (first: {shorten(missing[0])})")
    if not keys:
        raise DatasetError(f"{cache.root}: no cache entry to pack into shards")
    if clips_per_shard < 1:
        raise DatasetError(f"clips_per_shard must be >= 1, got {clips_per_shard}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for i in range(0, len(keys), clips_per_shard):
        path = out / shard_name(i // clips_per_shard)
        if not (path.is_file() and path.with_name(path.name + INDEX_SUFFIX).is_file()):
            part = keys[i:i + clips_per_shard]
            jobs.append((str(cache.root), part, str(path), {k: (extra_meta or {})[k] for k in part
                                                             if k in (extra_meta or {})}))
    if engine is not None and not engine.is_local and jobs:
        import dataclasses

        from avanomaly.distributed.engine import map_unordered

        spec = dataclasses.replace(engine, workers=engine.workers or workers)
        failed = [f"{jobs[o.index][2]}: {o.reason} {o.message}" for o in map_unordered(spec, _write_cache_shard, jobs)
                  if not o.ok]
        if failed:
            raise DatasetError(f"{len(failed)} shard(s) not written (run again to retry): {'; '.join(failed[:5])}")
    else:
        for job in jobs:
            _write_cache_shard(job)
    return finish_store(out)


def keys_of_sources(cache, paths) -> dict[str, str]:
    """Cache keys of the entries preprocessed from ``paths`` (matched by ``meta["source"]``, resolved), without
    hashing the videos again: -> {path: key} for the paths found."""
    from avanomaly.preprocess.cache import FeatureCache

    cache = cache if isinstance(cache, FeatureCache) else FeatureCache(cache)
    wanted = {str(Path(p).resolve()): str(p) for p in paths}
    found = {}
    for key in cache.entries():
        try:
            meta = json.loads((cache.path_of(key) / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a corrupt entry: cache.get reports it when it is packed
        source = meta.get("source") if isinstance(meta, dict) else None
        if source and str(Path(source).resolve()) in wanted:
            found[wanted[str(Path(source).resolve())]] = key
    return found


def store_summary(store) -> dict:
    """Shards, clips, frames and bytes of a store."""
    store = store if isinstance(store, ShardStore) else ShardStore(store)
    return {"shards": len(store.shards), "clips": len(store.entries()),
            "frames": sum(store.n_frames(k) for k in store.entries()),
            "bytes": sum(p.stat().st_size for p in store.shards if p.is_file())}


def shards_to_cache(store, cache) -> list[str]:
    """Unpack every clip of the shard store into a folder cache (entries already there are kept); -> keys."""
    from avanomaly.preprocess.cache import FeatureCache, Features

    store = store if isinstance(store, ShardStore) else ShardStore(store)
    cache = cache if isinstance(cache, FeatureCache) else FeatureCache(cache)
    for key in store.entries():
        clip = store.get(key)
        cache.put(key, Features(np.asarray(clip.mouths), np.asarray(clip.mel), np.asarray(clip.face_found),
                                clip.meta))
    return store.entries()
