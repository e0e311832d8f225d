"""The project's face detector (avanomaly.preprocess CenterFace wrapper) finds the synthetic faces on
>= 95 % of frames, in every category and for many identities. Needs no shared data; slow (~30 s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
preprocess = pytest.importorskip("avanomaly.preprocess")

from avanomaly.data.synth import SynthSize, generate  # noqa: E402
from avanomaly.data.fakeavceleb import CATEGORIES  # noqa: E402
from avanomaly.data.synth.generator import ROOT_NAME  # noqa: E402

MIN_FACE_RATE = 0.95


@pytest.mark.slow
def test_centerface_wrapper_finds_synthetic_faces(tmp_path):
    generate(tmp_path, seed=3, size=SynthSize(identities=10, reals_per_identity=1, fakes_per_identity=1, duration=(1.0, 1.2), frame_size=128))
    detector = preprocess.create_detector("centerface")
    rates = {}
    for path in sorted((tmp_path / ROOT_NAME).rglob("*.mp4")):
        with av.open(str(path)) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        found = [len(detector.detect(f)) > 0 for f in frames]
        rates[str(path.relative_to(tmp_path / ROOT_NAME))] = float(np.mean(found))
    overall = float(np.mean(list(rates.values())))
    assert overall >= MIN_FACE_RATE, f"face rate {overall:.3f}; per clip {rates}"
    assert {Path(p).parts[0] for p in rates} == set(CATEGORIES)
