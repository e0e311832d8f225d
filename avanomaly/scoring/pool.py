"""Score many files over worker processes: each worker loads the model once, results come back as files finish.

The one process pool of ``avanomaly score`` and ``avanomaly evaluate`` (docs/scoring.md "Many files")::

    with scoring_pool(paths, workers, load_detector, (model_path, "cpu", {}), threads=None,
                      score_kwargs={"threshold": None}) as finished:
        for index, result in finished:      # in finishing order; index into ``paths``
            ...

Workers are ``spawn``ed (fork is unsafe with torch / OpenCV threads), die with their parent
(:func:`avanomaly.utils.dying_pool_initializer`), ignore Ctrl-C (the parent stops them) and run one torch /
OpenCV thread each unless ``threads`` says otherwise. Leaving the ``with`` block early (an exception, Ctrl-C,
SIGTERM handled as an exception) cancels the files not started and ends the workers at once. A worker that dies
(killed, out of memory) turns each file it left unfinished into a ``ScoreFailure`` (reason
:data:`WORKER_DIED`); the batch goes on only as far as the pool can (a broken pool fails the rest the same way).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

#: reason of a file whose worker process ended before returning its result
WORKER_DIED = "worker-died"

_WORKER: dict = {}


def worker_threads(workers: int, threads: int | None) -> int | None:
    """Torch threads per worker: ``threads`` when given, else 1 when several processes share the cores, else
    None (one in-process worker: leave torch's default)."""
    if threads:
        return int(threads)
    return 1 if workers > 1 else None


def load_detector(model, device: str = "cpu", options: dict | None = None):
    """``Detector.from_pretrained(model, device=..., **options)``: the loader ``avanomaly score`` hands its
    workers. The pool already spreads files over the cores, so a worker scores in-process (``pipeline=False``:
    no face-mesh processes of its own) unless ``options`` says otherwise."""
    from avanomaly.scoring.detector import Detector

    return Detector.from_pretrained(model, device=device, **{"pipeline": False, **(options or {})})


def _init_worker(load: Callable, load_args: tuple, threads: int, score_kwargs: dict) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent stops us
    _init_engine_worker(load, load_args, threads, score_kwargs)


def _init_engine_worker(load: Callable, load_args: tuple, threads: int, score_kwargs: dict) -> None:
    """The worker setup on a cluster engine, and (after its SIGINT handler) ``_init_worker``'s: threads, detector.
    No signal handler here: a Dask worker runs tasks in a thread, and its nanny, not this process's parent, stops it."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    try:
        import cv2

        cv2.setNumThreads(max(1, int(threads)))
    except ImportError:  # pragma: no cover - OpenCV is a core dependency
        pass
    _WORKER.update(detector=load(*load_args), kwargs=dict(score_kwargs))


def _score_one(path: str):
    return _WORKER["detector"].score_one_safe(path, **_WORKER["kwargs"])


def _stop(pool) -> None:
    """End the workers now (not after their current file): cancel what has not started, terminate the rest."""
    pool.shutdown(wait=False, cancel_futures=True)
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if proc.is_alive():
            proc.terminate()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.join(timeout=5)


@contextmanager
def scoring_pool(paths: Sequence[str], workers: int, load: Callable, load_args: tuple = (),
                 threads: int | None = None, score_kwargs: dict | None = None,
                 engine=None) -> Iterator[Iterator[tuple]]:
    """Score ``paths`` in ``min(workers, len(paths))`` processes; yields an iterator of ``(index, result)`` in
    the order files finish (``result``: ScoreResult or ScoreFailure, never an exception for one file).

    ``load(*load_args)`` (a module-level function, picklable) builds each worker's detector once;
    ``score_kwargs`` go to every ``score_one_safe`` call (aggregation, threshold, max_seconds).

    ``engine``: an :class:`avanomaly.distributed.EngineSpec` other than ``local`` scores on a Dask cluster (a
    local one of ``workers`` processes, or ``engine.address``) with the same per-file call; a file whose worker
    died more often than the cluster retries is a ``ScoreFailure`` with reason :data:`WORKER_DIED`."""
    if engine is not None and not engine.is_local:
        with _engine_pool(paths, workers, load, load_args, threads, score_kwargs, engine) as finished:
            yield finished
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from avanomaly.scoring.result import ScoreFailure
    from avanomaly.utils import dying_pool_initializer

    paths = [str(p) for p in paths]
    n = max(1, min(int(workers), len(paths)))
    init, initargs = dying_pool_initializer(
        _init_worker, (load, tuple(load_args), worker_threads(n, threads) or 1, dict(score_kwargs or {})))
    pool = ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"), initializer=init, initargs=initargs)

    state = {"all_done": False}

    def finished():
        futures = {pool.submit(_score_one, p): i for i, p in enumerate(paths)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                res = fut.result()
            except BrokenProcessPool:
                res = ScoreFailure(paths[i], WORKER_DIED, "the scoring worker process ended before finishing this "
                                   "file (killed, or out of memory?); score it again with --workers 1 to see why")
            except Exception as exc:  # noqa: BLE001 - e.g. MemoryError in a worker: this file fails, not the batch
                res = ScoreFailure(paths[i], "error", f"{type(exc).__name__}: {exc}")
            yield i, res
        state["all_done"] = True

    try:
        yield finished()
    finally:
        if state["all_done"]:
            pool.shutdown(wait=True)
        else:  # left early (an exception, Ctrl-C, SIGTERM, a break): the workers go now
            _stop(pool)


@contextmanager
def _engine_pool(paths, workers, load, load_args, threads, score_kwargs, engine):
    import dataclasses

    from avanomaly.distributed.engine import WORKER_DIED as ENGINE_DIED, map_unordered
    from avanomaly.scoring.result import ScoreFailure

    paths = [str(p) for p in paths]
    spec = dataclasses.replace(engine, workers=engine.workers or max(1, min(int(workers), len(paths))))
    setup_args = (load, tuple(load_args), worker_threads(2, threads) or 1, dict(score_kwargs or {}))
    outcomes = map_unordered(spec, _score_one, paths, _init_engine_worker, setup_args)

    def finished():
        for out in outcomes:
            if out.ok:
                yield out.index, out.value
            elif out.reason == ENGINE_DIED:
                yield out.index, ScoreFailure(paths[out.index], WORKER_DIED, out.message)
            else:
                yield out.index, ScoreFailure(paths[out.index], "error", out.message)

    try:
        yield finished()
    finally:
        outcomes.close()  # leaving early cancels what has not run and closes a cluster started here
