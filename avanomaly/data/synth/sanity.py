"""Is the synthetic benchmark free of trivial shortcuts?

For a generated root, compute the ROC AUC (fake = positive) of trivial one-number detectors, per fake
type and per synthetic method:

- ``audio_rms``: RMS of the decoded audio; ``duration``: clip length from the container;
- ``leading_silence``: seconds before the decoded audio first exceeds a level (FakeAVCeleb's known
  shortcut; the fakes carry it on purpose when generated with ``--leading-silence``);
- ``mouth_mean``: mean ground-truth mouth openness;
- ``av_sync``: *minus* the best Pearson correlation of mouth openness and the audio's F1-band envelope
  (RMS per video frame of the decoded audio band-passed to ``SYNC_BAND`` Hz, where jaw opening shows)
  over lags of ``-MAX_LAG..MAX_LAG`` frames (high = poorly synchronised), computed after the leading
  silence, i.e. what a synchrony-based detector can exploit.

AUCs near 0.5 mean the statistic does not separate real from fake. Usage::

    python -m avanomaly.data.synth.sanity DIR/FakeAVCeleb_v1.2 [--out sanity.csv]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from avanomaly.conventions import FPS
from avanomaly.data.fakeavceleb import REAL_CATEGORY

SILENCE_LEVEL = 1e-3  # |sample| above this ends the leading silence
MAX_LAG = 2  # frames, for the AV-synchrony statistic
SYNC_BAND = (250.0, 900.0)  # Hz: first-formant region
SYNC_BAND_ORDER = 4
STATISTICS = ["audio_rms", "duration", "leading_silence", "mouth_mean", "av_sync"]


def _decode_audio(path: Path) -> tuple[np.ndarray, int, float]:
    import av

    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.rate
        chunks = [f.to_ndarray().mean(axis=0) for f in c.decode(stream)]
        duration = float(c.duration) / 1e6 if c.duration else float("nan")
    return np.concatenate(chunks).astype(np.float32), rate, duration


def band_envelope(audio: np.ndarray, rate: int, n_frames: int) -> np.ndarray:
    """RMS per video frame of ``audio`` band-passed to SYNC_BAND -> (n_frames,)."""
    from scipy.signal import butter, sosfilt

    sos = butter(SYNC_BAND_ORDER, SYNC_BAND, btype="bandpass", fs=rate, output="sos")
    x = sosfilt(sos, audio.astype(np.float64))
    per = rate / FPS
    edges = np.round(np.arange(n_frames + 1) * per).astype(int)
    x = np.pad(x, (0, max(0, edges[-1] - len(x))))
    return np.array([np.sqrt(np.mean(x[edges[i]:edges[i + 1]] ** 2)) for i in range(n_frames)])


def leading_silence(audio: np.ndarray, rate: int, level: float = SILENCE_LEVEL) -> float:
    loud = np.nonzero(np.abs(audio) > level)[0]
    return float(loud[0]) / rate if loud.size else len(audio) / rate


def sync_statistic(openness: np.ndarray, envelope: np.ndarray, start_frame: int = 0, max_lag: int = MAX_LAG) -> float:
    """Negative best correlation over lags (higher = less in sync)."""
    o, e = openness[start_frame:], envelope[start_frame:]
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            a, b = o[: len(o) - lag], e[lag:]
        else:
            a, b = o[-lag:], e[: len(e) + lag]
        if len(a) > 3 and a.std() > 0 and b.std() > 0:
            best = max(best, float(np.corrcoef(a, b)[0, 1]))
    return -best


def auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """ROC AUC of ``pos`` (fake) scoring above ``neg`` (real), ties count half."""
    neg, pos = np.asarray(neg, float), np.asarray(pos, float)
    if len(neg) == 0 or len(pos) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(neg) * len(pos)))


def clip_statistics(root) -> list[dict]:
    root = Path(root)
    truth = np.load(root / "synth_truth.npz")
    rows = []
    with open(root / "synth_methods.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            audio, rate, duration = _decode_audio(root / r["path"])
            lead = leading_silence(audio, rate)
            openness = truth[f"{r['path']}::openness"]
            envelope = band_envelope(audio, rate, len(openness))
            start = int(np.ceil(float(r["leading_silence_s"] or 0) * FPS))
            rows.append({
                "path": r["path"], "type": r["type"], "method": r["method"], "synth_method": r["synth_method"],
                "audio_rms": float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))),
                "duration": duration, "leading_silence": lead,
                "mouth_mean": float(openness.mean()),
                "av_sync": sync_statistic(openness, envelope, start),
            })
    return rows


def auc_table(rows: list[dict]) -> list[dict]:
    real = [r for r in rows if r["type"] == REAL_CATEGORY]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r["type"] == REAL_CATEGORY:
            continue
        groups.setdefault(r["type"], []).append(r)
        groups.setdefault(f"{r['type']} / {r['synth_method'].split('+')[0]}", []).append(r)
    groups["all fakes"] = [r for r in rows if r["type"] != REAL_CATEGORY]
    table = []
    for name in sorted(groups):
        fakes = groups[name]
        row = {"group": name, "n_fake": len(fakes), "n_real": len(real)}
        for s in STATISTICS:
            row[s] = round(auc([r[s] for r in real], [r[s] for r in fakes]), 3)
        table.append(row)
    return table


def face_rates(root, every: int = 1) -> dict[str, tuple[int, int]]:
    """Per type: (frames with a face found by the project's CenterFace detector, frames tested)."""
    import av

    from avanomaly.preprocess import create_detector

    detector = create_detector("centerface")
    root = Path(root)
    out: dict[str, list[int]] = {}
    with open(root / "synth_methods.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            with av.open(str(root / r["path"])) as c:
                for i, f in enumerate(c.decode(video=0)):
                    if i % every:
                        continue
                    counts = out.setdefault(r["type"], [0, 0])
                    counts[0] += len(detector.detect(f.to_ndarray(format="rgb24"))) > 0
                    counts[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="a generated FakeAVCeleb_v1.2 folder")
    ap.add_argument("--out", help="write the AUC table as CSV here")
    ap.add_argument("--faces", action="store_true", help="also report the CenterFace face rate per type (slow)")
    args = ap.parse_args(argv)
    if args.faces:
        print("| type | frames with a face | rate |\n|---|---|---|")
        total = [0, 0]
        for k, (found, n) in sorted(face_rates(args.root).items()):
            total[0] += found
            total[1] += n
            print(f"| {k} | {found}/{n} | {found / n:.4f} |")
        print(f"| all | {total[0]}/{total[1]} | {total[0] / total[1]:.4f} |\n")
    table = auc_table(clip_statistics(args.root))
    header = ["group", "n_fake", "n_real", *STATISTICS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in table:
        print("| " + " | ".join(str(row[h]) for h in header) + " |")
    if args.out:
        with open(args.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=header)
            w.writeheader()
            w.writerows(table)


if __name__ == "__main__":
    main()
