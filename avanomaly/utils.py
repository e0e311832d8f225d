"""Small shared helpers: atomic writes, hashing, seeding, dataclass <-> dict, quoting user data in messages,
path-length checks."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from avanomaly.errors import ConfigError, MissingDependencyError


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


#: longest file name (bytes) of the usual POSIX file systems, used when the system does not tell
DEFAULT_NAME_MAX = 255


def name_max(path) -> int:
    """Longest file name (bytes) allowed in the folder of ``path`` (its nearest existing ancestor)."""
    folder = Path(os.path.abspath(path)).parent
    while True:
        try:
            return int(os.pathconf(folder, "PC_NAME_MAX"))
        except (OSError, ValueError):
            if folder.parent == folder:
                return DEFAULT_NAME_MAX
            folder = folder.parent


def path_too_long(path) -> str | None:
    """Why ``path`` cannot even be looked up (a file name over NAME_MAX bytes or a path over PATH_MAX), or None.

    Asks the operating system (``os.stat`` failing with ENAMETOOLONG), so the limits are those of the file
    system that holds the path; the message names the longest component and the limit."""
    try:
        os.stat(path)
        return None
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            return None
    except ValueError:  # an embedded NUL byte: not a length problem (the open fails with its own reason)
        return None
    parts = [os.fsencode(p) for p in Path(path).parts]
    longest = max(parts, key=len) if parts else b""
    limit = name_max(path)
    if len(longest) > limit:
        return (f"file name too long: a path component is {len(longest)} bytes, the file system allows "
                f"{limit} (NAME_MAX)")
    return f"path too long: {len(os.fsencode(str(path)))} bytes, over the system limit (PATH_MAX)"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def settings_hash(obj: Any) -> str:
    """Stable short hash of a dataclass / dict of settings."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    blob = json.dumps(obj, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def require_module(name: str, extra: str, needed_for: str):
    """``importlib.import_module(name)`` for an optional dependency; when it is not installed, a
    MissingDependencyError that names what needs it and the pip line of the avanomaly extra that installs it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(f"{needed_for} needs the {name.split('.')[0]!r} package: pip install "
                                     f"'avanomaly[{extra}]' ({type(exc).__name__}: {exc})") from exc


def dataclass_from_dict(cls, data: dict):
    """Build dataclass ``cls`` from ``data``, recursing into nested dataclass fields; unknown keys are an error."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        ftype = names[key].type
        target = None
        if dataclasses.is_dataclass(ftype):
            target = ftype
        elif isinstance(ftype, str):
            # postponed annotations: look the class up in the module of cls
            import sys

            target = getattr(sys.modules[cls.__module__], ftype, None)
            if not dataclasses.is_dataclass(target):
                target = None
        kwargs[key] = dataclass_from_dict(target, value) if target is not None and isinstance(value, dict) else value
    return cls(**kwargs)


def prefetch(iterable, depth: int = 1, name: str = "avanomaly-prefetch"):
    """Iterate ``iterable`` in a background thread that stays at most ``depth`` items ahead (bounded memory).

    Used to decode the next video chunk while the current one is being scored: PyAV releases the GIL while
    decoding, so decode and model overlap. Items arrive in order; an exception raised by ``iterable`` is
    re-raised here (same object, same traceback) after the items before it. Closing the returned generator
    early (``break``, an exception in the consumer) stops the thread after the item it is producing and
    waits for it, so the iterable's own clean-up (closing the file) has run when this generator is closed.
    """
    import queue
    import threading

    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(payload) -> bool:
        while not stop.is_set():
            try:
                q.put(payload, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work():
        it = iter(iterable)
        try:
            for item in it:
                if not put((True, item)):
                    return
            put((True, end))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            put((False, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is end:
                return
            yield item
    finally:
        stop.set()
        thread.join()


#: seconds between a pool worker's checks that its parent still runs (the portable fallback of PR_SET_PDEATHSIG)
PARENT_POLL_SECONDS = 0.5
#: exit status of a pool worker that ends because its parent ended
PARENT_GONE_EXIT = 70
#: prctl option "send me this signal when my parent dies" (linux/prctl.h)
_PR_SET_PDEATHSIG = 1


def dying_pool_initializer(init=None, initargs=()) -> tuple:
    """``(initializer, initargs)`` for a process pool whose workers end with the process that creates it,
    however it ends (SIGKILL included), instead of running on to the end of their current file.

    ``init(*initargs)`` is the pool's own initializer (module-level, so ``spawn`` can pickle it). Pass the pair to
    ``multiprocessing.Pool`` / ``ProcessPoolExecutor`` as ``initializer=..., initargs=...``; every pool of the
    package does (preprocess, evaluation scoring, synthetic generation)."""
    return _init_pool_worker, (os.getpid(), init, tuple(initargs))


def _init_pool_worker(parent_pid: int, init, initargs: tuple) -> None:
    die_with_parent(parent_pid)
    if init is not None:
        init(*initargs)


def die_with_parent(parent_pid: int, poll_seconds: float = PARENT_POLL_SECONDS) -> None:
    """End this process (``os._exit(PARENT_GONE_EXIT)``) as soon as ``parent_pid``, the process that started it,
    ends. On Linux the kernel does it at once (``prctl(PR_SET_PDEATHSIG, SIGKILL)``); everywhere a daemon
    thread also watches, every ``poll_seconds``, for ``os.getppid()`` to change (the orphan is re-parented) or
    the multiprocessing parent's sentinel to close. A parent already gone when this is called ends it now."""
    import signal
    import sys
    import threading

    ppid = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc / no prctl: the watchdog below still holds
            pass
    if not _pid_alive(parent_pid):  # died before prctl took effect
        os._exit(PARENT_GONE_EXIT)
    threading.Thread(target=_watch_parent, args=(ppid, poll_seconds), name="avanomaly-parent-watch",
                     daemon=True).start()


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate it on Windows; the watchdog decides there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_parent(ppid: int, poll_seconds: float) -> None:
    import multiprocessing
    from multiprocessing import connection

    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    while os.getppid() == ppid:
        if sentinel is None:
            time.sleep(poll_seconds)
        elif connection.wait([sentinel], timeout=poll_seconds):
            break
    os._exit(PARENT_GONE_EXIT)
