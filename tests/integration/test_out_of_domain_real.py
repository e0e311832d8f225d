"""The out-of-domain rule on a shared REAL clip and a down-scaled copy of it, with the shipped starter model (whose
calibration records its pool's face sizes and frame heights). Needs MediaPipe and ../shared/data/real-av."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

#: a 1920x1080 phone-style clip: its 16:9 160x90 copy keeps the proportions and shrinks the face to ~13 px
CLIP = "real/kim_7s_raw.mp4"
SMALL = (160, 90)


@pytest.fixture(scope="module")
def starter():
    from avanomaly.preprocess.landmarks import INSTALL_HINT, mediapipe_available
    from avanomaly.scoring import Detector

    if not mediapipe_available():
        pytest.skip(f"MediaPipe face mesh not installed here: {INSTALL_HINT}")
    return Detector(prefetch=False)


def _ood(result) -> list[str]:
    return [w for w in result.warnings if w.startswith("out of domain")]


def test_warning_fires_on_a_downscaled_copy_and_not_on_the_original(real_av, starter, tmp_path):
    from avanomaly.io.testing import downscale_video

    assert starter.calibration.basis["pool"]["face_px"]["n"] == 314  # the val split of the domain corpus
    original = starter.anomaly_score(real_av / CLIP)
    assert _ood(original) == [] and original.verdict in ("real", "fake") and original.abstain == []
    assert original.input["frame_height"] == 1080 and original.input["face_px"] > 30

    small = starter.anomaly_score(downscale_video(real_av / CLIP, tmp_path / "small.mkv", SMALL, max_seconds=4))
    warnings = _ood(small)
    assert any("face smaller" in w for w in warnings) and any("lower resolution" in w for w in warnings)
    assert small.input["frame_height"] == 90 and small.input["face_px"] < 0.5 * original.input["face_px"]
    assert small.verdict == "unknown" and "low-resolution" in small.abstain
    d = small.to_dict()
    assert d["calibration_basis"]["n_clips"] == 314 and d["calibration_basis"]["n_speakers"] == 57
