"""Pool workers die with their parent (issue 27 item 5): a SIGKILLed ``preprocess --workers 2`` leaves no worker
running on to the end of its file (PR_SET_PDEATHSIG on Linux, a parent watchdog thread everywhere)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import avanomaly
from avanomaly.io.testing import write_test_video

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir() or os.name != "posix",
                                reason="reads processes from /proc and sends SIGKILL (Linux)")

#: a few long, cheap-to-write clips: 0.5 fps 640x480 source frames, resampled to 25 fps by the decoder, so each
#: takes a worker ~1-2 minutes on a 2-core machine (on today's main the killed run's workers live that long)
N_CLIPS = 3
CLIP_SECONDS = 600
SOURCE_FPS = 0.5
#: generous bounds on waits that normally take seconds (shared 2-core machines), never the thing measured
START_TIMEOUT_S = 180.0
#: every worker must be gone within this long after its parent was killed (they go in well under a second)
GONE_WITHIN_S = 5.0
POLL_S = 0.1
#: the subprocesses import this checkout's avanomaly, wherever pytest runs from
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(avanomaly.__file__).resolve().parents[1]),
                                                     os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc/<pid>/stat)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            out[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return out


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid``."""
    parents, out, todo = _parents(), set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p} - out
        out |= kids
        todo += sorted(kids)
    return out


def _alive(pid: int) -> bool:
    """Running (a zombie is dead: it only waits for its new parent to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _kill_ours(pids) -> None:
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("long_clips")
    n = int(CLIP_SECONDS * SOURCE_FPS)
    for i in range(N_CLIPS):
        write_test_video(folder / f"long{i}.mkv", fps=SOURCE_FPS, n_frames=n, size=(640, 480), video_codec="mpeg4",
                         audio_rate=8000, audio_codec="pcm_s16le", frame_fn=lambda j, size, i=i: _frame(i, j, size))
    return folder


def _frame(clip: int, j: int, size):
    from avanomaly.io.testing import default_frame_fn

    img = default_frame_fn(j % 100, size)
    img[:8, :8] = 40 * clip  # each clip its own content, so its own cache key
    return img


def test_sigkilled_preprocess_leaves_no_worker_running(long_clips, tmp_path):
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-m", "avanomaly", "preprocess", str(long_clips), "--out", str(cache),
                             "--workers", "2", "--face-fallback", "center", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        # both workers are in the middle of a file once each has its entry's temporary folder
        while len(list(cache.glob(".tmp-*"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the workers never started a file"
            time.sleep(POLL_S)
        workers = _children(proc.pid)
        assert len(workers) >= 2, workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + GONE_WITHIN_S
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        left = sorted(p for p in workers if _alive(p))
        assert not left, f"worker(s) {left} still running {GONE_WITHIN_S:g} s after their parent was killed"
    finally:
        _kill_ours(workers | ({proc.pid} if proc.poll() is None else set()))
        proc.stderr.close()


def test_die_with_parent_ends_a_process_whose_parent_is_gone(tmp_path):
    """The helper itself: a grandchild started by a short-lived child ends once that child exits (the watchdog
    sees it re-parented; on Linux the kernel's PDEATHSIG is faster still)."""
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import os, sys, time\n"
        "from avanomaly.utils import die_with_parent\n"
        "parent = int(sys.argv[1])\n"
        "die_with_parent(parent)\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(600)\n"
    )
    starter = ("import subprocess, sys, os, time\n"
               "p = subprocess.Popen([sys.executable, '-c', sys.argv[1], str(os.getpid())])\n"
               f"while not os.path.exists({str(pid_file)!r}): time.sleep(0.05)\n"
               "time.sleep(0.2)\n")  # then exit: the grandchild is orphaned
    subprocess.run([sys.executable, "-c", starter, code], check=True, timeout=START_TIMEOUT_S, env=ENV)
    grandchild = int(pid_file.read_text())
    try:
        deadline = time.monotonic() + GONE_WITHIN_S
        while _alive(grandchild) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        assert not _alive(grandchild)
    finally:
        _kill_ours([grandchild])
