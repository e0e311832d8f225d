"""Mouth crop geometry, tracking/interpolation and the detector registry, on synthetic frames."""

from __future__ import annotations

import numpy as np
import pytest

from avanomaly.errors import ConfigError, NoFaceError
from avanomaly.preprocess import (
    Face,
    FaceDetector,
    PreprocessConfig,
    available_detectors,
    create_detector,
    extract_mouths,
    register_detector,
)
from avanomaly.preprocess.mouths import (
    LOWER_FACE_Y,
    MOUTH_SIDE_PER_FACE_WIDTH,
    crop_square,
    detection_frames,
    select_main_face,
)

H, W = 240, 320
MARK = 12  # side of the white marker drawn where the mouth is


def _frame_with_marker(cx, cy):
    frame = np.zeros((H, W, 3), np.uint8)
    frame[int(cy) - MARK // 2 : int(cy) + MARK // 2, int(cx) - MARK // 2 : int(cx) + MARK // 2] = 255
    return frame


def _face_for_mouth(cx, cy, face_w=100.0, landmarks=True):
    box = (cx - face_w / 2, cy - 0.75 * face_w, cx + face_w / 2, cy + 0.35 * face_w)
    lms = None
    if landmarks:
        lms = np.array(
            [[cx - 20, cy - 45], [cx + 20, cy - 45], [cx, cy - 20], [cx - 15, cy], [cx + 15, cy]], np.float32
        )
    return Face(box=box, score=0.9, landmarks=lms)


def _marker_centre(crop):
    ys, xs = np.nonzero(crop > 127)
    return xs.mean(), ys.mean(), xs.max() - xs.min() + 1


class ScriptedDetector(FaceDetector):
    """Returns the face given by ``fn(frame_index)``; the frame index is read from pixel (0, 0, 0)."""

    name = "scripted"

    def __init__(self, fn):
        self.fn = fn
        self.calls = []

    def detect(self, frame_rgb):
        t = int(frame_rgb[0, 0, 1])
        self.calls.append(t)
        face = self.fn(t)
        return [] if face is None else [face]


def _frames_with_moving_marker(n, x_of_t, cy=120.0):
    frames = np.stack([_frame_with_marker(x_of_t(t), cy) for t in range(n)])
    frames[:, 0, 0, 1] = np.arange(n)  # frame index for ScriptedDetector
    return frames


def test_crop_centred_on_mouth_landmarks_and_scaled_by_face_width():
    cx, cy, face_w = 150.0, 130.0, 100.0
    frames = _frames_with_moving_marker(3, lambda t: cx, cy)
    det = ScriptedDetector(lambda t: _face_for_mouth(cx, cy, face_w))
    cfg = PreprocessConfig(crop_size=64, detect_every=1)
    mouths, found = extract_mouths(frames, det, cfg)
    assert mouths.shape == (3, 64, 64) and mouths.dtype == np.uint8
    assert found.all()
    mx, my, size = _marker_centre(mouths[1])
    assert abs(mx - 31.5) < 1.5 and abs(my - 31.5) < 1.5
    expected = MARK * 64 / (MOUTH_SIDE_PER_FACE_WIDTH * face_w)
    assert abs(size - expected) <= 2


def test_crop_without_landmarks_uses_lower_middle_of_face_box():
    box = (100.0, 40.0, 200.0, 190.0)
    cy = box[1] + LOWER_FACE_Y * (box[3] - box[1])
    frames = _frames_with_moving_marker(2, lambda t: 150.0, cy)
    det = ScriptedDetector(lambda t: Face(box=box, score=1.0, landmarks=None))
    mouths, found = extract_mouths(frames, det, PreprocessConfig(detect_every=1))
    mx, my, _ = _marker_centre(mouths[0])
    assert abs(mx - 31.5) < 1.5 and abs(my - 31.5) < 1.5


def test_sparse_detection_interpolates_between_keyframes():
    n, every = 21, 5
    x_of_t = lambda t: 100.0 + 4.0 * t  # linear motion: interpolation is exact
    frames = _frames_with_moving_marker(n, x_of_t)
    det = ScriptedDetector(lambda t: _face_for_mouth(x_of_t(t), 120.0))
    mouths, found = extract_mouths(frames, det, PreprocessConfig(detect_every=every))
    assert sorted(det.calls) == [0, 5, 10, 15, 20]
    assert found.all()
    for t in (3, 7, 12, 18):  # frames never passed to the detector
        mx, my, _ = _marker_centre(mouths[t])
        assert abs(mx - 31.5) < 2 and abs(my - 31.5) < 2, (t, mx, my)


def test_detection_frames_include_last_frame():
    assert detection_frames(12, 5).tolist() == [0, 5, 10, 11]
    assert detection_frames(11, 5).tolist() == [0, 5, 10]
    assert detection_frames(1, 5).tolist() == [0]


def test_face_found_follows_nearest_detection():
    n = 20
    frames = _frames_with_moving_marker(n, lambda t: 150.0)
    det = ScriptedDetector(lambda t: _face_for_mouth(150.0, 120.0) if t < 10 else None)
    mouths, found = extract_mouths(frames, det, PreprocessConfig(detect_every=5))
    assert found[:8].all() and not found[13:].any()
    # frames after the last detection keep the last geometry, so the crop stays on the mouth
    mx, my, _ = _marker_centre(mouths[-1])
    assert abs(mx - 31.5) < 1.5


def test_no_face_raises_named_error_or_falls_back_to_centre():
    frames = _frames_with_moving_marker(6, lambda t: 160.0, 120.0)
    det = ScriptedDetector(lambda t: None)
    with pytest.raises(NoFaceError) as err:
        extract_mouths(frames, det, PreprocessConfig(), source="clip.mp4")
    assert "clip.mp4" in str(err.value) and err.value.reason == "no-face"
    mouths, found = extract_mouths(frames, det, PreprocessConfig(face_fallback="center"))
    assert mouths.shape == (6, 64, 64) and not found.any()


def test_main_face_is_largest_then_continues_track():
    small = Face(box=(0, 0, 50, 50), score=0.9)
    big = Face(box=(100, 100, 250, 250), score=0.8)
    assert select_main_face([small, big], None) is big
    # previous track is the small face: keep following it even though another face is larger
    moved_small = Face(box=(5, 0, 55, 50), score=0.9)
    assert select_main_face([big, moved_small], small) is moved_small
    assert select_main_face([], small) is None


def test_crop_square_replicates_outside_frame():
    frame = np.full((40, 40, 3), 200, np.uint8)
    crop = crop_square(frame, 0.0, 0.0, 30.0, 16)  # three quarters outside
    assert crop.shape == (16, 16) and (crop == 200).all()


def test_registry_and_custom_detector():
    assert {"centerface", "center"} <= set(available_detectors())
    with pytest.raises(ConfigError):
        create_detector("no-such-detector")

    class Fixed(FaceDetector):
        def detect(self, frame_rgb):
            return [Face(box=(0, 0, 10, 10), score=1.0)]

    register_detector("test-fixed", Fixed, overwrite=True)
    assert "test-fixed" in available_detectors()
    assert create_detector("test-fixed").detect(np.zeros((8, 8, 3), np.uint8))[0].box == (0, 0, 10, 10)
    with pytest.raises(ConfigError):
        register_detector("test-fixed", Fixed)


def test_center_detector_and_centerface_on_blank_frame():
    frame = np.zeros((96, 128, 3), np.uint8)
    (face,) = create_detector("center").detect(frame)
    assert face.landmarks is None and abs((face.box[0] + face.box[2]) / 2 - 64) < 1e-6
    assert create_detector("centerface").detect(frame) == []  # no face in a black frame
    with pytest.raises(ValueError):
        create_detector("center").detect(np.zeros((8, 8), np.uint8))


class BlobDetector(FaceDetector):
    """Finds the white marker and reports a face of ``face_w`` around it; supports ROI search."""

    name = "blob"
    supports_roi = True

    def __init__(self, face_w):
        self.face_w = face_w
        self.shapes = []

    def detect(self, frame_rgb):
        self.shapes.append(frame_rgb.shape[:2])
        ys, xs = np.nonzero(frame_rgb[..., 0] > 127)
        if xs.size == 0:
            return []
        # face width in this image's pixels is proportional to the marker's size
        fw = self.face_w * (xs.max() - xs.min() + 1) / MARK
        return [_face_for_mouth(xs.mean(), ys.mean(), fw)]


def test_roi_detection_maps_back_to_frame_coordinates():
    from avanomaly.preprocess.mouths import detect_main_face

    frame = _frame_with_marker(200.0, 150.0)
    det = BlobDetector(face_w=40.0)
    first = detect_main_face(frame, det, None)
    assert det.shapes[-1] == (H, W)  # no track yet: full frame
    second = detect_main_face(frame, det, first)
    assert det.shapes[-1][0] < H and det.shapes[-1][1] < W  # searched a region only
    np.testing.assert_allclose(second.box, first.box, atol=1.5)
    np.testing.assert_allclose(second.landmarks, first.landmarks, atol=1.5)
    # the face moved out of the region: found again on the full frame
    moved = detect_main_face(_frame_with_marker(60.0, 60.0), det, first)
    assert det.shapes[-1] == (H, W) and abs((moved.box[0] + moved.box[2]) / 2 - 59.5) < 1.5


def test_detector_by_import_path():
    from avanomaly.preprocess import import_detector

    spec = "avanomaly.preprocess.detectors:CenterDetector"
    det = create_detector(import_detector(spec), fraction=0.5)  # imported only on the explicit call
    (face,) = det.detect(np.zeros((40, 40, 3), np.uint8))
    assert face.box == (10.0, 10.0, 30.0, 30.0)
    with pytest.raises(ConfigError):
        import_detector("avanomaly.no_such_module:X")
    with pytest.raises(ConfigError, match="unknown face detector"):
        create_detector("avanomaly.preprocess.detectors:HaarDetector")  # never imported by create_detector


def test_streaming_chunks_hold_and_backfill_geometry():
    n = 30
    frames = _frames_with_moving_marker(n, lambda t: 150.0, 120.0)
    # the face is visible only in frames 10..19: chunk 0 waits for it, chunk 2 holds its geometry
    det = ScriptedDetector(lambda t: _face_for_mouth(150.0, 120.0) if 10 <= t < 20 else None)
    mouths, found = extract_mouths(frames, det, PreprocessConfig(detect_every=5), chunk_frames=10)
    assert mouths.shape == (n, 64, 64)
    assert found.tolist() == [False] * 10 + [True] * 10 + [False] * 10
    for t in (0, 9, 15, 29):  # every crop is on the mouth (marker), before, during and after the face
        mx, my, _ = _marker_centre(mouths[t])
        assert abs(mx - 31.5) < 1.5 and abs(my - 31.5) < 1.5, t
    # the same frames in one run give the same crops here (static face)
    whole, found_whole = extract_mouths(frames, ScriptedDetector(det.fn), PreprocessConfig(detect_every=5))
    np.testing.assert_array_equal(whole, mouths)


def test_streaming_no_face_in_any_chunk():
    frames = _frames_with_moving_marker(12, lambda t: 160.0, 120.0)
    det = ScriptedDetector(lambda t: None)
    with pytest.raises(NoFaceError):
        extract_mouths(frames, det, PreprocessConfig(), chunk_frames=5)
    mouths, found = extract_mouths(frames, det, PreprocessConfig(face_fallback="center"), chunk_frames=5)
    assert mouths.shape == (12, 64, 64) and not found.any()


def test_take_returns_final_crops_in_order_and_finish_the_rest():
    """A streaming consumer taking crops after every push gets exactly extract_mouths' crops, and nothing is
    final while the tracker still waits for the first face."""
    from avanomaly.preprocess.mouths import MouthTracker

    n = 30
    frames = _frames_with_moving_marker(n, lambda t: 140.0 + t, 120.0)
    fn = lambda t: _face_for_mouth(140.0 + t, 120.0) if 12 <= t < 25 else None  # noqa: E731
    cfg = PreprocessConfig(detect_every=2)
    ref, ref_found = extract_mouths(frames, ScriptedDetector(fn), cfg, chunk_frames=10)
    tracker = MouthTracker(ScriptedDetector(fn), cfg)
    got, got_found, sizes = [], [], []
    for i in range(0, n, 10):
        tracker.push(frames[i:i + 10])
        m, f = tracker.take()
        sizes.append(len(m))
        got.append(m)
        got_found.append(f)
    m, f = tracker.finish()
    got.append(m)
    got_found.append(f)
    assert sizes == [0, 20, 10]  # chunk 0 waits for the face found in chunk 1
    assert len(m) == 0
    np.testing.assert_array_equal(np.concatenate(got), ref)
    np.testing.assert_array_equal(np.concatenate(got_found), ref_found)
