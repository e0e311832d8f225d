"""Run the service on a loopback port in a background thread (tests, notebooks)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Iterator

LOOPBACK = "127.0.0.1"
#: seconds to wait for the server to start / stop
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
POLL_S = 0.02


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def background_server(app, host: str = LOOPBACK, port: int | None = None,
                      log_level: str = "warning") -> Iterator[str]:
    """Serve ``app`` with uvicorn in a daemon thread; yields the base URL; stops the server on exit."""
    import uvicorn

    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="off", server_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="avanomaly-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(POLL_S)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():  # pragma: no cover - reported, never hangs the caller
            raise RuntimeError("uvicorn did not stop in time")
