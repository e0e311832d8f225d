"""``avanomaly serve``: the HTTP service and upload page (docs/service.md).

fastapi / uvicorn / python-multipart are the ``serve`` extra; they are imported only when the command runs,
so the rest of avanomaly works without them.
"""

from __future__ import annotations

import ipaddress
import warnings

import click

from avanomaly.serve import (DEFAULT_HOST, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_QUEUE, DEFAULT_MAX_SECONDS,
                             DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT, INSTALL_HINT, missing_dependencies)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command(name="serve")
@click.option("--model", "-m", default=None,
              help="model.pt or training run directory (default as for `avanomaly score`, see docs/scoring.md).")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Interface to listen on. The service has no authentication: keep it on 127.0.0.1 unless a "
                   "reverse proxy in front of it does access control.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--max-upload-mb", default=DEFAULT_MAX_UPLOAD_MB, show_default=True, type=click.FloatRange(min=0.001),
              help="Largest accepted upload (413 beyond, reading stops at the limit).")
@click.option("--max-concurrency", default=DEFAULT_MAX_CONCURRENCY, show_default=True, type=click.IntRange(min=1),
              help="Videos scored at the same time (worker threads sharing one copy of the model weights).")
@click.option("--max-queue", default=DEFAULT_MAX_QUEUE, show_default=True, type=click.IntRange(min=0),
              help="Further requests that may wait for a slot; beyond that the service answers 503 + Retry-After.")
@click.option("--max-seconds", default=DEFAULT_MAX_SECONDS, show_default=True, type=click.FloatRange(min=0),
              help="Longest accepted video in seconds (413 beyond; 0 = no limit).")
@click.option("--tmp-dir", type=click.Path(file_okay=False), default=None,
              help="Folder for uploads while they are scored (default: the system temp folder).")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:1 or auto.")
@click.option("--threads", type=int, default=None, help="torch CPU threads (shared by the concurrent jobs).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="Sync-model arithmetic (bf16: faster on CPUs with bf16 support; scores move slightly).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(model, host, port, max_upload_mb, max_concurrency, max_queue, max_seconds, tmp_dir, device, threads,
          precision, log_level):
    """Run the HTTP service: GET / (upload page), GET /health, POST /score (multipart field 'file')."""
    missing = missing_dependencies()
    if missing:
        raise click.ClickException(f"avanomaly serve needs {', '.join(missing)}: {INSTALL_HINT}")
    import uvicorn

    from avanomaly.errors import AvanomalyError
    from avanomaly.cli_common import UsageFailure
    from avanomaly.scoring.detector import Detector
    from avanomaly.scoring.modelfile import default_model_path
    from avanomaly.serve.app import create_app
    from avanomaly.serve.protocol import JSONErrorProtocol

    if threads:
        import torch

        torch.set_num_threads(threads)
    path = model or default_model_path()
    try:
        detector = Detector.from_pretrained(path, device=device, precision=precision)
    except AvanomalyError as exc:
        raise UsageFailure(f"cannot load model {path}: {exc}") from exc
    # the result JSON carries every scoring warning; don't repeat the per-request ones in the server log
    warnings.filterwarnings("ignore", message=".*uncalibrated.*")
    if detector.threshold is None:
        click.echo("warning: the model is uncalibrated: results have no verdict (run `avanomaly calibrate`)",
                   err=True)
    if not _is_loopback(host):
        click.echo(f"warning: listening on {host}: the service has no authentication or TLS; put it behind a "
                   "reverse proxy that provides them (docs/service.md)", err=True)
    app = create_app(detector, max_upload_mb=max_upload_mb, max_concurrency=max_concurrency, max_queue=max_queue,
                     max_seconds=max_seconds, tmp_dir=tmp_dir)
    click.echo(f"avanomaly serve: model {path} on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False, http=JSONErrorProtocol)
