"""Shared fixtures. Tests that need the shared real clips skip with a reason when the folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny test models: one thread is fastest and deterministic

REPO = Path(__file__).resolve().parents[1]
SHARED_REAL_AV = Path(os.environ.get("AVANOMALY_REAL_AV", REPO.parent / "shared" / "data" / "real-av"))


@pytest.fixture(scope="session")
def real_av() -> Path:
    """Folder of real / fake / bad clips (../shared/data/real-av); skip when absent (fresh user checkout)."""
    if not (SHARED_REAL_AV / "manifest.csv").exists():
        pytest.skip(f"shared real clips not found at {SHARED_REAL_AV} (set AVANOMALY_REAL_AV); CI has them")
    return SHARED_REAL_AV


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (2 threads on a busy 2-core machine spin for seconds); restores
    the count a test module may have changed. Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def decoded_frames(monkeypatch) -> list:
    """Counts the frames the Detector's decoder hands out (``avanomaly.io.iter_clip_chunks``, prefetch included)."""
    import avanomaly.io

    frames: list[int] = []
    real = avanomaly.io.iter_clip_chunks

    def counting(*args, **kwargs):
        for chunk in real(*args, **kwargs):
            frames.append(chunk.n_frames)
            yield chunk

    monkeypatch.setattr(avanomaly.io, "iter_clip_chunks", counting)
    return frames
