"""On-disk feature cache: one folder per (file content, preprocessing settings).

Layout::

    <root>/<key>/mouths.npy      uint8   (T, S, S)   grayscale mouth crops (front_end "pixels"), or
                                 float32 (T, F)      lip features (front_end "landmarks", preprocess/landmarks.py)
    <root>/<key>/mel.npy         float16 (4T, 80)    log-mel, frames 4t..4t+3 belong to video frame t
    <root>/<key>/face_found.npy  bool    (T,)        whether the face was found near frame t
    <root>/<key>/meta.json       source path, sha256, n_frames, fps, duration, face_rate, ... (see docs)
    <root>/failures.csv          written by preprocess_many: path, reason, message

``key = sha256(file content)[:16] + "-" + settings_hash(PreprocessConfig)``, so a renamed/moved file hits
the same entry and any change of settings makes a new one.

Entries are written into a hidden temporary folder ``<root>/.tmp-<key>-<random>`` and then renamed to
``<root>/<key>`` with ``os.replace`` (atomic on one filesystem): a run killed mid-write leaves at most a
``.tmp-*`` folder, never a half entry. ``clean_temp()`` removes stale temporary folders.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avanomaly.conventions import SYNC_WINDOW_CONTEXT
from avanomaly.errors import AvanomalyError, DatasetError, shorten
from avanomaly.preprocess.config import MEL_FRAMES_PER_VIDEO_FRAME, PreprocessConfig
from avanomaly.utils import _json_default, file_sha256, settings_hash

MOUTHS_FILE = "mouths.npy"
MEL_FILE = "mel.npy"
FACE_FOUND_FILE = "face_found.npy"
META_FILE = "meta.json"
FAILURES_FILE = "failures.csv"
TEMP_PREFIX = ".tmp-"
#: number of hex digits of the file's sha256 used in the key
KEY_SHA_DIGITS = 16
#: temporary folders older than this are considered abandoned by clean_temp()
STALE_TEMP_SECONDS = 6 * 3600


@dataclass
class Features:
    """Preprocessed clip: mouths uint8 (T, S, S), mel float32 (4T, M), face_found bool (T,), meta dict."""

    mouths: np.ndarray
    mel: np.ndarray
    face_found: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.mouths.shape[0])

    def check(self) -> None:
        t = self.n_frames
        pixels = self.mouths.ndim == 3 and self.mouths.dtype == np.uint8
        landmarks = self.mouths.ndim == 2 and self.mouths.dtype == np.float32
        if not (pixels or landmarks):
            raise ValueError(f"mouths must be (T, S, S) uint8 crops or (T, F) float32 lip features, got "
                             f"{self.mouths.shape} {self.mouths.dtype}")
        if self.mel.ndim != 2 or self.mel.shape[0] != MEL_FRAMES_PER_VIDEO_FRAME * t:
            raise ValueError(f"mel must be ({MEL_FRAMES_PER_VIDEO_FRAME}T={MEL_FRAMES_PER_VIDEO_FRAME * t}, M), got {self.mel.shape}")
        if self.face_found.shape != (t,):
            raise ValueError(f"face_found must be (T={t},), got {self.face_found.shape}")


class CachedClip:
    """A cache entry opened with memory maps: ``mouths`` (T, S, S) uint8, ``mel`` (4T, M) float16, ``meta``."""

    def __init__(self, path: Path, mouths: np.ndarray, mel: np.ndarray, face_found: np.ndarray | None, meta: dict):
        self.path = path
        self.mouths = mouths
        self.mel = mel
        self.face_found = face_found
        self.meta = meta

    @property
    def n_frames(self) -> int:
        return int(self.mouths.shape[0])

    def __len__(self) -> int:
        return self.n_frames

    def window(self, start: int, length: int):
        """Frames ``start-2 .. start+length+1`` with their mel, replicate-padded at the clip edges.

        Returns ``mouths`` (length+4, S, S) uint8 and ``mel`` (4*(length+4), M) float32; a padded video frame
        repeats the edge frame's crop *and* its 4 mel frames, so audio and video stay aligned.
        ``0 <= start`` and ``start + length <= T`` are required.
        """
        t = self.n_frames
        if length < 1 or start < 0 or start + length > t:
            raise ValueError(f"window start={start} length={length} outside the clip of {t} frames ({self.path})")
        c = SYNC_WINDOW_CONTEXT
        idx = np.clip(np.arange(start - c, start + length + c), 0, t - 1)  # (length+4,)
        mouths = np.asarray(self.mouths[idx])  # (length+4, S, S)
        m = MEL_FRAMES_PER_VIDEO_FRAME
        mel_idx = (idx[:, None] * m + np.arange(m)[None, :]).reshape(-1)  # (4(length+4),)
        mel = np.asarray(self.mel[mel_idx], dtype=np.float32)  # (4(length+4), M)
        return mouths, mel


class FeatureCache:
    """Folder of preprocessed clips (see the module docstring for the layout)."""

    def __init__(self, root):
        self.root = Path(root)

    def key(self, path, cfg: PreprocessConfig) -> str:
        return file_sha256(path)[:KEY_SHA_DIGITS] + "-" + settings_hash(cfg)

    def path_of(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        return (self.path_of(key) / META_FILE).is_file()

    def entries(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if not p.name.startswith(".") and (p / META_FILE).is_file())

    def put(self, key: str, features: Features) -> bool:
        """Write an entry atomically. Returns False (and writes nothing) if the entry already exists."""
        features.check()
        if self.has(key):
            return False
        tmp = self.new_temp(key)
        try:
            _save_npy(tmp / MOUTHS_FILE, np.ascontiguousarray(features.mouths))  # dtype checked above
            _save_npy(tmp / MEL_FILE, np.ascontiguousarray(features.mel, dtype=np.float16))
            _save_npy(tmp / FACE_FOUND_FILE, np.ascontiguousarray(features.face_found, dtype=bool))
            return _publish(self, tmp, key, features.meta)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def new_temp(self, key: str) -> Path:
        """A fresh hidden temporary folder for writing entry ``key`` (renamed into place when finished)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{key}-", dir=self.root))

    def writer(self, key: str) -> "EntryWriter":
        """An :class:`EntryWriter` for entry ``key`` (use as a context manager: an exception discards it)."""
        return EntryWriter(self, key)

    def get(self, key: str) -> CachedClip:
        entry = self.path_of(key)
        if not self.has(key):
            raise AvanomalyError(f"{entry}: no such cache entry")
        try:  # data only: plain JSON and .npy arrays (allow_pickle=False: an object array is refused, never run)
            meta = json.loads((entry / META_FILE).read_text(encoding="utf-8"))
            mouths = np.load(entry / MOUTHS_FILE, mmap_mode="r", allow_pickle=False)
            mel = np.load(entry / MEL_FILE, mmap_mode="r", allow_pickle=False)
            ff_path = entry / FACE_FOUND_FILE
            face_found = np.load(ff_path, allow_pickle=False) if ff_path.exists() else None
        except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError, a bad .npy header
            raise DatasetError(f"{entry}: corrupt cache entry ({shorten(exc, 300)}); delete the folder to "
                               "preprocess the clip again") from None
        problem = _entry_problem(meta, mouths, mel, face_found)
        if problem:
            raise DatasetError(f"{entry}: corrupt cache entry ({problem}); delete the folder to preprocess the "
                               "clip again")
        return CachedClip(entry, mouths, mel, face_found, meta)

    def temp_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.name.startswith(TEMP_PREFIX) and p.is_dir())

    def clean_temp(self, older_than: float = STALE_TEMP_SECONDS) -> int:
        """Remove temporary folders left by killed runs (older than ``older_than`` seconds). Returns how many."""
        now = time.time()
        removed = 0
        for p in self.temp_dirs():
            try:
                if now - p.stat().st_mtime >= older_than:
                    shutil.rmtree(p, ignore_errors=True)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


