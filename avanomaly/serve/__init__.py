"""HTTP service for scoring uploaded videos (``avanomaly serve``; docs/service.md).

Needs the ``serve`` extra (fastapi, uvicorn, python-multipart). Importing this package does not import them;
``create_app`` does::

    from avanomaly import Detector
    from avanomaly.serve import create_app
    app = create_app(Detector.from_pretrained("runs/my_run"), max_upload_mb=200, max_concurrency=2)
"""

from __future__ import annotations

import importlib.util

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 200.0
DEFAULT_MAX_CONCURRENCY = 1
DEFAULT_MAX_QUEUE = 8
DEFAULT_MAX_SECONDS = 600.0
#: seconds to receive a whole upload (408 beyond; 0 = no limit)
DEFAULT_BODY_TIMEOUT_S = 300.0
#: bytes/s an upload must average once DEFAULT_RATE_GRACE_S have passed (408 below; 0 = no minimum)
DEFAULT_MIN_UPLOAD_RATE = 16 * 1024
DEFAULT_RATE_GRACE_S = 10.0
#: uploads being received at the same time, all clients together (503 beyond)
DEFAULT_MAX_RECEIVING = 8
#: /score requests in progress per client address (429 beyond; 0 = no cap)
DEFAULT_MAX_PER_CLIENT = 4
#: import name -> pip name of what the service needs
REQUIRED = {"fastapi": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart"}
INSTALL_HINT = "install the serve extra: pip install 'avanomaly[serve]'"

__all__ = ["create_app", "missing_dependencies"]


def missing_dependencies() -> list[str]:
    """pip names of the serve extra's packages that are not installed."""
    missing = []
    for mod, pip in REQUIRED.items():
        try:
            found = importlib.util.find_spec(mod) is not None
        except (ImportError, ValueError):  # a broken install counts as missing
            found = False
        if not found:
            missing.append(pip)
    return missing


def create_app(detector, **kwargs):
    """See :func:`avanomaly.serve.app.create_app`."""
    missing = missing_dependencies()
    if missing:
        raise ImportError(f"avanomaly.serve needs {', '.join(missing)}: {INSTALL_HINT}")
    from avanomaly.serve.app import create_app as _create_app

    return _create_app(detector, **kwargs)
