"""HTTP service for scoring uploaded videos (``avanomaly serve``; docs/service.md).

Needs the ``serve`` extra (fastapi, uvicorn, python-multipart). Importing this package does not import them;
``create_app`` does::

    from avanomaly import Detector
    from avanomaly.serve import create_app
    app = create_app(Detector.from_pretrained("runs/my_run"), max_upload_mb=200, max_concurrency=2)
"""

from __future__ import annotations

from avanomaly.serve.settings import (DEFAULT_BODY_TIMEOUT_S, DEFAULT_HOST, DEFAULT_MAX_CONCURRENCY,  # noqa: F401
                                      DEFAULT_MAX_PER_CLIENT, DEFAULT_MAX_QUEUE, DEFAULT_MAX_RECEIVING,
                                      DEFAULT_MAX_SECONDS, DEFAULT_MAX_UPLOAD_MB, DEFAULT_MIN_UPLOAD_RATE,
                                      DEFAULT_PORT, DEFAULT_RATE_GRACE_S, INSTALL_HINT, REQUIRED,
                                      missing_dependencies)

__all__ = ["create_app", "missing_dependencies"]


def create_app(detector, **kwargs):
    """See :func:`avanomaly.serve.app.create_app`."""
    missing = missing_dependencies()
    if missing:
        raise ImportError(f"avanomaly.serve needs {', '.join(missing)}: {INSTALL_HINT}")
    from avanomaly.serve.app import create_app as _create_app

    return _create_app(detector, **kwargs)
