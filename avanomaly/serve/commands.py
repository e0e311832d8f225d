"""``avanomaly serve``: the HTTP service and upload page (docs/service.md).

fastapi / uvicorn / python-multipart are the ``serve`` extra; they are imported only when the command runs,
so the rest of avanomaly works without them.
"""

from __future__ import annotations

import copy
import ipaddress
import warnings

import click

from avanomaly.serve import (DEFAULT_BODY_TIMEOUT_S, DEFAULT_HOST, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_PER_CLIENT,
                             DEFAULT_MAX_QUEUE, DEFAULT_MAX_RECEIVING, DEFAULT_MAX_SECONDS, DEFAULT_MAX_UPLOAD_MB,
                             DEFAULT_MIN_UPLOAD_RATE, DEFAULT_PORT, DEFAULT_RATE_GRACE_S, INSTALL_HINT,
                             missing_dependencies)

#: the package's logger: ``avanomaly serve`` gives it uvicorn's handler and the --log-level
PACKAGE_LOGGER = "avanomaly"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def log_config(level: str) -> dict:
    """uvicorn's logging configuration plus the ``avanomaly`` logger on uvicorn's stderr handler at ``level``
    (without it the service's own lines, e.g. "client disconnected", are dropped under uvicorn)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"][PACKAGE_LOGGER] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def allowed_hosts_for(host: str, extra: tuple[str, ...]):
    """Host names to accept: on loopback (or with --allowed-host) localhost, 127.0.0.1, ::1, the bound host and
    ``extra``; else None (any Host: the reverse proxy in front decides)."""
    from avanomaly.serve.guards import default_allowed_hosts

    if not _is_loopback(host) and not extra:
        return None
    return default_allowed_hosts(host, extra)


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
@click.option("--body-timeout", default=DEFAULT_BODY_TIMEOUT_S, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to receive a whole upload (408 beyond; 0 = no limit).")
@click.option("--min-upload-rate", default=DEFAULT_MIN_UPLOAD_RATE, show_default=True,
              type=click.FloatRange(min=0),
              help="Bytes/s an upload must average once --rate-grace seconds have passed (408 below; 0 = none).")
@click.option("--rate-grace", default=DEFAULT_RATE_GRACE_S, show_default=True, type=click.FloatRange(min=0),
              help="Seconds before --min-upload-rate applies.")
@click.option("--max-receiving", default=DEFAULT_MAX_RECEIVING, show_default=True, type=click.IntRange(min=1),
              help="Uploads received at the same time, all clients together (503 beyond).")
@click.option("--max-per-client", default=DEFAULT_MAX_PER_CLIENT, show_default=True, type=click.IntRange(min=0),
              help="/score requests in progress per client address (429 beyond; 0 = no cap).")
@click.option("--allowed-host", "allowed_host", multiple=True, metavar="NAME",
              help="Also answer requests for this Host name (repeatable; '*' = any). On loopback the default is "
                   "localhost, 127.0.0.1, ::1 and --host (DNS-rebinding defence).")
@click.option("--allow-origin", "allow_origin", multiple=True, metavar="ORIGIN",
              help="Also accept POSTs from pages of this origin, e.g. https://tools.example.org (repeatable).")
@click.option("--tmp-dir", type=click.Path(file_okay=False), default=None,
              help="Folder for uploads while they are scored (default: the system temp folder).")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:1 or auto.")
@click.option("--threads", type=int, default=None, help="torch CPU threads (shared by the concurrent jobs).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="Sync-model arithmetic (bf16: faster on CPUs with bf16 support; scores move slightly).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(model, host, port, max_upload_mb, max_concurrency, max_queue, max_seconds, body_timeout, min_upload_rate,
          rate_grace, max_receiving, max_per_client, allowed_host, allow_origin, tmp_dir, device, threads,
          precision, log_level):
    """Run the HTTP service: GET / (upload page), GET /health, POST /score (multipart field 'file')."""
    missing = missing_dependencies()
    if missing:
        raise click.ClickException(f"avanomaly serve needs {', '.join(missing)}: {INSTALL_HINT}")
    import uvicorn

    from avanomaly.errors import AvanomalyError
    from avanomaly.cli_common import UsageFailure
    from avanomaly.scoring.detector import Detector
    from avanomaly.postprocess.modelfile import default_model_path
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
    try:
        app = create_app(detector, max_upload_mb=max_upload_mb, max_concurrency=max_concurrency,
                         max_queue=max_queue, max_seconds=max_seconds, tmp_dir=tmp_dir, body_timeout_s=body_timeout,
                         min_upload_rate=min_upload_rate, rate_grace_s=rate_grace, max_receiving=max_receiving,
                         max_per_client=max_per_client, allowed_hosts=allowed_hosts_for(host, allowed_host),
                         allow_origins=allow_origin)
    except ValueError as exc:  # e.g. an --allow-origin that is not scheme://host[:port]
        raise click.BadParameter(str(exc)) from exc
    click.echo(f"avanomaly serve: model {path} on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, log_config=log_config(log_level),
                server_header=False, http=JSONErrorProtocol)
