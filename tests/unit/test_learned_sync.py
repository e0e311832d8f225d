"""A model trained in-test learns audio-visual sync: the fast tier's check that training + scoring work.

Both stages train (``train_on_clips``, the trainer behind ``avanomaly train``) on in-memory synthetic talking
mouths whose opening follows the audio energy (avanomaly.training.testing): a few thousand windows, 7 s on an
idle core, ~30 s on a busy 2-core machine. Then held-out clips of new synthetic speakers are scored the way a
file is (``Detector.score_features``) with their audio delayed or advanced by a few frames: the AV offset
estimate must follow the shift and the shifted copies must score above the in-sync clip. A model that did not
learn sync, a sign error in the offset convention, or an anomaly score that ignores sync fails here. The
end-to-end version on encoded video files (face detection, decoding) is the slow tier's
tests/integration/test_trained_model.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from avanomaly.training.testing import MEL_PER_FRAME, synthetic_clip, synthetic_clips

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CROP = 16
MAX_OFFSET = 3
#: applied audio shifts (frames; positive = audio later); inside +-MAX_OFFSET so a clamped estimate cannot pass
SHIFT = 2
OFFSET_TOLERANCE_FRAMES = 1
#: held-out speakers: seeds never used for the training / validation clips (1, 2)
HELD_OUT_SEEDS = (11, 12, 13)
HELD_OUT_FRAMES = 75
CONFIG = [
    f"preprocess.crop_size={CROP}", f"sync.crop_size={CROP}", "sync.dim=16", "sync.width=4",
    f"sync.max_offset={MAX_OFFSET}", "sync.temporal_layers=1", "sync.temporal_heads=2", "sync.dropout=0.0",
    "ar.d_model=16", "ar.n_layers=1", "ar.n_heads=2", "ar.context=32", "ar.dropout=0.0",
    "stage1.window=16", "stage1.batch_size=8", "stage1.windows_per_epoch=64", "stage1.max_epochs=20",
    "stage1.lr=0.005", "stage1.warmup_steps=2", "stage1.early_stopping_patience=100",
    "stage2.window=16", "stage2.batch_size=8", "stage2.windows_per_epoch=64", "stage2.max_epochs=3",
    "stage2.warmup_steps=2", "data.val_windows_per_clip=2", "trainer.progress=false", "trainer.accelerator=cpu",
    "trainer.seed=0",
]


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    from avanomaly.scoring import Detector
    from avanomaly.training.config import TrainConfig, apply_overrides
    from avanomaly.training.train import train_on_clips

    run = tmp_path_factory.mktemp("learned") / "run"
    train_refs = synthetic_clips(8, 50, seed=1, crop_size=CROP)
    val_refs = synthetic_clips(2, 50, seed=2, crop_size=CROP, prefix="v")
    train_on_clips(apply_overrides(TrainConfig(), [f"out={run}", *CONFIG]), train_refs, val_refs)
    return Detector.from_pretrained(run, device="cpu")


def _score(det, seed: int, delay: int):
    """The held-out clip with its audio delayed by ``delay`` frames (rolled: the same speaker, energy track and
    noise for every delay, only the audio-visual timing changes)."""
    clip = synthetic_clip(np.random.default_rng(seed), HELD_OUT_FRAMES, CROP)
    mel = np.roll(clip.mel, delay * MEL_PER_FRAME, axis=0)
    return det.score_features(clip.mouths, mel, None, path=f"held-out-{seed}-{delay:+d}")


@pytest.mark.parametrize("seed", HELD_OUT_SEEDS)
def test_offset_follows_an_audio_shift_on_held_out_speakers(detector, seed):
    for delay in (-SHIFT, 0, SHIFT):
        got = _score(detector, seed, delay).av_offset_frames
        assert abs(got - delay) <= OFFSET_TOLERANCE_FRAMES, (seed, delay, got)


@pytest.mark.parametrize("seed", HELD_OUT_SEEDS)
def test_shifted_copies_score_higher_and_are_called_fake(detector, seed):
    in_sync = _score(detector, seed, 0)
    for delay in (-SHIFT, SHIFT):
        shifted = _score(detector, seed, delay)
        assert shifted.score > in_sync.score, (seed, delay, shifted.score, in_sync.score)
        assert shifted.verdict == "fake", (seed, delay, shifted.score, detector.threshold)


@pytest.mark.parametrize("delay", [-SHIFT, 0, SHIFT])
def test_synthetic_clip_delays_its_audio_by_the_requested_frames(delay):
    """The training helper's own convention (what the model above learns from): audio[t + delay] matches the
    mouth at t, for delays of either sign (a negative delay used to be ignored)."""
    clip = synthetic_clip(np.random.default_rng(5), HELD_OUT_FRAMES, CROP, audio_delay=delay)
    opening = -clip.mouths.reshape(HELD_OUT_FRAMES, -1).astype(float).mean(1)  # darker: mouth more open
    loudness = clip.mel.astype(float).reshape(HELD_OUT_FRAMES, MEL_PER_FRAME, -1).mean((1, 2))
    k, n = MAX_OFFSET, HELD_OUT_FRAMES
    corr = {d: np.corrcoef(opening[k:n - k], loudness[k + d:n - k + d])[0, 1] for d in range(-k, k + 1)}
    assert max(corr, key=corr.get) == delay, corr
