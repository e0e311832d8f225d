"""`avanomaly serve`: loads the model, passes its limits to the app, warns off loopback, and explains how to
install the serve extra when fastapi & co. are missing (the core never imports them)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from avanomaly.cli import cli  # noqa: E402


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    import torch

    from avanomaly.scoring.calibration import calibrate
    from avanomaly.scoring.modelfile import save_model_file
    from avanomaly.scoring.testing import tiny_models

    torch.set_num_threads(1)
    sync, ar, cfg = tiny_models(seed=0)
    return save_model_file(tmp_path_factory.mktemp("serve_cli") / "run" / "model.pt", sync, ar, cfg,
                           calibration=calibrate(np.linspace(0, 40, 21), target_fpr=0.1))


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
    h = TestClient(captured["app"]).get("/health").json()
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
    assert TestClient(captured["app"]).get("/health").json()["model"]["precision"] == "bf16"
