"""Slow-client abuse of ``avanomaly serve`` (issue 27): N connections send the headers and 1 KB of a multipart
upload, then stall. Prints how long another client's normal request takes (and how many 503s it got first), and
when the stalled connections are answered (prints numbers; not a test).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/serve_slow_clients.py [--stalled 9] [--body-timeout 2]
        [--min-upload-rate 4096] [--rate-grace 1] [--give-up 30] [--defaults]

A stand-in detector answers at once (the service, not the model, is measured); the server is uvicorn on a free
loopback port in this process (``avanomaly.serve.testing.background_server``). The limits are passed to
``create_app`` only when it takes them, so the script also measures a version without them ("before").
"""

from __future__ import annotations

import argparse
import inspect
import socket
import time

from avanomaly.scoring.result import ScoreResult
from avanomaly.serve import create_app
from avanomaly.serve.testing import background_server

BOUNDARY = "slowClientBoundary"
CLIP = b"\x00" * 4096


class Quick:
    def anomaly_score(self, path, **kwargs):
        return ScoreResult(path=str(path), score=1.0, verdict="real", threshold=2.0, percentile=50.0,
                           frame_nll=[1.0], frame_times=[0.04], av_offset_frames=0, av_offset_confidence=1.0,
                           face_rate=1.0, silent_fraction=0.0, duration=1.0, n_frames=2, fps=25.0)


def stalled_upload(host: str, port: int, declared: int = 10 * 1024 * 1024) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=120)
    head = (f"POST /score HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {declared}\r\n\r\n").encode()
    part = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()
    sock.sendall(head + part + b"\x00" * (1024 - len(part)))
    return sock


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stalled", type=int, default=9)
    ap.add_argument("--body-timeout", type=float, default=2.0)
    ap.add_argument("--min-upload-rate", type=float, default=4096.0)
    ap.add_argument("--rate-grace", type=float, default=1.0)
    ap.add_argument("--give-up", type=float, default=30.0, help="stop retrying the normal request after this")
    ap.add_argument("--defaults", action="store_true",
                    help="create_app's defaults for every limit (caps, deadline, rate) instead of the options")
    args = ap.parse_args()
    import httpx

    wanted = {"max_concurrency": 1, "max_queue": 8, "body_timeout_s": args.body_timeout,
              "min_upload_rate": args.min_upload_rate, "rate_grace_s": args.rate_grace,
              "max_receiving": args.stalled + 2, "max_per_client": args.stalled + 2, "check_media": False}
    from avanomaly.serve.app import create_app as inner

    accepted = inspect.signature(inner).parameters
    if args.defaults:
        wanted = {"check_media": False}
    kwargs = {k: v for k, v in wanted.items() if k in accepted}
    print(f"create_app takes: {sorted(kwargs)}")
    app = create_app(Quick(), **kwargs)
    with background_server(app) as url:
        host, port = url.removeprefix("http://").split(":")
        t0 = time.monotonic()
        socks = [stalled_upload(host, int(port)) for _ in range(args.stalled)]
        time.sleep(0.5)  # let the server start on all of them
        status = None
        t1 = time.monotonic()
        refused: dict = {}
        while time.monotonic() - t1 < args.give_up:
            r = httpx.post(f"{url}/score", files={"file": ("ok.mp4", CLIP, "video/mp4")}, timeout=args.give_up)
            status = r.status_code
            if status not in (503, 429):
                break
            refused[status] = refused.get(status, 0) + 1
            time.sleep(0.2)
        print(f"normal request with {args.stalled} stalled uploads: {status} after {time.monotonic() - t1:.2f} s "
              f"(refused before: {refused or 'none'})")
        answers = []
        for s in socks:
            s.settimeout(max(1.0, args.give_up - (time.monotonic() - t0)))
            try:
                head = s.recv(200)
                answers.append((time.monotonic() - t0, head.split(b"\r\n")[0].decode("latin-1")))
            except TimeoutError:
                answers.append((time.monotonic() - t0, "no answer"))
            s.close()
        for t, line in answers:
            print(f"stalled upload answered at {t:.2f} s after it started: {line}")


if __name__ == "__main__":
    main()
