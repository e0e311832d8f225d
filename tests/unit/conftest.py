"""Fixtures shared by unit test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A model file of untrained tiny sync + AR models (scoring.testing.tiny_models, seed 0)."""
    pytest.importorskip("torch")
    from avanomaly.postprocess.modelfile import save_model_file
    from avanomaly.scoring.testing import tiny_models

    sync, ar, cfg = tiny_models(seed=0)
    return save_model_file(tmp_path_factory.mktemp("model") / "model.pt", sync, ar, cfg)
