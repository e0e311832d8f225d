"""Is the synthetic benchmark free of trivial shortcuts?

For a generated root, compute the ROC AUC (fake = positive) of trivial one-number detectors, per fake
type and per synthetic method:

- ``audio_rms``: RMS of the decoded audio; ``duration``: clip length from the container;
- ``leading_silence``: seconds before the decoded audio first exceeds a level (FakeAVCeleb's known
  shortcut; the fakes carry it on purpose when generated with ``--leading-silence``);
- ``mouth_mean``: mean ground-truth mouth openness;
- ``av_sync``: *minus* the best Pearson correlation of mouth openness and audio envelope over lags
  of ``-MAX_LAG..MAX_LAG`` frames (high = poorly synchronised), computed after the leading silence, i.e.
  what a synchrony-based detector can exploit.

AUCs near 0.5 mean the statistic does not separate real from fake. Usage::

    python -m avanomaly.data.synth.sanity DIR/FakeAVCeleb_v1.2 [--out sanity.csv]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

SILENCE_LEVEL = 1e-3  # |sample| above this ends the leading silence
MAX_LAG = 2  # frames, for the AV-synchrony statistic
FPS = 25
SAMPLES_PER_FRAME = 640
STATISTICS = ["audio_rms", "duration", "leading_silence", "mouth_mean", "av_sync"]


def _decode_audio(path: Path) -> tuple[np.ndarray, int, float]:
    import av

    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.rate
        chunks = [f.to_ndarray().mean(axis=0) for f in c.decode(stream)]
        duration = float(c.duration) / 1e6 if c.duration else float("nan")
    return np.concatenate(chunks).astype(np.float32), rate, duration


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
            envelope = truth[f"{r['path']}::envelope"]
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
    real = [r for r in rows if r["type"] == "RealVideo-RealAudio"]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r["type"] == "RealVideo-RealAudio":
            continue
        groups.setdefault(r["type"], []).append(r)
        groups.setdefault(f"{r['type']} / {r['synth_method'].split('+')[0]}", []).append(r)
    groups["all fakes"] = [r for r in rows if r["type"] != "RealVideo-RealAudio"]
    table = []
    for name in sorted(groups):
        fakes = groups[name]
        row = {"group": name, "n_fake": len(fakes), "n_real": len(real)}
        for s in STATISTICS:
            row[s] = round(auc([r[s] for r in real], [r[s] for r in fakes]), 3)
        table.append(row)
    return table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="a generated FakeAVCeleb_v1.2 folder")
    ap.add_argument("--out", help="write the AUC table as CSV here")
    args = ap.parse_args(argv)
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
