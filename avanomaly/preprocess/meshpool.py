"""The face mesh in worker processes, so one file's landmark front end runs beside its decoding and its model.

MediaPipe's face mesh holds the GIL (two meshes in two threads ran at 1.1x one thread's speed, CPU/wall 0.95),
so it runs in processes: a :class:`MeshPool` of ``n`` persistent, ``spawn``ed workers (they die with their
parent, :func:`avanomaly.utils.die_with_parent`) is fed decoded frames and sends back each frame's mesh points
(``landmarker.points(frame)``: (478, 3) pixels or None). Frames travel through shared-memory slots (anonymous
``memfd`` files, or unlinked temporary files, whose descriptors the workers inherit: nothing is left on disk or
in /dev/shm whatever ends the process), one copy in and none out: 0.06 ms a frame instead of the 0.6 ms of
pickling 512x288 frames through a queue. A :class:`PipelinedLipTracker` has
:class:`~avanomaly.preprocess.landmarks.LipTracker`'s ``push / take / finish`` interface: ``push`` submits frames
and returns at once (unless ``max_in_flight`` jobs are already out: memory stays bounded), ``take(through=n)``
waits for the first ``n`` frames' meshes and runs the same per-frame logic as LipTracker in this process.
A worker builds the next clip's face mesh while it would otherwise wait (at start-up, and when the pool is
released after a clip, while this process runs the clip's models): a fresh graph either way, the same points.

Tracking (docs/scoring.md "Pipelined scoring"): the mesh runs in tracking mode, frame t's region comes from
frame t-1's mesh, so a clip is exact only as one track in one worker (``segment_frames=0``, the default: the same
points, bit for bit, as in this process). ``segment_frames=S > 0`` cuts the clip into tracks of S frames, each
started ``warmup_frames`` early on a fresh mesh and handed round-robin to the workers: all cores for one file,
but a restarted track does not converge back to the sequential one (measured: 0.15-1.4 px apart after 5-25
warm-up frames), so features and scores change a little; the result depends on S and the warm-up only, not on
the number of workers.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
import queue as _queue
import threading
from collections import deque
from typing import Callable

import numpy as np

from avanomaly.errors import AvanomalyError

#: jobs (blocks of frames) out at once per worker, each in its own shared-memory slot: bounds the frames held
#: (3 blocks of 25-35 frames of 512x288 RGB: ~40 MB per worker)
IN_FLIGHT_PER_WORKER = 3
#: seconds between checks that the workers are alive while waiting for a result
POLL_SECONDS = 0.5
#: the message telling a worker that a clip is over: it frees that clip's landmarker and builds a fresh one for
#: the next clip while it waits (a face mesh's graph costs ~30-50 ms to build: off the next clip's critical path)
PREPARE = "prepare"


class MeshWorkerError(AvanomalyError):
    """A face-mesh worker process ended (killed, out of memory) or did not start."""


def _default_factory():
    from avanomaly.preprocess.landmarks import FaceMeshLandmarker

    return FaceMeshLandmarker()


# ------------------------------------------------------------------------------------------ worker side


def _exception_payload(exc: BaseException) -> tuple:
    """An exception as (class, args, __dict__): typed errors with their own ``__init__`` (MediaError(path,
    message)) do not survive plain pickling, this does."""
    return type(exc), exc.args, dict(getattr(exc, "__dict__", {}))


def _rebuild_exception(payload: tuple) -> BaseException:
    cls, args, state = payload
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


def _slot_frames(fd: int, shape: tuple):
    """(mmap, frames (T,H,W,3) uint8 view) of a slot; close the mmap once the view is dropped."""
    import mmap

    n = int(np.prod(shape))
    mm = mmap.mmap(fd, max(1, n), prot=mmap.PROT_READ)
    return mm, np.frombuffer(mm, np.uint8, count=n).reshape(shape)


def _worker_main(parent_pid: int, factory: Callable | None, jobs, results, index: int, slots: list) -> None:
    import signal

    from avanomaly.utils import die_with_parent

    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the parent stops us
    fds = [getattr(s, "detach", lambda s=s: s)() for s in slots]  # inherited descriptors (DupFd on spawn)
    make = factory or _default_factory
    landmarker = None
    spare = None  # a fresh landmarker built while idle, for the next track
    results.put(("ready", index, None))
    job = PREPARE  # the first clip's mesh is built while its first frames decode
    while True:
        if job == PREPARE:
            if landmarker is not None:  # its clip is over: free it now
                getattr(landmarker, "close", lambda: None)()
                landmarker = None
            if spare is None:
                try:
                    spare = make()
                    getattr(spare, "prepare", lambda: None)()
                except Exception:  # noqa: BLE001 - built again (and its error reported) on the next track
                    spare = None
            job = jobs.get()
            continue
        if job is None:
            break
        job_id, new_track, n_skip, slot, shape = job
        try:
            if new_track or landmarker is None:
                if landmarker is not None:
                    getattr(landmarker, "close", lambda: None)()
                landmarker, spare = (spare if spare is not None else make()), None
            mm, frames = _slot_frames(fds[slot], shape)
            try:
                points = [landmarker.points(f) for f in frames][n_skip:]
            except BaseException as exc:  # noqa: BLE001 - its traceback holds views of the slot: drop it
                raise exc.with_traceback(None) from None
            finally:
                del frames
                try:
                    mm.close()
                except BufferError:  # a view still held somewhere: the map goes with it
                    pass
            results.put((job_id, True, points))
        except BaseException as exc:  # noqa: BLE001 - handed to the parent, re-raised there with its type
            landmarker = None
            try:
                results.put((job_id, False, _exception_payload(exc)))
            except Exception:  # noqa: BLE001 - an unpicklable exception: its text
                results.put((job_id, False, (RuntimeError, (f"{type(exc).__name__}: {exc}",), {})))
        job = jobs.get()
    for lm in (landmarker, spare):
        if lm is not None:
            getattr(lm, "close", lambda: None)()


# ------------------------------------------------------------------------------------------ parent side


@contextmanager
def _main_not_rerun():
    """``spawn`` runs the parent's ``__main__`` script again in the child unless it is guarded by ``if __name__ ==
    "__main__"``; the mesh workers need nothing from it, so a plain script that scores a file must not start
    itself again: hide it while the child's start-up data is taken (the landmarker factory must therefore live in
    an importable module)."""
    import sys
    import types

    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _anonymous_file() -> int:
    """A descriptor of a memory-backed file with no name (``memfd``), else of an unlinked temporary file."""
    import os

    if hasattr(os, "memfd_create"):
        return os.memfd_create("avanomaly-mesh-frames")
    import tempfile

    fd, path = tempfile.mkstemp(prefix="avanomaly-mesh-")
    os.unlink(path)
    return fd


class MeshPool:
    """``n_workers`` face-mesh processes, started on first use and kept for every clip until :meth:`close`.

    ``landmarker_factory``: a module-level callable (picklable) building a landmarker with ``points(frame)`` and
    optionally ``close()`` (default: MediaPipe's :class:`~avanomaly.preprocess.landmarks.FaceMeshLandmarker`).
    One clip at a time: :meth:`acquire` / :meth:`release` (the Detector falls back to its in-process front end
    when another thread holds the pool)."""

    def __init__(self, n_workers: int = 1, landmarker_factory: Callable | None = None):
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1, got {n_workers}")
        self.n_workers = int(n_workers)
        self.factory = landmarker_factory
        self._procs: list = []
        self._jobs: list = []
        self._results = None
        self.n_slots = IN_FLIGHT_PER_WORKER * self.n_workers
        self._slots: list = []  # [fd, size, mmap or None] per slot
        self._free: list[int] = []
        self._slot_of: dict = {}  # job id -> slot
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self.session = 0  # results of older sessions (a clip that failed half-way) are dropped

    # -------------------------------------------------------------- life cycle
    @property
    def started(self) -> bool:
        return bool(self._procs)

    def start(self) -> None:
        """Start the worker processes now (else on the first clip); returns without waiting for them."""
        if self._procs:
            return
        import multiprocessing as mp
        import os

        from multiprocessing.reduction import DupFd

        ctx = mp.get_context("spawn")
        self._results = ctx.Queue()
        self._slots = [[_anonymous_file(), 0, None] for _ in range(self.n_slots)]
        self._free = list(range(self.n_slots))
        self._slot_of = {}
        for i in range(self.n_workers):
            jobs = ctx.Queue()

            class _Fds(list):  # pickled at start(): each descriptor becomes the child's own copy
                def __reduce__(self):
                    return list, ([DupFd(fd) for fd in self],)

            proc = ctx.Process(target=_worker_main, name=f"avanomaly-mesh-{i}", daemon=True,
                               args=(os.getpid(), self.factory, jobs, self._results, i,
                                     _Fds(slot[0] for slot in self._slots)))
            with _main_not_rerun():
                proc.start()
            self._jobs.append(jobs)
            self._procs.append(proc)
        # no wait for the workers' start-up (imports, ~1-2 s): jobs queue meanwhile, a worker that dies is seen
        # by the first wait for a result

    def close(self) -> None:
        """Stop the workers and the queues' threads (idempotent)."""
        procs, self._procs = self._procs, []
        for jobs, proc in zip(self._jobs, procs):
            if proc.is_alive():
                try:
                    jobs.put(None)
                except Exception:  # noqa: BLE001 - closing anyway
                    pass
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for q in self._jobs + ([self._results] if self._results is not None else []):
            q.close()
            q.join_thread()
        self._jobs, self._results = [], None
        import os

        for fd, _, mm in self._slots:
            if mm is not None:
                mm.close()
            os.close(fd)
        self._slots, self._free, self._slot_of = [], [], {}

    def __del__(self):  # pragma: no cover - best effort at interpreter exit
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def forget(self) -> None:
        """Drop the jobs still out (a clip that failed half-way): their slots are free again (a worker still
        reading one reads frames of no consequence: its results carry the old session and are dropped)."""
        self._free.extend(self._slot_of.values())
        self._slot_of.clear()

    def acquire(self) -> bool:
        """Take the pool for one clip (non-blocking); False when another clip is using it."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self.start()
        except BaseException:
            self._lock.release()
            raise
        self.session += 1
        return True

    def release(self) -> None:
        """Give the pool back after a clip; its workers free that clip's face mesh and build a fresh one for the
        next clip meanwhile (:data:`PREPARE`), while this process finishes the clip's models."""
        for jobs in self._jobs:
            try:
                jobs.put(PREPARE)
            except Exception:  # noqa: BLE001 - a closed queue: the pool is being stopped
                pass
        self._lock.release()

    # -------------------------------------------------------------- jobs
    @property
    def free_slots(self) -> int:
        return len(self._free)

    def submit(self, worker: int, new_track: bool, n_skip: int, frames: np.ndarray) -> tuple:
        """Copy ``frames`` (T,H,W,3) uint8 into a free slot and queue them for ``worker``; -> the job's id. Needs a
        free slot (``free_slots``): the caller waits for a result first."""
        import mmap
        import os

        slot = self._free.pop()
        entry = self._slots[slot]
        n = max(1, frames.nbytes)
        if entry[1] < n:  # grow the slot (a larger frame size or block)
            if entry[2] is not None:
                entry[2].close()
            os.ftruncate(entry[0], n)
            entry[1], entry[2] = n, mmap.mmap(entry[0], n)
        np.frombuffer(entry[2], np.uint8, count=frames.nbytes).reshape(frames.shape)[...] = frames
        job_id = (self.session, next(self._ids))
        self._slot_of[job_id] = slot
        self._jobs[worker].put((job_id, bool(new_track), int(n_skip), slot, tuple(frames.shape)))
        return job_id

    def _get(self):
        """The next result message; MeshWorkerError (and the pool stopped) when a worker has died."""
        while True:
            try:
                return self._results.get(timeout=POLL_SECONDS)
            except _queue.Empty:
                dead = [p for p in self._procs if not p.is_alive()]
                if dead or not self._procs:
                    codes = ", ".join(f"{p.name} exit {p.exitcode}" for p in dead) or "closed"
                    self.close()
                    raise MeshWorkerError(f"a face-mesh worker process ended ({codes}); the pool was stopped "
                                          "(killed, or out of memory?)") from None

    def result(self, job_id: tuple, store: dict):
        """Wait for ``job_id``'s points (list of (478,3) arrays or None); results of other jobs of this session
        that arrive first are kept in ``store``; a worker's exception is re-raised here, same type."""
        while job_id not in store:
            got_id, ok, payload = self._get()
            if got_id == "ready" or got_id[0] != self.session:
                continue  # a stale result of a clip that failed half-way
            store[got_id] = (ok, payload)
        ok, payload = store.pop(job_id)
        self._free.append(self._slot_of.pop(job_id))
        if not ok:
            raise _rebuild_exception(payload)
        return payload


class _NoLandmarker:
    """LipTracker's landmarker when the points come from the pool: nothing to run or close here."""

    def points(self, frame):  # pragma: no cover - never called
        raise AssertionError("PipelinedLipTracker computes points in its workers")


class PipelinedLipTracker:
    """:class:`~avanomaly.preprocess.landmarks.LipTracker` with the face mesh in ``pool``'s workers.

    ``push(frames)`` submits and returns (blocking only while ``max_in_flight`` jobs are out); ``take(through=n)``
    waits until the first ``n`` pushed frames are meshed, then returns what LipTracker's ``take`` would; ``finish``
    waits for everything. ``segment_frames`` / ``warmup_frames``: see the module docstring (0: one exact track).
    The caller holds ``pool`` (:meth:`MeshPool.acquire`) for the clip and calls :meth:`abort` when it fails."""

    def __init__(self, cfg, pool: MeshPool, source=None, segment_frames: int = 0, warmup_frames: int = 0,
                 max_in_flight: int | None = None):
        from avanomaly.preprocess.landmarks import LipTracker

        if segment_frames < 0 or warmup_frames < 0:
            raise ValueError("segment_frames and warmup_frames must be >= 0")
        self.pool = pool
        self.lips = LipTracker(cfg, source=source, landmarker_factory=_NoLandmarker)
        self.segment = int(segment_frames)
        self.warmup = int(warmup_frames) if segment_frames else 0
        self.max_in_flight = min(max_in_flight or pool.n_slots, pool.n_slots)
        self.pushed = 0  # frames submitted
        self.done = 0  # frames whose points went through LipTracker
        self.out: deque = deque()  # (job_id, n_frames) in frame order
        self.store: dict = {}
        self.tail = None  # the last `warmup` frames pushed (a new segment's warm-up)

    def _submit(self, worker: int, new_track: bool, frames: np.ndarray, n_skip: int = 0) -> None:
        while len(self.out) >= self.max_in_flight:
            self._consume_one()
        self.out.append((self.pool.submit(worker, new_track, n_skip, frames), len(frames) - n_skip))

    def push(self, frames: np.ndarray) -> None:
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
        frames = np.ascontiguousarray(frames)
        if not self.segment:
            self._submit(0, self.pushed == 0, frames)
            self.pushed += len(frames)
            return
        i = 0
        while i < len(frames):
            g = self.pushed
            seg = g // self.segment
            n = min(len(frames) - i, (seg + 1) * self.segment - g)
            piece = frames[i:i + n]
            worker = seg % self.pool.n_workers
            if g % self.segment == 0:  # a new track: warm up on the frames before it
                warm = self.tail if (seg > 0 and self.warmup and self.tail is not None) else None
                block = piece if warm is None else np.concatenate([warm, piece])
                self._submit(worker, True, block, 0 if warm is None else len(warm))
            else:
                self._submit(worker, False, piece)
            if self.warmup:
                keep = piece if self.tail is None else np.concatenate([self.tail, piece])
                self.tail = keep[-self.warmup:].copy()
            self.pushed += n
            i += n

    def _consume_one(self) -> None:
        job_id, n = self.out.popleft()
        points = self.pool.result(job_id, self.store)
        if len(points) != n:
            raise AssertionError(f"mesh worker returned {len(points)} frames for {n}")
        self.lips.push_points(points)
        self.done += n

    def take(self, through: int | None = None):
        """LipTracker's ``take`` once the first ``through`` pushed frames (default: all) are meshed."""
        through = self.pushed if through is None else min(int(through), self.pushed)
        while self.done < through:
            self._consume_one()
        return self.lips.take()

    def finish(self):
        while self.out:
            self._consume_one()
        return self.lips.finish()

    @property
    def face_px(self) -> list[float]:
        """The face's size (inter-ocular pixels) of each face found so far (LipTracker's; stream_features' fact)."""
        return self.lips.face_px

    def abort(self) -> None:
        """Forget this clip's jobs: their results are dropped when they arrive (the pool's session moves on)."""
        self.pool.forget()
        self.out.clear()
        self.store.clear()
        self.tail = None