#: meta.json fields read back as numbers (the rest is informational)
META_NUMBERS = ("n_frames", "fps", "duration", "face_rate", "source_fps", "av_offset", "trimmed_seconds")


def _entry_problem(meta, mouths, mel, face_found) -> str | None:
    """What is wrong with a cache entry read from disk (types, finiteness, matching lengths), or None."""
    import math
    import numbers

    if not isinstance(meta, dict):
        return f"{META_FILE} is a {type(meta).__name__}, not an object"
    for key in META_NUMBERS:
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not math.isfinite(value)):
            return f"{META_FILE} {key} must be a finite number, got {shorten(repr(value), 80)}"
    t = mouths.shape[0] if mouths.ndim else -1
    if mouths.ndim not in (2, 3) or mouths.dtype.kind not in "uf":
        return f"visual features of dtype {mouths.dtype}, shape {mouths.shape}"
    if mel.ndim != 2 or mel.shape[0] != MEL_FRAMES_PER_VIDEO_FRAME * t or mel.dtype.kind != "f":
        return f"mel of {mel.dtype} {mel.shape} for {t} frames (expected {MEL_FRAMES_PER_VIDEO_FRAME * t} mel frames)"
    if face_found is not None and (face_found.dtype != np.bool_ or face_found.shape != (t,)):
        return f"face_found of {face_found.dtype} {face_found.shape} for {t} frames"
    if meta.get("n_frames") is not None and int(meta["n_frames"]) != t:
        return f"{META_FILE} says {meta['n_frames']} frames, the arrays hold {t}"
    return None


