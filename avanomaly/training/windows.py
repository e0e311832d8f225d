"""Random training windows / fixed validation windows over cached clips (no video decoding in the loop).

A *clip source* is anything with ``window(start, length) -> (mouths (length+4,S,S) uint8, mel (4(length+4),M))``
and ``mouths`` of shape (T,S,S) — :class:`avanomaly.preprocess.CachedClip` or an in-memory equivalent.

Training windows are drawn from a generator seeded by ``(seed, epoch, index)``: the same epoch gives the
same windows whatever the number of workers/processes, which makes resume reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from avanomaly.errors import DatasetError

#: context frames each side of a window (5-frame sync windows need 2)
CONTEXT = 2


@dataclass
class ClipRef:
    name: str  # source path or cache key, used in messages
    clip: Any  # CachedClip-like
    n_frames: int
    group: str = ""  # identity (speaker) of the clip; RandomWindows(balance=True) gives every group equal weight


def clip_n_frames(clip) -> int:
    return int(clip.mouths.shape[0])


def usable_clips(refs: Sequence[ClipRef], window: int, what: str) -> tuple[list[ClipRef], list[ClipRef]]:
    """Split ``refs`` into (usable, too_short) for ``window`` frames; DatasetError when none is usable."""
    ok = [r for r in refs if r.n_frames >= window]
    short = [r for r in refs if r.n_frames < window]
    if not ok:
        names = ", ".join(f"{r.name} ({r.n_frames} frames)" for r in short[:10])
        raise DatasetError(
            f"no {what} clip is long enough for a {window}-frame window ({len(refs)} clip(s): {names or 'none'}); "
            f"lower stage*.window or add longer clips"
        )
    return ok, short


def _sample(ref: ClipRef, start: int, window: int, index: int) -> dict:
    mouths, mel = ref.clip.window(start, window)
    mouths = np.ascontiguousarray(mouths)
    mel = np.ascontiguousarray(mel, dtype=np.float32)
    return {
        "mouths": torch.from_numpy(mouths),  # (T+4, S, S) uint8
        "mel": torch.from_numpy(mel),  # (4(T+4), M) float32
        "clip": torch.tensor(index, dtype=torch.long),
        "start": torch.tensor(start, dtype=torch.long),
    }


class RandomWindows(Dataset):
    """``length`` random windows of ``window`` frames; clip chosen proportionally to its number of windows, or,
    with ``balance``, every ``ClipRef.group`` (speaker) equally often and its clips by their number of windows
    (so one long-recorded speaker does not make up most of the training windows)."""

    def __init__(self, refs: Sequence[ClipRef], window: int, length: int, seed: int = 0, epoch: int = 0,
                 balance: bool = False):
        if not refs:
            raise DatasetError("no training clips")
        self.refs = list(refs)
        self.window = int(window)
        self.length = int(length)
        self.seed = int(seed)
        self.epoch = int(epoch)
        counts = np.array([r.n_frames - self.window + 1 for r in self.refs], dtype=np.float64)
        if (counts < 1).any():
            raise DatasetError("RandomWindows got a clip shorter than the window; filter with usable_clips first")
        if balance:
            groups = np.array([r.group for r in self.refs])
            for g in np.unique(groups):
                counts[groups == g] /= counts[groups == g].sum()
        self.p = counts / counts.sum()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        ci = int(rng.choice(len(self.refs), p=self.p))
        ref = self.refs[ci]
        start = int(rng.integers(0, ref.n_frames - self.window + 1))
        return _sample(ref, start, self.window, ci)


class FixedWindows(Dataset):
    """Up to ``per_clip`` evenly spaced windows per clip (deterministic; for validation)."""

    def __init__(self, refs: Sequence[ClipRef], window: int, per_clip: int):
        self.refs = list(refs)
        self.window = int(window)
        self.items: list[tuple[int, int]] = []
        for ci, r in enumerate(self.refs):
            last = r.n_frames - self.window
            if last < 0:
                continue
            n = max(1, min(int(per_clip), last + 1))
            for s in np.unique(np.linspace(0, last, n).round().astype(int)):
                self.items.append((ci, int(s)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        ci, s = self.items[i]
        return _sample(self.refs[ci], s, self.window, ci)
