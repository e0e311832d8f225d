"""A small model trained in-test on the synthetic benchmark (real clips only) scores the shared clips.

The model is the `make demo` one: `avanomaly synth --size demo`, then `avanomaly train --real-only
--drop-fakes --config demo` with a shorter stage 2. It has never seen a real face; these tests check what a
trained model must get right on real files: the API and CLI score every good file, bad files fail with their
reason, and on synthetic identities it never saw the SyncNet-style AV offset follows an audio shift we apply
and the shifted copies score higher. (A model trained for a minute on the 9 shared real clips did not learn
sync: offset 0 -> 0; the synthetic-trained one does not transfer its offset to real faces.)
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VGG = "real/vgg_syncnet_example.avi"
VGG_SHIFTED = "fake/avshift_vgg_syncnet_example_120ms.avi"
SHIFT_FRAMES = 3
OFFSET_TOLERANCE_FRAMES = 1
#: synthetic identities for the shift test come from another seed than the training set's (0)
UNSEEN_SEED = 7
#: stage 1 as in the demo preset (it must learn sync); stage 2 shortened
SHORT = ["stage2.max_epochs=3"]


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    from avanomaly.data.synth import generate
    from avanomaly.training.commands import train

    tmp = tmp_path_factory.mktemp("trained")
    t0 = time.time()
    root = generate(tmp / "synth", seed=0, size="demo", workers=2).root
    res = CliRunner().invoke(train, ["--real-only", "--drop-fakes", "--config", "demo", "--data", str(root),
                                     "--out", str(tmp / "run"), "--cache", str(tmp / "cache"), "--seed", "0",
                                     "--threads", "2", "--no-progress", *SHORT])
    assert res.exit_code == 0, (res.output, res.exception)
    print(f"\nsynth + train: {time.time() - t0:.0f} s")
    return tmp / "run"


def test_api_scores_every_shared_clip_and_reports_bad_ones(real_av, trained_model):
    from avanomaly.scoring import Detector
    from avanomaly.scoring.result import ScoreFailure, ScoreResult

    man = pd.read_csv(real_av / "manifest.csv")
    det = Detector.from_pretrained(trained_model, device="cpu")
    assert det.threshold is not None, "training calibrates on the held-out real clip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = det.score_many([real_av / p for p in man["path"]])
    for (_, row), res in zip(man.iterrows(), out):
        if row["label"] == "bad":
            assert isinstance(res, ScoreFailure), row["path"]
            assert res.reason in {"no-audio", "corrupt"}, (row["path"], res.reason)
        else:
            assert isinstance(res, ScoreResult), (row["path"], res)
            assert res.verdict in {"real", "fake"} and 0.0 <= res.percentile <= 100.0
            assert res.face_rate >= 0.95, (row["path"], res.face_rate)


def test_cli_json_for_real_and_fake_clips(real_av, trained_model):
    from avanomaly.scoring.commands import score

    files = [str(real_av / VGG), str(real_av / VGG_SHIFTED), str(real_av / "fake/kim_lip_synced.mp4")]
    res = CliRunner().invoke(score, [*files, "--model", str(trained_model), "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    doc = json.loads(res.output[res.output.index("{"):])
    assert [r["status"] for r in doc["results"]] == ["ok"] * 3
    assert all(r["score"] == r["score"] for r in doc["results"])  # finite, not NaN


def test_av_offset_and_score_follow_an_audio_shift_on_unseen_identities(trained_model, tmp_path):
    """New synthetic identities (another seed, never trained on): the AV offset estimate equals the audio shift
    we apply (+-3 frames, within 1), and the shifted copies score above the clip and are called fake.
    Measured (3 identities, seed 7): offsets exactly -3 / 0 / +3, scores ~4.8 -> ~6.2 / ~7.0, percentile 100."""
    from avanomaly.data.synth import generate
    from avanomaly.data.synth.generator import SynthSize
    from avanomaly.io import load_clip
    from avanomaly.scoring import Detector

    size = SynthSize(identities=2, reals_per_identity=1, fakes_per_identity=1, duration=(4.0, 4.0), frame_size=128)
    root = generate(tmp_path / "unseen", seed=UNSEEN_SEED, size=size, workers=1).root
    reals = sorted(p for p in root.rglob("*.mp4") if "RealVideo-RealAudio" in p.parts)
    assert len(reals) == 2
    det = Detector.from_pretrained(trained_model, device="cpu")
    spf = det.preprocess_cfg.samples_per_frame
    for path in reals:
        clip = load_clip(path)
        scores = {}
        for shift in (-SHIFT_FRAMES, 0, SHIFT_FRAMES):
            audio = np.roll(clip.audio, shift * spf)  # positive: audio later than video
            res = det.anomaly_score((clip.frames, audio))
            scores[shift] = res
            assert abs(res.av_offset_frames - shift) <= OFFSET_TOLERANCE_FRAMES, (path.name, shift, res.av_offset_frames)
        for shift in (-SHIFT_FRAMES, SHIFT_FRAMES):
            assert scores[shift].score > scores[0].score, (path.name, shift)
            assert scores[shift].verdict == "fake", (path.name, shift, scores[shift].score, det.threshold)


def test_vgg_audio_shift_pair_is_scored(real_av, trained_model):
    """The real VGG clip and its 120 ms audio-delayed copy. A model trained on synthetic faces only does not
    transfer its offset estimate to this real face (measured: offset 15 -> 12, i.e. at the edge of +-K, score
    6.93 -> 6.88, both at percentile 100 of the synthetic calibration clips), so only the machinery is
    asserted. Adding six shared real clips to the synthetic training clips moves it by exactly +3 with a higher
    score (experiments/real_shift.py, docs/results.md "Real faces"): too slow for a test."""
    from avanomaly.scoring import Detector

    det = Detector.from_pretrained(trained_model, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        orig = det.anomaly_score(real_av / VGG)
        shifted = det.anomaly_score(real_av / VGG_SHIFTED)
    print(f"\nvgg: offset {orig.av_offset_frames} -> {shifted.av_offset_frames} frames, "
          f"score {orig.score:.4f} -> {shifted.score:.4f}, percentile {orig.percentile} -> {shifted.percentile}")
    assert orig.n_frames == shifted.n_frames > 0
    assert abs(orig.av_offset_frames) <= det.sync_model.config.max_offset
