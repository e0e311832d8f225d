"""Limits on receiving uploads, so that slow or stalled clients cannot hold the service (docs/service.md,
"Deadlines and limits").

- :class:`ReceiveLimits` + :func:`receive_body`: the whole body must arrive within ``timeout_s``, and after
  ``grace_s`` the average rate since the body started must stay at or above ``min_rate`` bytes/s; otherwise
  :class:`UploadError` 408. The waits are cancel scopes on the event loop (no thread, no polling): each
  ``receive()`` is given exactly the time by which the next bytes must have arrived.
- :class:`ClientCounter`: requests in progress per peer address (the per-client cap, 429).

No web framework is imported here (only anyio, a dependency of the serve extra's starlette).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Awaitable, Callable

from avanomaly.serve.uploads import UploadError

#: the HTTP status of an upload that is not received in time
TIMEOUT_STATUS = 408


class ClientGone(Exception):
    """The client disconnected while its body was being received."""


@dataclass(frozen=True)
class ReceiveLimits:
    """``timeout_s``: seconds to receive the whole body (0 = no limit). ``min_rate``: bytes/s the body must
    average, counted from its start, once ``grace_s`` seconds have passed (0 = no minimum)."""

    timeout_s: float
    min_rate: float
    grace_s: float

    def __post_init__(self):
        for name in ("timeout_s", "min_rate", "grace_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")

    def due(self, started: float, received: int) -> float:
        """The time (same clock as ``started``) by which more bytes must arrive, after ``received`` bytes; inf
        when nothing limits it."""
        due = math.inf
        if self.timeout_s:
            due = started + self.timeout_s
        if self.min_rate:  # at time t >= grace the body must hold min_rate * t bytes
            due = min(due, started + max(self.grace_s, received / self.min_rate))
        return due

    def error(self, started: float, received: int, now: float) -> UploadError:
        elapsed = now - started
        if self.timeout_s and elapsed >= self.timeout_s:
            return UploadError(TIMEOUT_STATUS, "upload-timeout",
                               f"the upload was not received within {self.timeout_s:g} s ({received} bytes "
                               "arrived); send it faster or ask for a longer --body-timeout")
        return UploadError(TIMEOUT_STATUS, "upload-too-slow",
                           f"the upload arrived at {received / max(elapsed, 1e-9):.0f} bytes/s, below the minimum "
                           f"of {self.min_rate:g} bytes/s (--min-upload-rate, after {self.grace_s:g} s)")


async def receive_body(receive: Callable[[], Awaitable[dict]], feed: Callable[[bytes], None],
                       limits: ReceiveLimits) -> int:
    """Read an ASGI request body from ``receive``, passing each chunk to ``feed``; returns the bytes read.

    Raises ``UploadError`` 408 (``upload-timeout`` / ``upload-too-slow``) the moment ``limits`` are missed,
    :class:`ClientGone` when the client disconnects, and whatever ``feed`` raises.
    """
    import anyio

    started = anyio.current_time()
    received = 0
    while True:
        due = limits.due(started, received)
        with anyio.CancelScope(deadline=due) as scope:
            message = await receive()
        if scope.cancelled_caught:
            raise limits.error(started, received, anyio.current_time())
        if message["type"] == "http.disconnect":
            raise ClientGone()
        body = message.get("body", b"")
        if body:
            received += len(body)
            feed(body)
        if not message.get("more_body", False):
            return received


class ClientCounter:
    """Requests in progress per client address, capped at ``limit`` (0 = no cap). Used on the event loop only."""

    def __init__(self, limit: int):
        if limit < 0:
            raise ValueError(f"the per-client limit must be >= 0, got {limit}")
        self.limit = limit
        self._counts: Counter = Counter()

    def acquire(self, client: str) -> bool:
        """Count one more request of ``client``; False (nothing counted) when it already has ``limit``."""
        if self.limit and self._counts[client] >= self.limit:
            return False
        self._counts[client] += 1
        return True

    def release(self, client: str) -> None:
        self._counts[client] -= 1
        if self._counts[client] <= 0:
            del self._counts[client]

    def __getitem__(self, client: str) -> int:
        return self._counts.get(client, 0)
