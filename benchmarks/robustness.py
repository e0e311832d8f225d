"""Robustness: AUC (all fakes pooled vs real, test split) under perturbations of every test clip.

    .venv/bin/python benchmarks/robustness.py --data DIR/FakeAVCeleb_v1.2 --model RUN --out reports/robustness \
        [--perturbations crf,downscale,noise,offset] [--max-clips N] [--trim] [--threads 1] [--docs docs/results.md]

Perturbations (each applied to real AND fake clips alike, strength 0 = the clean clip):
  crf        H.264 re-encode (PyAV, libx264, in memory) at CRF 23 / 30 / 35 / 40 (video only);
  downscale  frames downscaled by 0.75 / 0.5 / 0.35 (cv2 INTER_AREA), then re-encoded at CRF 18;
  noise      white Gaussian noise added to the audio at SNR 30 / 20 / 10 / 5 / 0 dB;
  offset     audio shifted by +-2 / +-5 / +-10 frames (positive = audio delayed; zero-padded).
Video perturbations re-run face tracking + mouth crops on the perturbed frames; audio perturbations only
recompute the log-mel (the mouth crops of the clean clip are reused: the video is unchanged).
Methods scored on the same perturbed features: avanomaly (Detector.score_features), sync-only and
sync-heuristic. Writes OUT/robustness.csv (method, perturbation, strength, auc, n_real, n_fake,
mean_real_score, mean_fake_score), OUT/robustness.md and OUT/robustness.png (AUC vs strength per perturbation).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import shlex
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

LEVELS = {
    "crf": [0, 23, 30, 35, 40],
    "downscale": [1.0, 0.75, 0.5, 0.35],
    "noise": [float("inf"), 30.0, 20.0, 10.0, 5.0, 0.0],  # SNR dB; inf = clean
    "offset": [0, -10, -5, -2, 2, 5, 10],
}
STRENGTH_LABEL = {"crf": "CRF (0 = original file)", "downscale": "scale factor", "noise": "audio SNR (dB)",
                  "offset": "audio offset (frames, + = delayed)"}
DOWNSCALE_CRF = 18  # re-encode quality after downscaling (near-lossless, so only the scale matters)
NOISE_SEED = 0
BEGIN = "<!-- ROBUSTNESS:BEGIN -->"
END = "<!-- ROBUSTNESS:END -->"


def reencode(frames: np.ndarray, crf: int, fps: int = 25) -> np.ndarray:
    """(T,H,W,3) uint8 -> the same frames after an in-memory H.264 round trip at ``crf`` (even sizes kept)."""
    import av

    t, h, w, _ = frames.shape
    h2, w2 = h - h % 2, w - w % 2
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        v = out.add_stream("libx264", rate=Fraction(fps, 1))
        v.width, v.height, v.pix_fmt = w2, h2, "yuv420p"
        v.options = {"crf": str(int(crf)), "preset": "veryfast", "threads": "1"}
        for f in frames[:, :h2, :w2]:
            for p in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
    buf.seek(0)
    with av.open(buf) as inp:
        dec = [fr.to_ndarray(format="rgb24") for fr in inp.decode(video=0)]
    if len(dec) != t:
        raise RuntimeError(f"re-encode gave {len(dec)} frames for {t}")
    return np.stack(dec)


def downscale(frames: np.ndarray, factor: float) -> np.ndarray:
    import cv2

    if factor >= 1.0:
        return frames
    t, h, w, _ = frames.shape
    size = (max(16, int(round(w * factor))), max(16, int(round(h * factor))))
    small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    return reencode(small, DOWNSCALE_CRF)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    if not np.isfinite(snr_db):
        return audio
    p = float(np.mean(audio.astype(np.float64) ** 2)) + 1e-12
    noise = rng.normal(0.0, np.sqrt(p / 10 ** (snr_db / 10)), audio.shape)
    return np.clip(audio + noise, -1.0, 1.0).astype(np.float32)


def shift_audio(audio: np.ndarray, frames: int, spf: int) -> np.ndarray:
    """Positive = audio delayed (starts later): zeros in front, the end dropped; same length."""
    n = frames * spf
    out = np.zeros_like(audio)
    if n >= 0:
        out[n:] = audio[:len(audio) - n]
    else:
        out[:n] = audio[-n:]
    return out


def perturbed_features(clip, clean, kind: str, level, cfg, face, rng):
    """-> (mouths (T,S,S) uint8, mel (4T,M) float32) of ``clip`` under one perturbation."""
    import torch

    from avanomaly.preprocess import extract_mouths, log_mel

    frames, audio = clip.frames, clip.audio
    mouths = clean[0]
    if kind == "crf" and level:
        mouths, _ = extract_mouths(reencode(frames, level), face, cfg)
    elif kind == "downscale" and level < 1.0:
        mouths, _ = extract_mouths(downscale(frames, level), face, cfg)
    elif kind == "noise":
        audio = add_noise(audio, level, rng)
    elif kind == "offset" and level:
        audio = shift_audio(audio, int(level), cfg.samples_per_frame)
    if audio is clip.audio:
        return mouths, clean[1]
    mel = log_mel(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), cfg,
                  n_frames=int(frames.shape[0])).numpy()
    return mouths, mel


def scores_for(mouths, mel, detector, hcfg) -> dict:
    """Scores of the three methods on one (perturbed) clip."""
    import torch

    from avanomaly.evaluation.baselines import heuristic_sync
    from avanomaly.evaluation.baselines.common import clip_sync_logits

    class _Mem:  # CachedClip-like view of in-memory features
        def __init__(self, m, a):
            self.mouths, self.mel, self.n_frames, self.path = m, a, int(m.shape[0]), "<perturbed>"

        def window(self, start, length):
            from avanomaly.preprocess.cache import CachedClip

            return CachedClip.window(self, start, length)

    out = {"avanomaly": detector.score_features(mouths, mel, threshold=0.0).score}
    logits, mask = clip_sync_logits(detector.sync_model, _Mem(mouths, mel))
    with torch.no_grad():
        _, conf = detector.sync_model.offset_confidence(logits[None], mask[None])
    out["sync-only"] = -float(conf[0])
    out["sync-heuristic"] = heuristic_sync(mouths, mel, hcfg)["score"]
    return out


def auc(labels, scores) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.asarray([1 if lab == "fake" else 0 for lab in labels])
    s = np.asarray(scores, dtype=float)
    ok = np.isfinite(s)
    if len(set(y[ok])) < 2:
        return float("nan")
    return float(roc_auc_score(y[ok], s[ok]))


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(df["perturbation"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4), squeeze=False)
    for ax, k in zip(axes[0], kinds):
        sub = df[df["perturbation"] == k]
        for m in dict.fromkeys(sub["method"]):
            s = sub[sub["method"] == m].copy()
            x = s["strength"].replace([np.inf], np.nan)
            if k == "noise":
                x = x.fillna(40.0)  # clean drawn at 40 dB
            s = s.assign(x=x).sort_values("x")
            ax.plot(s["x"], s["auc"], marker="o", label=m)
        ax.set_title(k)
        ax.set_xlabel(STRENGTH_LABEL[k] + (" (clean at 40)" if k == "noise" else ""))
        ax.set_ylabel("AUC (all fakes)")
        ax.set_ylim(0.0, 1.02)
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        if k == "noise":
            ax.invert_xaxis()
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--perturbations", default="crf,downscale,noise,offset")
    ap.add_argument("--max-clips", type=int, default=0, help="first N real clips and N fake clips spread over the categories (0 = all)")
    ap.add_argument("--trim", action="store_true", help="trim the leading silence before perturbing")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--docs", default=None)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    from avanomaly.data import read_manifest
    from avanomaly.evaluation.baselines import HeuristicConfig
    from avanomaly.evaluation.pipeline import select_split
    from avanomaly.io import load_clip
    from avanomaly.preprocess import create_detector, extract_mouths, log_mel
    from avanomaly.scoring.detector import Detector

    kinds = [k.strip() for k in args.perturbations.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in LEVELS]
    if unknown:
        sys.exit(f"unknown perturbation(s) {unknown}; known: {list(LEVELS)}")
    t0 = time.time()
    det = Detector.from_pretrained(args.model, device="cpu")
    cfg = dataclasses.replace(det.preprocess_cfg, face_fallback="center")
    face = create_detector(cfg.detector)
    hcfg = HeuristicConfig()
    clips = select_split(read_manifest(args.data), args.split)
    if args.max_clips:
        fakes = clips[clips["label"] == "fake"]  # spread over the categories, then the first ones
        per_cat = -(-args.max_clips // max(1, fakes["category"].nunique()))
        fakes = fakes.groupby("category", sort=True).head(per_cat).head(args.max_clips)
        clips = pd.concat([clips[clips["label"] == "real"].head(args.max_clips), fakes])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records, failed = [], []
    for row in clips.itertuples():
        try:
            clip = load_clip(row.path, fps=cfg.fps, sample_rate=cfg.sample_rate, max_side=cfg.max_side)
            if args.trim:
                from avanomaly.preprocess.silence import detect_leading_silence, trim_leading

                lead = detect_leading_silence(clip.audio, clip.sample_rate)
                if lead > 0:
                    fr, au, _ = trim_leading(clip.frames, clip.audio, clip.fps, clip.sample_rate, lead)
                    clip = dataclasses.replace(clip, frames=fr, audio=au)
            m0, _ = extract_mouths(clip.frames, face, cfg)
            mel0 = log_mel(torch.from_numpy(np.ascontiguousarray(clip.audio)), cfg,
                           n_frames=int(clip.frames.shape[0])).numpy()
            rng = np.random.default_rng(NOISE_SEED)
            for kind in kinds:
                for level in LEVELS[kind]:
                    m, a = perturbed_features(clip, (m0, mel0), kind, level, cfg, face, rng)
                    for method, s in scores_for(m, a, det, hcfg).items():
                        records.append({"path": row.path, "label": row.label, "category": row.category,
                                        "perturbation": kind, "strength": level, "method": method, "score": s})
        except Exception as exc:  # noqa: BLE001 - one bad clip must not stop the sweep; it is listed
            failed.append((row.path, f"{type(exc).__name__}: {exc}"))
            logging.warning("%s: %s", row.path, exc)
        print(f"{row.path}: done ({time.time() - t0:.0f} s)", flush=True)
    per_clip = pd.DataFrame(records)
    per_clip.to_csv(out / "robustness_scores.csv", index=False)
    rows = []
    for (kind, level, method), g in per_clip.groupby(["perturbation", "strength", "method"], sort=False):
        rows.append({"method": method, "perturbation": kind, "strength": level, "auc": auc(g["label"], g["score"]),
                     "n_real": int((g["label"] == "real").sum()), "n_fake": int((g["label"] == "fake").sum()),
                     "mean_real_score": float(g.loc[g["label"] == "real", "score"].mean()),
                     "mean_fake_score": float(g.loc[g["label"] == "fake", "score"].mean())})
    df = pd.DataFrame(rows)
    df.to_csv(out / "robustness.csv", index=False)
    plot(df, out / "robustness.png")
    lines = ["| perturbation | strength | " + " | ".join(dict.fromkeys(df["method"])) + " |",
             "|---|---|" + "---|" * df["method"].nunique()]
    for (kind, level), g in df.groupby(["perturbation", "strength"], sort=False):
        cells = [f"{g.loc[g['method'] == m, 'auc'].iloc[0]:.3f}" for m in dict.fromkeys(df["method"])]
        lines.append(f"| {kind} | {level} | " + " | ".join(cells) + " |")
    n_real, n_fake = int(df["n_real"].iloc[0]), int(df["n_fake"].iloc[0])
    table = "\n".join(lines) + f"\n\nAUC, all fakes pooled; {n_real} real and {n_fake} fake {args.split} clips" + \
        (f"; {len(failed)} clip(s) failed: " + "; ".join(f"{p} ({e})" for p, e in failed) if failed else "") + "."
    (out / "robustness.md").write_text(table + "\n")
    print(table)
    total = time.time() - t0
    print(f"{total / 60:.1f} min")
    if args.docs:
        cmd = "python benchmarks/robustness.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        body = (f"Produced {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by\n\n```bash\n{cmd}\n```\n\n"
                f"({total / 60:.1f} min on this shared 2-core CPU)\n\n{table}\n\n"
                f"![robustness]({(out / 'robustness.png')})\n")
        _write_docs(Path(args.docs), body)
    return 0


def _write_docs(path: Path, body: str) -> None:
    text = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        _, post = rest.split(END, 1)
        text = pre + block + post
    else:
        text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
