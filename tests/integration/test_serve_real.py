"""The service on the shared real clips: real faces through CenterFace with two concurrent workers (each with
its own face detector) give the same scores as the Detector called directly; the shared bad files get 422
with their reason."""

from __future__ import annotations

import dataclasses
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from avanomaly.serve import create_app  # noqa: E402

REAL_CLIP = "real/lrs2_00001.mp4"  # the shortest real clip (4.8 s)
#: bad files of the shared folder -> the reason the service must give
BAD = {"bad/noaudio_listed_sample_input.mp4": "no-audio", "bad/truncated_vox2_00098.mp4": "corrupt"}

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:.*uncalibrated.*:UserWarning")]


@pytest.fixture(scope="module")
def detector():
    import torch

    from avanomaly.scoring.detector import Detector
    from avanomaly.scoring.testing import tiny_models

    torch.set_num_threads(1)
    sync, ar, cfg = tiny_models(seed=0)
    cfg = dataclasses.replace(cfg, detector="centerface", face_fallback="error", max_side=512)
    return Detector(sync, ar, cfg, device="cpu")


def test_real_and_bad_clips_through_the_service(real_av, detector, tmp_path):
    for rel in (REAL_CLIP, *BAD):
        if not (real_av / rel).exists():
            pytest.skip(f"{rel} not in {real_av}")
    uploads = tmp_path / "uploads"
    client = TestClient(create_app(detector, max_concurrency=2, tmp_dir=uploads))

    def post(rel):
        with open(real_av / rel, "rb") as fh:
            return client.post("/score", files={"file": (rel.split("/")[-1], fh, "video/mp4")})

    with ThreadPoolExecutor(2) as ex:
        real_a, real_b, *bad = ex.map(post, [REAL_CLIP, REAL_CLIP, *BAD])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = detector.anomaly_score(str(real_av / REAL_CLIP)).to_dict()
    for resp in (real_a, real_b):
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["path"] == "lrs2_00001.mp4" and body["face_rate"] > 0.9
        assert body["score"] == pytest.approx(direct["score"], rel=1e-5)
        assert body["frame_nll"] == pytest.approx(direct["frame_nll"], rel=1e-5)
    for resp, (rel, reason) in zip(bad, BAD.items()):
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"] == reason and rel.split("/")[-1] in resp.json()["detail"]
    assert list(uploads.iterdir()) == []
