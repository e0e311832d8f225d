"""Run the service on a loopback port in a background thread (tests, notebooks); write uploads the way
pipes do (no declared duration) for the duration-limit tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

LOOPBACK = "127.0.0.1"
#: seconds to wait for the server to start / stop
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
POLL_S = 0.02


def write_piped_copy(src, dest, container_format: str = "matroska") -> Path:
    """Remux ``src`` (no re-encoding) into ``dest`` through a non-seekable stream, so that ``dest`` declares no
    duration (container or per stream) although every frame is there: the kind of file that passes a
    duration check made on the container alone. Returns ``dest``."""
    import av

    from avanomaly.io.testing import NonSeekableWriter

    dest = Path(dest)
    with open(dest, "wb") as fh, av.open(str(src)) as inp, \
            av.open(NonSeekableWriter(fh), mode="w", format=container_format) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(*[inp.streams[i] for i in streams]):
            if packet.dts is None:  # the demuxer's flush packets
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dest


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def background_server(app, host: str = LOOPBACK, port: int | None = None,
                      log_level: str = "warning") -> Iterator[str]:
    """Serve ``app`` with uvicorn in a daemon thread (with ``avanomaly serve``'s JSON parse errors); yields the
    base URL; stops the server on exit."""
    import uvicorn

    from avanomaly.serve.protocol import JSONErrorProtocol

    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="off", server_header=False,
                            http=JSONErrorProtocol)
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
