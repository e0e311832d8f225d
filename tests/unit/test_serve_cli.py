"""`avanomaly serve`: loads the model, passes its limits to the app, warns off loopback, and explains how to
install the serve extra when fastapi & co. are missing (the core never imports them)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from avanomaly.cli import cli  # noqa: E402


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    import torch

    from avanomaly.postprocess.calibration import calibrate
    from avanomaly.postprocess.modelfile import save_model_file
    from avanomaly.scoring.testing import tiny_models

    torch.set_num_threads(1)
    sync, ar, cfg = tiny_models(seed=0)
    return save_model_file(tmp_path_factory.mktemp("serve_cli") / "run" / "model.pt", sync, ar, cfg,
                           calibration=calibrate(np.linspace(0, 40, 21), target_fpr=0.1))


def _local(app) -> TestClient:
    """A TestClient that calls the service by one of the Host names a loopback-bound service answers to."""
    return TestClient(app, base_url="http://localhost")


@pytest.fixture
def captured(monkeypatch):
    """Replace uvicorn.run: keep the app and the server settings instead of serving forever."""
    import uvicorn

    got = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: got.update(app=app, **kw))
    return got


def test_serve_builds_the_app_from_the_model(model_file, captured, tmp_path):
    res = CliRunner().invoke(cli, ["serve", "--model", str(model_file.parent), "--port", "8123", "--max-upload-mb",
                                   "5", "--max-concurrency", "2", "--max-queue", "1", "--tmp-dir",
                                   str(tmp_path / "up")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert captured["host"] == "127.0.0.1" and captured["port"] == 8123
    assert "warning: listening" not in res.output
    h = _local(captured["app"]).get("/health").json()
    assert h["model"]["source"] == "model.pt" and h["model"]["calibrated"] is True
    assert h["limits"]["max_upload_mb"] == 5 and h["limits"]["max_concurrency"] == 2
    assert h["limits"]["max_queue"] == 1


def test_serve_warns_when_listening_beyond_loopback(model_file, captured):
    res = CliRunner().invoke(cli, ["serve", "--model", str(model_file), "--host", "0.0.0.0"],
                             catch_exceptions=False)
    assert res.exit_code == 0 and "no authentication" in res.output and captured["host"] == "0.0.0.0"


def test_serve_with_a_missing_model_is_a_usage_error(tmp_path, captured):
    res = CliRunner().invoke(cli, ["serve", "--model", str(tmp_path / "nope.pt")])
    assert res.exit_code == 2 and "nope.pt" in res.output and "app" not in captured


def test_serve_without_the_extra_says_how_to_install(monkeypatch, captured):
    import avanomaly.serve.commands as commands

    monkeypatch.setattr(commands, "missing_dependencies", lambda: ["fastapi", "uvicorn"])
    res = CliRunner().invoke(cli, ["serve", "--model", "whatever.pt"])
    assert res.exit_code != 0 and "pip install 'avanomaly[serve]'" in res.output and "app" not in captured


def test_core_and_serve_package_import_without_fastapi():
    """Block fastapi/uvicorn/python_multipart imports: avanomaly, its CLI help and avanomaly.serve still work."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('fastapi', 'uvicorn', 'python_multipart', 'starlette'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import avanomaly, avanomaly.serve, avanomaly.serve.commands, avanomaly.serve.uploads\n"
        "from avanomaly.serve import create_app\n"
        "try:\n"
        "    create_app(object())\n"
        "except ImportError as e:\n"
        "    print('IMPORT-ERROR', e)\n"
        "from click.testing import CliRunner\n"
        "from avanomaly.cli import cli\n"
        "print(CliRunner().invoke(cli, ['serve', '--model', 'x.pt']).output)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "IMPORT-ERROR" in out.stdout and "avanomaly[serve]" in out.stdout


def test_serve_precision_option_reaches_the_detector(model_file, captured):
    res = CliRunner().invoke(cli, ["serve", "--model", str(model_file), "--precision", "bf16"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert _local(captured["app"]).get("/health").json()["model"]["precision"] == "bf16"


def test_serve_limits_and_guards_reach_the_app(model_file, captured, tmp_path):
    res = CliRunner().invoke(cli, ["serve", "--model", str(model_file), "--body-timeout", "30", "--min-upload-rate",
                                   "1000", "--rate-grace", "2", "--max-receiving", "3", "--max-per-client", "0",
                                   "--allowed-host", "box.lan", "--allow-origin", "https://tools.example.org"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    app = captured["app"]
    limits = _local(app).get("/health").json()["limits"]
    assert limits["body_timeout_s"] == 30 and limits["min_upload_rate"] == 1000 and limits["rate_grace_s"] == 2
    assert limits["max_receiving"] == 3 and limits["max_per_client"] is None
    # bound to loopback: the default Host names, the bound one and --allowed-host; nothing else
    for host, status in (("localhost:8000", 200), ("127.0.0.1", 200), ("[::1]:8000", 200), ("box.lan", 200),
                         ("evil.example:8000", 403), ("testserver", 403)):
        assert TestClient(app, base_url=f"http://{host}").get("/health").status_code == status, host
    client = _local(app)
    refused = client.post("/score", headers={"Origin": "https://evil.example"}, files={"file": ("a.mp4", b"x")})
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden-origin"
    allowed = client.post("/score", headers={"Origin": "https://tools.example.org"}, files={"file": ("a.mp4", b"x")})
    assert allowed.status_code == 415  # past the guard (the bytes are not a video)


def test_serve_beyond_loopback_accepts_any_host_unless_told(model_file, captured):
    res = CliRunner().invoke(cli, ["serve", "--model", str(model_file), "--host", "0.0.0.0"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert TestClient(captured["app"], base_url="http://scorer.example.org").get("/health").status_code == 200
    res = CliRunner().invoke(cli, ["serve", "--model", str(model_file), "--allowed-host", "*"],
                             catch_exceptions=False)
    assert TestClient(captured["app"], base_url="http://anything.example").get("/health").status_code == 200
    res = CliRunner().invoke(cli, ["serve", "--model", str(model_file), "--allow-origin", "tools.example.org"])
    assert res.exit_code == 2 and "https://host" in res.output


def test_serve_logs_the_package_logger_at_the_log_level(model_file, captured):
    res = CliRunner().invoke(cli, ["serve", "--model", str(model_file), "--log-level", "debug"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    config = captured["log_config"]
    assert config["loggers"]["avanomaly"] == {"handlers": ["default"], "level": "DEBUG", "propagate": False}
    assert "uvicorn.error" in config["loggers"]  # uvicorn's own loggers are kept
    assert config["handlers"]["default"]["stream"] == "ext://sys.stderr"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_service_log_lines_appear_under_uvicorn(model_file, tmp_path):
    """The real command in a child process: a client that leaves mid-upload, one that stalls past
    --body-timeout; both lines are in the server's stderr (before: avanomaly's loggers had no handler there)."""
    port = _free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "avanomaly", "serve", "--model", str(model_file), "--port",
                                 str(port), "--body-timeout", "1"], stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 120
        while b"Uvicorn running" not in log_path.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        head = ("POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                "Content-Length: 100000\r\n\r\n--B\r\n").encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(head)
            time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(head)
            assert s.recv(100).startswith(b"HTTP/1.1 408")
        wanted = (b"client disconnected; request for upload abandoned", b"upload from 127.0.0.1 refused")
        while not all(w in log_path.read_bytes() for w in wanted):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(30)
    text = log_path.read_text()
    assert "INFO:" in text.split("client disconnected")[0].rsplit("\n", 1)[-1]  # uvicorn's format, INFO level
