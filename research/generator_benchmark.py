"""Issue 17 ablation: which real-only cue sees generator-made talking heads? Per generator family, with CIs.

    python scripts/generator_corpus.py --mirrors /work/.mirror --out /work/gencorpus    # the fakes + reals
    M=/work/gencorpus/manifest.csv
    python -m research.dynamics_extract --manifest $M        # meshes + landmark caches (all clips)
    python -m research.sync_scores --manifest $M             # the starter model's score of every clip
    python -m research.appearance_probe extract --manifest $M
    python -m research.texture_probe extract --manifest $M
    python -m research.scene_probe --manifest $M
    python -m research.dynamics_probe --manifest $M --out WORK/dyncache/probe_v2
    python -m research.generator_benchmark [--out WORK/dyncache/generator_benchmark.md]

Streams (clip scores, higher = more likely fake; nothing is fitted on or selected with a fake):

- ``sync``: the shipped starter model's calibrated score (``avanomaly score``);
- ``dynamics``: the motion model the dynamics probe selects on real data only (its variant and score kind);
- ``appearance``: Mahalanobis distance of the clip's mouth-vs-eyes / mouth-vs-nose detail and flicker ratios
  (appearance_probe.py) from the corpus TRAIN reals (speaker-balanced Gaussian);
- ``texture``: minus the log of the skin's drift from its median shape-free texture (texture_probe.py: a frozen,
  warped-photo skin scores high);
- ``scene``: minus the log of the motion outside the face (scene_probe.py: a static background and torso score
  high);
- ``fused (max z)``: each stream z-scored on the real corpus val clips (the calibration speakers), then the max.

Negatives: every real clip never used to fit anything (shared reals, corpus test, the benchmark's reals).
AniPortrait results are left out: they are side-by-side panels (reference image | result), not a deepfake file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from research.appearance_probe import RATIOS, mahalanobis_from_train
from research.dynamics_extract import CACHE, HELD_OUT_REAL
from benchmarks.real_faces import auc, auc_ci

STREAMS = ("sync", "dynamics", "appearance", "texture", "scene", "fused (max z)")
EXCLUDED_METHODS = ("AniPortrait",)
#: benchmark identities (generator_corpus.py) who are also training speakers of scripts/corpus.py
TRAINED_PEOPLE = {"obama", "theresa_may", "aoc"}
#: families with fewer clips are pooled into "other" in the per-family rows (they still count in "all fakes")
MIN_FAMILY = 3


def family(group: str) -> str:
    """'extra_fake_Wav2Lip (wav2lip-HQ fork)' -> 'Wav2Lip'; 'generator_fake' -> 'VASA-1 / EMO (V-Express)'."""
    if group == "generator_fake":
        return "VASA-1 / EMO (V-Express)"
    if group == "shared_fake":
        return "shared fakes (Wav2Lip, SadTalker)"
    name = group.removeprefix("extra_fake_")
    for base in ("Wav2Lip", "SadTalker", "AniTalker", "EDTalk", "DreamTalk"):
        if name.startswith(base):
            return base
    return name


def load(cache: Path, probe: Path) -> pd.DataFrame:
    app = pd.read_csv(cache / "appearance_iod48.csv")
    syn = pd.read_csv(cache / "sync_scores.csv")[["path", "sync_score"]]
    dyn = pd.read_csv(probe / "dynamics_scores.csv")
    tex = pd.read_csv(cache / "texture.csv")[["path", "skin_drift"]]
    scene = pd.read_csv(cache / "scene.csv")[["path", "bg_motion"]]
    info = json.loads((probe / "dynamics_probe.json").read_text())
    variant, kind = info["selected"]
    mu, sd = info["val_stats"][variant]
    dyn["dynamics"] = dyn[variant] if kind == "mean" else (dyn[variant] - mu).abs() / sd
    df = app.merge(syn, on="path").merge(dyn[["path", "dynamics"]], on="path", how="left").merge(tex, on="path")
    df = df.merge(scene, on="path", how="left")
    df["texture"] = -np.log(df.skin_drift)
    df["scene"] = -np.log(df.bg_motion + 1e-3)
    df = df[~df.group.str.contains("|".join(EXCLUDED_METHODS))].dropna(subset=list(RATIOS)).copy()
    df["appearance"] = mahalanobis_from_train(df)
    df["sync"] = df.sync_score
    val = df[df.group == "corpus_val"]
    z = [(df[s] - val[s].mean()) / max(val[s].std(ddof=1), 1e-6) for s in STREAMS[:-1]]
    df["fused (max z)"] = np.nanmax(np.stack(z), axis=0)
    df["family"] = [family(g) if lab == "fake" else "real" for g, lab in zip(df.group, df.label)]
    df.attrs["dynamics_variant"] = f"{variant} / {kind}"
    return df


def cell(neg, pos) -> str:
    neg, pos = np.asarray(neg, float), np.asarray(pos, float)
    neg, pos = neg[np.isfinite(neg)], pos[np.isfinite(pos)]
    if not len(neg) or not len(pos):
        return "n/a"
    lo, hi = auc_ci(neg, pos)
    return f"{auc(neg, pos):.2f} [{lo:.2f}, {hi:.2f}]"


def table(df: pd.DataFrame) -> list[str]:
    reals = df[df.group.isin(HELD_OUT_REAL)]
    fakes = df[df.label == "fake"]
    counts = fakes.family.value_counts()
    fam = fakes.family.where(fakes.family.map(counts) >= MIN_FAMILY, "other (< 3 clips each)")
    rows = []
    for name, f in sorted(fakes.groupby(fam), key=lambda kv: -len(kv[1])):
        rows.append([name, str(len(f)), *[cell(reals[s], f[s]) for s in STREAMS]])
    rows.append(["**all fakes**", str(len(fakes)), *[cell(reals[s], fakes[s]) for s in STREAMS]])
    trained_ids = set(df[df.group == "corpus_train"].identity) | TRAINED_PEOPLE
    unseen = reals[~reals.identity.isin(trained_ids)]
    rows.append(["all fakes vs reals of unseen people only", f"{len(fakes)} / {len(unseen)}",
                 *[cell(unseen[s], fakes[s]) for s in STREAMS]])
    head = ["fakes", "n", *STREAMS]
    conf = []
    for c, name in (("frame_side", "frame side"), ("iod_px", "inter-ocular px")):
        a = auc(reals[c], fakes[c])
        conf.append(f"{name} {max(a, 1 - a):.2f}")
    foot = ["", "Trivial properties alone, all fakes vs held-out reals (best direction): " + ", ".join(conf) + "."]
    return [f"Held-out reals: {len(reals)} clips of {reals.identity.nunique()} people; dynamics variant "
            f"{df.attrs['dynamics_variant']} (selected on real data only). AUC [95 % bootstrap CI], fake vs real.", "",
            "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *["| " + " | ".join(r) + " |" for r in rows], *foot]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--probe", type=Path, default=CACHE / "probe_v2")
    ap.add_argument("--out", type=Path, default=CACHE / "generator_benchmark.md")
    args = ap.parse_args(argv)
    lines = table(load(args.cache, args.probe))
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
