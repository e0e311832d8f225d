"""A small model trained in-test on the synthetic benchmark (real clips only) scores the shared clips.

The model is the `make demo` one: `avanomaly synth --size demo`, then `avanomaly train --real-only
--drop-fakes --config demo` with shorter stages. It has never seen a real face; these tests check what a
trained model must get right on real files: the API and CLI score every good file alike, bad files fail with
their reason, and on synthetic identities it never saw the SyncNet-style AV offset follows an audio shift we
apply and the shifted copies score higher. (A model trained for a minute on the 9 shared real clips did not
learn sync: offset 0 -> 0; the synthetic-trained one does not transfer its offset to real faces, so the real
VGG shift pair is checked with the shipped starter model instead: test_starter_real.py.)

Slow tier (`make test-slow`, marker ``slow``): the fixture generates videos, detects faces and trains for a few
minutes. The fast tier's tests/unit/test_learned_sync.py checks the same learned-sync behaviour in ~30 s on
in-memory clips.
"""

from __future__ import annotations

import json
import math
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

#: a hang guard, far above the normal time (fixture ~3 min on 2 idle cores, ~6 min on a busy machine)
HANG_GUARD_S = 1800
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(HANG_GUARD_S)]

VGG = "real/vgg_syncnet_example.avi"
VGG_SHIFTED = "fake/avshift_vgg_syncnet_example_120ms.avi"
SHIFT_FRAMES = 3
OFFSET_TOLERANCE_FRAMES = 1
#: synthetic identities for the shift test come from another seed than the training set's (0)
UNSEEN_SEED = 7
#: the demo preset with shorter stages: stage 1 reaches its sync plateau (val window sync accuracy ~0.96-0.99)
#: by epoch ~10 of its 30 (measured in this fixture); stage 2 needs only a usable NLL here
SHORT = ["stage1.max_epochs=12", "stage2.max_epochs=3"]


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


def test_cli_json_matches_the_api_for_real_and_fake_clips(real_av, trained_model):
    """`avanomaly score --json` reports what the API computes for the same files (score, offset, verdict,
    frames), with finite numbers (JSON has null for NaN / inf, so a NaN score shows up as None here)."""
    from avanomaly.scoring import Detector
    from avanomaly.scoring.commands import score

    rel = [VGG, VGG_SHIFTED, "fake/kim_lip_synced.mp4"]
    files = [str(real_av / p) for p in rel]
    res = CliRunner().invoke(score, [*files, "--model", str(trained_model), "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    doc = json.loads(res.output[res.output.index("{"):])
    assert [r["status"] for r in doc["results"]] == ["ok"] * 3
    det = Detector.from_pretrained(trained_model, device="cpu")
    for p, r in zip(rel, doc["results"]):
        assert isinstance(r["score"], float) and math.isfinite(r["score"]), (p, r["score"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            api = det.anomaly_score(real_av / p)
        assert r["score"] == pytest.approx(api.score, abs=1e-5), p
        assert (r["av_offset_frames"], r["verdict"], r["n_frames"]) == (api.av_offset_frames, api.verdict,
                                                                        api.n_frames), p
    # the 120 ms audio-delayed copy has the original's video: same frames
    assert doc["results"][0]["n_frames"] == doc["results"][1]["n_frames"] > 0


def test_av_offset_and_score_follow_an_audio_shift_on_unseen_identities(trained_model, tmp_path):
    """New synthetic identities (another seed, never trained on): the AV offset estimate equals the audio shift
    we apply (+-3 frames, within 1; K = 15, so a clamped estimate cannot pass), and the shifted copies score
    above the clip and are called fake. Measured with the full 30-epoch stage 1 (3 identities, seed 7): offsets
    exactly -3 / 0 / +3, scores ~4.8 -> ~6.2 / ~7.0, percentile 100; it passes with the 12-epoch one too."""
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

