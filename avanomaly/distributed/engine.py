"""The engine adapter: ``map_unordered(spec, fn, items, setup, setup_args)`` on a Dask cluster.

Engines: ``local`` (the package's own process pools, in preprocess/ and scoring/: this module is not used) and
``dask`` (Dask/distributed, the ``cluster`` extra). Why Dask and not Ray (docs/scale.md "Engine"): a pure-Python
install (35 MB with its dependencies; Ray 2.60: a 79 MB wheel, 202 MB unpacked, with a C++ runtime), a local
cluster that starts in 2-4 s here with no daemon left behind, plain processes with a nanny that restarts a killed worker and re-runs its tasks, and
``--address tcp://host:8786`` for a cluster started by ``dask scheduler`` / ``dask worker`` or dask-jobqueue.

Semantics of :func:`map_unordered`:

* each worker process runs ``setup(*setup_args)`` once before its first task of this map (the pool initializer
  of the local pools), then ``fn(item)`` for each item it is given; one thread per worker process;
* results come back as tasks finish, as :class:`TaskOutcome` (index into ``items``, ok, value / reason, message);
* a worker that dies (killed, out of memory) is restarted by its nanny and its tasks are run again elsewhere; a
  task that killed ``allowed_failures + 1`` workers comes back with reason :data:`WORKER_DIED` (never an
  exception for one item); an exception raised by ``fn`` comes back with reason ``error:<Type>``.
"""

from __future__ import annotations

import logging
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from avanomaly.errors import ConfigError
from avanomaly.utils import require_module

#: engine names accepted by ``--engine``
ENGINES = ("local", "dask")
#: the avanomaly extra that installs the Dask engine
CLUSTER_EXTRA = "cluster"
#: reason of an item whose worker process died (more often than the scheduler's allowed failures)
WORKER_DIED = "worker-died"
#: seconds to wait for an existing scheduler given by --address
CONNECT_TIMEOUT_S = 30
#: times the scheduler re-runs a task whose worker died before it gives up on the task (Dask's default is 3)
ALLOWED_FAILURES = 3


@dataclass(frozen=True)
class EngineSpec:
    """Which engine runs a batch: ``name`` in ENGINES; ``address`` of an existing scheduler (None: start a local
    cluster of ``workers`` processes, one thread each, for the duration of the batch)."""

    name: str = "local"
    address: str | None = None
    workers: int | None = None

    @property
    def is_local(self) -> bool:
        return self.name == "local"

    def describe(self) -> str:
        if self.is_local:
            return "local process pool"
        return f"{self.name} cluster at {self.address}" if self.address else f"{self.name} local cluster"


def engine_spec(name: str | None = "local", address: str | None = None, workers: int | None = None) -> EngineSpec:
    """A checked EngineSpec; ConfigError for an unknown engine or an ``address`` with the local engine."""
    name = (name or "local").lower()
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    if address and name == "local":
        raise ConfigError("--address names a cluster scheduler: use it with --engine dask")
    if workers is not None and int(workers) < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    return EngineSpec(name, address or None, None if workers is None else int(workers))


@dataclass
class TaskOutcome:
    """One finished item: ``index`` into the items; ``ok`` with ``value`` = fn's result, or ``reason`` / ``message``."""

    index: int
    ok: bool
    value: Any = None
    reason: str = ""
    message: str = ""


# ------------------------------------------------------------------------------------------------ worker side
_SETUP_DONE: set = set()


def _run_task(token: str, setup: Callable | None, setup_args: tuple, fn: Callable, item):
    """On a worker: ``setup(*setup_args)`` once per (process, map) token, then ``fn(item)``."""
    if setup is not None and token not in _SETUP_DONE:
        setup(*setup_args)
        _SETUP_DONE.add(token)
    return fn(item)


# ------------------------------------------------------------------------------------------------ client side
@contextmanager
def dask_client(spec: EngineSpec):
    """A ``distributed.Client``: connected to ``spec.address``, or to a local cluster of ``spec.workers`` processes
    (one thread each) that is closed with the client."""
    distributed = require_module("distributed", CLUSTER_EXTRA, "--engine dask")
    import dask

    settings = {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}
    with dask.config.set(settings):
        if spec.address:
            try:
                client = distributed.Client(spec.address, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot reach the dask scheduler at {spec.address}: {exc}") from exc
            try:
                yield client
            finally:
                client.close()
            return
        n = spec.workers or _default_workers()
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR,
                                           scheduler_port=0)
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()


def _default_workers() -> int:
    from avanomaly.utils import available_cores

    return available_cores()


def map_unordered(spec: EngineSpec, fn: Callable, items: Sequence, setup: Callable | None = None,
                  setup_args: tuple = (), client=None) -> Iterator[TaskOutcome]:
    """Run ``fn(item)`` for every item on the engine ``spec`` (not ``local``); yields TaskOutcome as tasks finish.

    ``fn`` and ``setup`` are module-level functions (pickled by reference). ``client``: an already open
    ``distributed.Client`` to reuse (benchmarks, tests); else one is opened for this map and closed after it."""
    if spec.is_local:
        raise ConfigError("map_unordered runs on a cluster engine; the local engine is the package's process pool")
    items = list(items)
    if not items:
        return
    if client is not None:
        yield from _map(client, fn, items, setup, setup_args)
        return
    with dask_client(spec) as own:
        yield from _map(own, fn, items, setup, setup_args)


def _map(client, fn, items, setup, setup_args) -> Iterator[TaskOutcome]:
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    token = uuid.uuid4().hex
    futures = client.map(_run_task, [token] * len(items), [setup] * len(items), [tuple(setup_args)] * len(items),
                         [fn] * len(items), items, pure=False, key=[f"avanomaly-{token}-{i}" for i in range(len(items))])
    index = {f.key: i for i, f in enumerate(futures)}
    try:
        for fut in as_completed(futures):
            i = index[fut.key]
            if fut.status == "finished":
                yield TaskOutcome(i, True, fut.result())
                continue
            exc = fut.exception()
            if isinstance(exc, KilledWorker):
                yield TaskOutcome(i, False, reason=WORKER_DIED,
                                  message=f"the worker process running this item died {ALLOWED_FAILURES + 1} "
                                          "time(s) (killed, or out of memory?); run it again with the local "
                                          "engine and --workers 1 to see why")
            else:
                yield TaskOutcome(i, False, reason=f"error:{type(exc).__name__}", message=str(exc))
    finally:
        client.cancel([f for f in futures if not f.done()])


def worker_pid() -> int:
    """This process's id (a task helper: which worker ran an item)."""
    return os.getpid()
