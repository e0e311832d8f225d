"""Small shared helpers: atomic writes, a CSV appended one whole row at a time, hashing, seeding, dataclass <-> dict, quoting user data in messages,
path-length checks."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import hashlib
import io
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from avanomaly.errors import ConfigError, FileBusyError, MissingDependencyError


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


#: record terminator of the rows of an AppendCSV (one write per row ends with it)
CSV_LINE_END = "\n"
#: suffix of the lock file beside an AppendCSV (one writer at a time)
CSV_LOCK_SUFFIX = ".lock"


def csv_header(columns) -> str:
    """The header line of a CSV with ``columns``."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator=CSV_LINE_END).writerow(columns)
    return buf.getvalue()


def csv_line(columns, row: dict) -> str:
    """One complete CSV line of ``row`` in ``columns`` order (a missing key is blank, an extra one left out)."""
    buf = io.StringIO()
    csv.DictWriter(buf, fieldnames=list(columns), lineterminator=CSV_LINE_END, extrasaction="ignore").writerow(row)
    return buf.getvalue()


class AppendCSV:
    """A CSV file written one whole row at a time, for runs that may be killed (``score --csv``, ``evaluate``'s
    detailed_results.csv, ``preprocess``'s failures.csv).

    Each row is one write of a complete record, then flush + fsync, so a killed run leaves every finished row and
    at most an unterminated last line (a run killed mid-write; readers that resume drop it). One writer at a time:
    :meth:`lock` takes an exclusive OS lock on ``<file>.lock`` (``filelock``; released by the OS if the process
    dies, so a killed run never blocks the next one) and raises :class:`FileBusyError` when another run holds it.
    Use: ``lock()``, ``start(rows)`` (header + ``rows``, written atomically; ``start()`` appends to the file as it
    is), ``append(row)`` per finished row, ``rewrite(rows)`` to replace the rows (atomically, e.g. sorted at the
    end), ``close()``.
    """

    def __init__(self, path, columns):
        self.path = Path(path)
        self.columns = tuple(columns)
        self._fh = None
        self._lock = None

    def lock(self) -> None:
        """Take the file's lock (held until :meth:`close`); FileBusyError when another run holds it."""
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.path.with_name(self.path.name + CSV_LOCK_SUFFIX), timeout=0)
        try:
            lock.acquire()
        except Timeout as exc:
            raise FileBusyError(f"{self.path} is being written by another avanomaly run") from exc
        self._lock = lock

    def start(self, rows=None) -> None:
        """Open the file for appending; with ``rows`` (even none) it is first replaced by the header and them."""
        if rows is not None:
            self._replace(rows)
        self._fh = open(self.path, "a", encoding="utf-8", newline="")

    def _replace(self, rows) -> None:
        atomic_write_text(self.path, csv_header(self.columns) + "".join(csv_line(self.columns, r) for r in rows))

    def append(self, row: dict) -> None:
        """Write one complete row, flush and fsync it."""
        if self._fh is None:
            raise RuntimeError("AppendCSV.append before start()")
        self._fh.write(csv_line(self.columns, row))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def rewrite(self, rows) -> None:
        """Replace the file by the header and ``rows`` (atomically); later appends go to the new file."""
        was_open = self._fh is not None
        if was_open:
            self._fh.close()
            self._fh = None
        self._replace(rows)
        if was_open:
            self.start()

    def close(self) -> None:
        """Close the file and release the lock (both idempotent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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


def dataclass_from_dict(cls, data, where: str = "", text: bool = False):
    """Build dataclass ``cls`` from the plain dict ``data`` read from a file (model file, config YAML, JSON),
    checking every value against the field's type: the one checked coercion of file data into configs.

    ``cls`` is a dataclass type (missing keys take the field defaults) or an instance (missing keys keep its
    values; a field typed ``Any`` whose current value is a dataclass is built like that value). Unknown keys,
    a value of the wrong type (``"3"`` for an int, ``True`` for a number, NaN/inf for a float, a scalar for a
    nested config) and values the dataclass itself refuses are a :class:`ConfigError` naming the key (prefixed
    with ``where``). ``text=True`` (values parsed from YAML text) also accepts numeric strings for float fields
    (YAML 1.1 reads ``1e-4`` as a string) and numbers for string fields. Never imports or calls anything named
    by the data."""
    import typing

    instance = None if isinstance(cls, type) else cls
    klass = cls if instance is None else type(cls)
    if not dataclasses.is_dataclass(klass):
        raise TypeError(f"{klass!r} is not a dataclass")
    if not isinstance(data, dict):
        raise ConfigError(f"{where.rstrip('.') or klass.__name__} must be a mapping, got {_kind(data)}")
    fields = {f.name: f for f in dataclasses.fields(klass) if f.init}
    unknown = sorted(k for k in data if k not in fields)
    if unknown:
        raise ConfigError(f"unknown config key(s) {[f'{where}{k}' for k in unknown]}; known: {sorted(fields)}")
    try:
        hints = typing.get_type_hints(klass)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: fall back to the raw annotations
        hints = {name: f.type for name, f in fields.items()}
    kwargs = {}
    for key, value in data.items():
        current = getattr(instance, key) if instance is not None else _field_default(fields[key])
        kwargs[key] = _coerce_value(value, hints.get(key, typing.Any), current, f"{where}{key}", text)
    try:
        return dataclasses.replace(instance, **kwargs) if instance is not None else klass(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where.rstrip('.')}: {exc}" if where else str(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {where.rstrip('.') or klass.__name__}: {exc}") from exc


_NO_DEFAULT = object()


def _field_default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return _NO_DEFAULT


def _kind(value) -> str:
    from avanomaly.errors import shorten

    return f"{shorten(repr(value), 80)} ({type(value).__name__})"


def _coerce_value(value, hint, current, key: str, text: bool):
    """``value`` checked against type ``hint`` (``current``: the default / present value, or _NO_DEFAULT)."""
    import math
    import numbers
    import types
    import typing

    origin = typing.get_origin(hint)
    if hint is typing.Any or hint is object:
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            return dataclass_from_dict(current, value, f"{key}.", text)
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _coerce_value(value, option, current, key, text)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else ConfigError(f"{key}: {_kind(value)} fits none of {hint}")
    if dataclasses.is_dataclass(hint):
        base = current if dataclasses.is_dataclass(current) and not isinstance(current, type) else hint
        return dataclass_from_dict(base, value, f"{key}.", text)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true/false, got {_kind(value)}")
        return value
    if hint is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        raise ConfigError(f"{key} must be an integer, got {_kind(value)}")
    if hint is float:
        number = None
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            number = float(value)
        elif text and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(f"{key} must be a number, got {_kind(value)}")
        if not math.isfinite(number):
            raise ConfigError(f"{key} must be a finite number, got {value!r}")
        return number
    if hint is str:
        if isinstance(value, str):
            return value
        if text and isinstance(value, numbers.Real) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key} must be a string, got {_kind(value)}")
    if hint in (list, tuple) or origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {_kind(value)}")
        args = typing.get_args(hint)
        item = args[0] if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis) else typing.Any
        items = [_coerce_value(v, item, _NO_DEFAULT, f"{key}[{i}]", text) for i, v in enumerate(value)]
        return tuple(items) if (origin or hint) is tuple else items
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {_kind(value)}")
        return dict(value)
    return value


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


def available_cores() -> int:
    """CPU cores this process may run on (``os.sched_getaffinity``, so a ``taskset`` / container limit counts;
    ``os.cpu_count()`` where affinity is unknown): the default number of worker processes of batch commands."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


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


_STDERR_LOCK = threading.RLock()


@contextlib.contextmanager
def filtered_stderr(drop):
    """Hold back what is written to file descriptor 2 (also by native code and its threads) while the block runs,
    then write it out again without the lines matching ``drop`` (a compiled regular expression). For chatty native
    libraries (MediaPipe's start-up log lines): everything else, errors included, still reaches stderr, after the
    block. Re-entrant and serialised across threads (file descriptor 2 is the process's). Where fd 2 cannot be
    redirected (no such descriptor) the block runs unfiltered."""
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield
            return
        held = tempfile.TemporaryFile()
        try:
            os.dup2(held.fileno(), 2)
            try:
                yield
            finally:
                try:
                    sys.stderr.flush()
                except (OSError, ValueError, AttributeError):
                    pass
                os.dup2(saved, 2)
        finally:
            os.close(saved)
            held.seek(0)
            text = held.read()
            held.close()
            kept = b"".join(line for line in text.splitlines(keepends=True)
                            if not drop.search(line.decode("utf-8", "replace")))
            while kept:
                kept = kept[os.write(2, kept):]