#: bytes copied per step when an entry's raw files become .npy files
COPY_BLOCK_BYTES = 1 << 20


class EntryWriter:
    """Writes one cache entry run by run, so memory holds one run, not the clip.

    ``append(visual, mel, found)`` adds frames to raw files in the entry's temporary folder; ``commit(meta)`` turns
    them into ``.npy`` files (header + the raw bytes, copied in ``COPY_BLOCK_BYTES`` blocks), writes ``meta.json``
    and renames the folder into place exactly like :meth:`FeatureCache.put` (atomic; a killed run leaves only a
    ``.tmp-*`` folder). Leaving the ``with`` block without ``commit`` (an exception) removes the folder.
    """

    def __init__(self, cache: FeatureCache, key: str):
        self.cache, self.key = cache, key
        self.tmp = cache.new_temp(key)
        self._files: dict[str, list] = {}  # name -> [file handle, dtype, per-row shape, rows]
        self.n_frames = 0

    def _write(self, name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        entry = self._files.get(name)
        if entry is None:
            entry = self._files[name] = [open(self.tmp / (name + ".raw"), "wb"), array.dtype, array.shape[1:], 0]
        elif array.dtype != entry[1] or array.shape[1:] != entry[2]:
            raise ValueError(f"{name}: run of {array.dtype} {array.shape[1:]} after {entry[1]} {entry[2]}")
        entry[0].write(array.tobytes())
        entry[3] += array.shape[0]

    def append(self, visual: np.ndarray, mel: np.ndarray, found: np.ndarray) -> None:
        Features(np.asarray(visual), np.asarray(mel), np.asarray(found, dtype=bool)).check()  # same rules as put
        self._write(MOUTHS_FILE, visual)
        self._write(MEL_FILE, np.asarray(mel, dtype=np.float16))
        self._write(FACE_FOUND_FILE, np.asarray(found, dtype=bool))
        self.n_frames += len(found)

    def commit(self, meta: dict) -> bool:
        """Finish the entry. Returns False (and discards it) if the entry already exists."""
        if self.n_frames == 0:
            raise ValueError(f"cache entry {self.key}: no frame was written")
        if self.cache.has(self.key):
            self.discard()
            return False
        for name, (fh, dtype, shape, rows) in self._files.items():
            fh.close()
            raw = self.tmp / (name + ".raw")
            with open(raw, "rb") as src, open(self.tmp / name, "wb") as dst:
                np.lib.format.write_array_header_1_0(dst, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                           "fortran_order": False, "shape": (rows, *shape)})
                shutil.copyfileobj(src, dst, COPY_BLOCK_BYTES)
                dst.flush()
                os.fsync(dst.fileno())
            raw.unlink()
        self._files = {}
        written = _publish(self.cache, self.tmp, self.key, meta)
        self.discard()  # after a rename nothing is left here; after a lost race the folder goes
        return written

    def discard(self) -> None:
        for fh, *_ in self._files.values():
            fh.close()
        self._files = {}
        if self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "EntryWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()  # after a commit the folder has been renamed: nothing left to remove


def _publish(cache: FeatureCache, tmp: Path, key: str, meta: dict) -> bool:
    """Write ``meta.json`` into the finished temporary folder ``tmp`` (fsynced) and rename it to entry ``key``
    (atomic). False when another writer published the same entry first (``tmp`` is then left to the caller)."""
    text = json.dumps(meta, indent=2, sort_keys=True, default=_json_default) + "\n"
    with open(tmp / META_FILE, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.replace(tmp, cache.path_of(key))
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and cache.has(key):
            return False
        raise
    return True


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())
