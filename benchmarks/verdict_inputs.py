"""Inputs the detector cannot judge, measured on the shared real clips with the starter model (docs/scoring.md,
"Abstaining"). Prints numbers; nothing here trains or calibrates.

    PYTHONPATH=. .venv/bin/python benchmarks/verdict_inputs.py STUDY [--clips NAME ...]

Studies:

- ``face-drift``: how the score of a real clip drifts as its face is removed from 10..60 % of the frames (the
  frames blanked in 3 evenly spread spans; features of frames without a face are held from the last face, exactly
  as the landmark tracker does), scored on every frame (``face_frames_only=False``, the old way) and on the frames
  with a face (the default);
- ``two-faces``: two real clips side by side (the left one's audio): the score, and the face counts of the
  ``multiple-faces`` rule; the left clip alone for reference;
- ``anamorphic``: a copy at half width with sample aspect ratio 2:1 (lossless x264, PCM audio) next to a
  re-encode of the same frames at full width, and the squeezed frames as an old decoder gave them;
- ``music``: speech seconds (Silero VAD) and the loudness count for synthetic music and noise, and each clip's audio;
- ``large``: a real clip stretched (width x ``--stretch``) and scaled to 3840 px wide: the score, vs the clip;
- ``cost``: milliseconds of CPU per second of audio for the VAD, per checked frame for the face counter.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "real-av"
if not DATA.exists():
    DATA = Path("/work/shared/data/real-av")
REAL = sorted(p.name for p in (DATA / "real").glob("*") if p.suffix in (".mp4", ".avi"))
FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
SPANS = 3


def _detector(**kwargs):
    from avanomaly.scoring.detector import Detector

    return Detector.from_pretrained("starter", device="cpu", **kwargs)


def _features(det, path):
    """(visual (T, F), mel (4T, M), found (T,)) of a file, through the Detector's streaming extractor."""
    from avanomaly.preprocess.stream import StreamState

    parts = list(det._clip_chunks(str(path), str(path), StreamState(fps=25.0)))
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def blank_spans(n: int, fraction: float, spans: int = SPANS) -> np.ndarray:
    """Bool (n,): True on ``spans`` evenly spread runs covering ``fraction`` of the frames."""
    out = np.zeros(n, bool)
    total = int(round(fraction * n))
    if total == 0:
        return out
    lengths = [total // spans + (i < total % spans) for i in range(spans)]
    for i, length in enumerate(lengths):
        start = int((i + 0.5) * n / spans - length / 2)
        out[max(0, start): max(0, start) + length] = True
    return out


def hold(visual: np.ndarray, found: np.ndarray, drop: np.ndarray):
    """Remove the face from ``drop`` frames as LipTracker would: features held from the last face (frames before the
    first face take the first one's)."""
    v = visual.copy()
    f = found & ~drop
    idx = np.flatnonzero(f)
    if idx.size == 0:
        return v, f
    last = idx[0]
    for t in range(len(v)):
        if f[t]:
            last = t
        else:
            v[t] = v[last]
    return v, f


def face_drift(args):
    det_all = _detector(face_frames_only=False)
    det_face = _detector()
    print("clip                        frac  face_rate  score(all frames)  score(face frames)  verdict(face)")
    rows = []
    for name in args.clips:
        visual, mel, found = _features(det_face, DATA / "real" / name)
        base = None
        for frac in FRACTIONS:
            v, f = hold(visual, found, blank_spans(len(found), frac))
            ra = det_all.score_features(v, mel, f)
            rf = det_face.score_features(v, mel, f)
            base = base or (ra.score, rf.score)
            rows.append((name, frac, ra.score - base[0], rf.score - base[1]))
            print(f"{name:28s} {frac:4.1f}  {f.mean():9.2f}  {ra.score:8.3f} ({ra.score - base[0]:+.3f})  "
                  f"{rf.score:8.3f} ({rf.score - base[1]:+.3f})  {rf.verdict}", flush=True)
    print("\nmedian |drift| over clips (threshold of the starter model: %.3f)" % det_face.threshold)
    for frac in FRACTIONS[1:]:
        a = [abs(r[2]) for r in rows if r[1] == frac]
        b = [abs(r[3]) for r in rows if r[1] == frac]
        print(f"  {frac:.1f} removed: all frames median {np.median(a):.3f} max {np.max(a):.3f} | face frames median "
              f"{np.median(b):.3f} max {np.max(b):.3f}")


def _load(name, max_side=512):
    from avanomaly.io import load_clip

    return load_clip(DATA / "real" / name, max_side=max_side)


def _resize_h(frames, h):
    import cv2

    return np.stack([cv2.resize(f, (int(round(f.shape[1] * h / f.shape[0])), h), interpolation=cv2.INTER_AREA)
                     for f in frames])


def two_faces(args):
    from avanomaly.preprocess.evidence import comparable_faces, face_counter

    det = _detector()
    counter = face_counter(det.preprocess_cfg)
    pairs = [(a, b) for a, b in zip(args.clips, args.clips[1:] + args.clips[:1]) if a != b]
    for left, right in pairs + [(b, a) for a, b in pairs]:
        a, b = _load(left), _load(right)
        n = min(a.n_frames, b.n_frames)
        frames = np.concatenate([_resize_h(a.frames[:n], 224), _resize_h(b.frames[:n], 224)], axis=2)
        audio = a.audio[: n * 640]
        counts = [comparable_faces(counter.widths(f)) for f in frames[::10]]
        try:
            r = det.anomaly_score((frames, audio))
            s = f"score {r.score:7.3f} pct {r.percentile:5.1f} verdict {r.verdict:7s} abstain {r.abstain}"
        except Exception as exc:  # noqa: BLE001 - a measurement: say what happened
            s = type(exc).__name__
        solo = det.anomaly_score((_resize_h(a.frames[:n], 224), audio))
        print(f"{left} | {right}: >=2 faces on {np.mean([c >= 2 for c in counts]):.2f} of checked frames; {s}; "
              f"left alone {solo.score:.3f} {solo.verdict}", flush=True)
    for name in args.clips:
        c = _load(name)
        counts = [comparable_faces(counter.widths(f)) for f in c.frames[::10]]
        print(f"{name} alone: >=2 faces on {np.mean([k >= 2 for k in counts]):.2f} of checked frames")


def _write(path, frames, audio, sar=None):
    from avanomaly.io.testing import write_test_video

    h, w = frames.shape[1:3]
    return write_test_video(path, fps=25, n_frames=len(frames), size=(w, h), audio_rate=16000,
                            audio_fn=lambda t: audio[np.minimum((t * 16000).round().astype(int), len(audio) - 1)],
                            frame_fn=lambda i, size: frames[i], audio_codec="pcm_s16le",
                            sample_aspect_ratio=sar)


def anamorphic(args, tmp=Path("/tmp/avanomaly-verdict-inputs")):
    import cv2

    det = _detector()
    tmp.mkdir(parents=True, exist_ok=True)
    for name in args.clips:
        c = _load(name)
        frames = c.frames[:, : c.frames.shape[1] // 2 * 2, : c.frames.shape[2] // 4 * 4]
        h, w = frames.shape[1:3]
        squeezed = np.stack([cv2.resize(f, (w // 2, h), interpolation=cv2.INTER_AREA) for f in frames])
        full = _write(tmp / f"{Path(name).stem}_full.mkv", frames, c.audio)
        ana = _write(tmp / f"{Path(name).stem}_sar2.mkv", squeezed, c.audio, sar=Fraction(2, 1))
        r0 = det.anomaly_score(DATA / "real" / name)
        r1 = det.anomaly_score(full)
        r2 = det.anomaly_score(ana)
        r3 = det.anomaly_score((squeezed, c.audio))  # what a decoder that ignores the aspect ratio gave
        print(f"{name}: original {r0.score:.3f} {r0.verdict} | re-encoded {w}x{h} {r1.score:.3f} {r1.verdict} | "
              f"{w // 2}x{h} SAR 2:1 {r2.score:.3f} {r2.verdict} (diff {r2.score - r1.score:+.3f}) | squeezed, SAR "
              f"ignored {r3.score:.3f} {r3.verdict}", flush=True)


def music(args):
    from avanomaly.preprocess.speech import speech_seconds
    from avanomaly.preprocess.stream import silent_frames

    sr = 16000
    rng = np.random.default_rng(0)
    t = np.arange(8 * sr) / sr
    signals = {"chords": synth_music(8.0, sr), "white noise -20 dBFS": 0.1 * rng.standard_normal(t.size),
               "440 Hz tone": 0.5 * np.sin(2 * np.pi * 440 * t)}
    for name in args.clips:
        signals[name] = _load(name).audio
    for key, x in signals.items():
        x = np.asarray(x, np.float32)
        loud = float((~silent_frames(x, 640)).sum()) / 25
        print(f"{key:30s} {x.size / sr:5.2f} s: speech (VAD) {speech_seconds(x):5.2f} s, above -50 dBFS {loud:5.2f} s")


def synth_music(seconds: float, sr: int = 16000) -> np.ndarray:
    """Synthetic music: a chord progression of harmonic tones with note envelopes and a bass line."""
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros_like(t)
    chords = ((261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7))
    beat = 0.5
    for k in range(int(seconds / beat)):
        seg = (t >= k * beat) & (t < (k + 1) * beat)
        tt = t[seg] - k * beat
        env = np.exp(-3 * tt)
        for f in chords[(k // 4) % len(chords)] + (chords[(k // 4) % len(chords)][0] / 2,):
            out[seg] += env * sum(np.sin(2 * np.pi * f * h * tt) / h for h in (1, 2, 3))
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


STRETCHES = (0.75, 1.0, 1.33, 1.5)


def _stretch(frames, sx, max_side=512):
    """Frames stretched ``sx`` times horizontally, then shrunk as the decoder's ``max_side`` would."""
    import cv2

    h, w = frames.shape[1:3]
    w2 = int(round(w * sx))
    k = min(1.0, max_side / max(w2, h))
    size = (max(2, int(round(w2 * k))), max(2, int(round(h * k))))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


def large(args, tmp=Path("/tmp/avanomaly-verdict-inputs")):
    """Stretched copies (through arrays, at the decoder's size), the face's eyes-to-chin height (inter-ocular
    units, median over face frames) of each, and one clip written stretched at 3840 px wide and decoded."""
    import cv2

    from avanomaly.preprocess.frontends import track_frames
    from avanomaly.preprocess.landmarks import CHIN, LIPS_INNER, LIPS_OUTER

    chin_y = 2 * (len(LIPS_OUTER) + len(LIPS_INNER) + CHIN.index(152)) + 1  # the chin point's y feature
    det = _detector()
    for name in args.clips:
        c = _load(name)
        row = []
        for sx in STRETCHES:
            frames = _stretch(c.frames, sx)
            visual, found = track_frames(frames, det.preprocess_cfg)
            r = det.anomaly_score((frames, c.audio))
            row.append(f"x{sx:g}: {r.score:6.3f} {r.verdict:7s} chin {np.median(visual[found, chin_y]):.2f}")
        print(f"{name:28s} " + " | ".join(row), flush=True)
    tmp.mkdir(parents=True, exist_ok=True)
    name = args.clips[0]
    c = _load(name, max_side=None)
    h, w = c.frames.shape[1:3]
    big_w = 3840
    big_h = int(round(h * big_w / (w * args.stretch))) // 2 * 2
    from avanomaly.io.testing import write_test_video

    audio = c.audio
    path = write_test_video(tmp / f"{Path(name).stem}_4k.mp4", fps=25, n_frames=c.n_frames, size=(big_w, big_h),
                            audio_rate=16000, video_codec="mpeg4", audio_codec="pcm_s16le",
                            audio_fn=lambda t: audio[np.minimum((t * 16000).round().astype(int), len(audio) - 1)],
                            frame_fn=lambda i, size: cv2.resize(c.frames[i], size, interpolation=cv2.INTER_CUBIC))
    t0 = time.time()
    r1 = det.anomaly_score(path)
    r0 = det.anomaly_score((_stretch(c.frames, args.stretch), c.audio))
    print(f"{name} {w}x{h} stretched x{args.stretch} to {big_w}x{big_h}, decoded to <= 512 px: {r1.score:.3f} "
          f"{r1.verdict} ({time.time() - t0:.0f} s) | the same stretch at {w}x{h}: {r0.score:.3f} {r0.verdict}")
    os.unlink(path)


def cost(args):
    from avanomaly.preprocess.evidence import face_counter
    from avanomaly.preprocess.speech import speech_seconds

    det = _detector()
    counter = face_counter(det.preprocess_cfg)
    audio_s = cpu_s = frames = fcpu = 0.0
    for name in args.clips:
        c = _load(name)
        t = time.process_time()
        speech_seconds(c.audio)
        cpu_s += time.process_time() - t
        audio_s += c.audio.size / 16000
        counter.widths(c.frames[0])  # graph start
        t = time.process_time()
        for f in c.frames[::10]:
            counter.widths(f)
        fcpu += time.process_time() - t
        frames += len(c.frames[::10])
    print(f"VAD: {1000 * cpu_s / audio_s:.1f} ms CPU per second of audio ({audio_s:.1f} s of audio)")
    print(f"face count: {1000 * fcpu / frames:.1f} ms CPU per checked frame ({frames:.0f} frames; one in 10 is "
          f"checked: {1000 * fcpu / frames * 2.5:.1f} ms per second of video at 25 fps)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study", choices=["face-drift", "two-faces", "anamorphic", "music", "large", "cost"])
    p.add_argument("--clips", nargs="+", default=REAL)
    p.add_argument("--stretch", type=float, default=1.33, help="large: horizontal stretch factor")
    args = p.parse_args(argv)
    {"face-drift": face_drift, "two-faces": two_faces, "anamorphic": anamorphic, "music": music, "large": large,
     "cost": cost}[args.study](args)


if __name__ == "__main__":
    sys.exit(main())
