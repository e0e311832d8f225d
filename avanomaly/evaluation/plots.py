"""The report's figures (matplotlib, Agg): ROC, precision-recall, score histograms, threshold-vs-rate curves and
per-frame NLL examples of one pass."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from avanomaly.data.fakeavceleb import REAL_CATEGORY
from avanomaly.evaluation import metrics as M
from avanomaly.evaluation.compute import threshold_sweep

PLOT_DPI = 90
HIST_BINS = 40


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI, bbox_inches="tight")  # keeps legends placed outside the axes
    _plt().close(fig)
    return path


#: one colour per category on every figure (matplotlib tab10 entries)
CATEGORY_COLOURS = {REAL_CATEGORY: "tab:blue", "RealVideo-FakeAudio": "tab:orange", "FakeVideo-RealAudio": "tab:green",
                    "FakeVideo-FakeAudio": "tab:red"}


def _colour(cat: str):
    return CATEGORY_COLOURS.get(cat)


def _by_category(ok: pd.DataFrame):
    reals = ok[ok["label"] == "real"]
    for cat in sorted(set(ok.loc[ok["label"] == "fake", "category"])):
        yield cat, reals, ok[(ok["label"] == "fake") & (ok["category"] == cat)]


def make_plots(df: pd.DataFrame, res, out_dir: Path) -> dict:
    """ROC, precision-recall, score histograms, threshold-vs-rate curves, per-frame NLL examples of one pass
    (``res``: its :class:`~avanomaly.evaluation.compute.PassResult`) -> {plot name: PNG path} under ``out_dir``."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    ok = df[df["status"] == "ok"]
    plots = {}
    pairs = list(_by_category(ok))
    if not pairs or ok[ok["label"] == "real"].empty:
        return plots
    tag = res.name

    fig, ax = plt.subplots(figsize=(6, 5))
    for cat, reals, fakes in pairs:
        y = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
        s = np.r_[reals["score"], fakes["score"]]
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, c=_colour(cat), label=f"{cat} (AUC {M.roc_auc(y, s):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=1)
    ax.set(xlabel="false positive rate (reals called fake)", ylabel="true positive rate (fakes caught)",
           title=f"ROC per category ({tag})", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    plots["roc"] = _save(fig, out_dir / f"roc_{tag}.png")

    fig, ax = plt.subplots(figsize=(6, 5))
    for cat, reals, fakes in pairs:
        y = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
        s = np.r_[reals["score"], fakes["score"]]
        p, r, _ = precision_recall_curve(y, s)
        ax.step(r, p, where="post", c=_colour(cat), label=f"{cat} (AP {M.average_precision(y, s):.3f})")
    ax.set(xlabel="recall (fakes caught)", ylabel="precision", title=f"Precision-recall per category ({tag})",
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left", fontsize=8)
    plots["pr"] = _save(fig, out_dir / f"pr_{tag}.png")

    fig, ax = plt.subplots(figsize=(9, 4.5))
    lo, hi = float(ok["score"].min()), float(ok["score"].max())
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, HIST_BINS + 1)
    for cat in [REAL_CATEGORY] + [c for c, _, _ in pairs if c != REAL_CATEGORY]:
        part = ok[ok["category"] == cat] if cat != REAL_CATEGORY else ok[ok["label"] == "real"]
        if len(part):
            ax.hist(part["score"], bins=bins, histtype="step", lw=1.5, density=True, color=_colour(cat),
                    label=f"{cat} (n={len(part)})")
    styles = {"calibrated": "-", "eer": "--", "best_f1": ":"}
    for op in res.operating_points:
        if op.threshold is not None:
            ax.axvline(op.threshold, c="k", ls=styles.get(op.name, "-."), lw=1, label=f"{op.name} threshold")
    ax.set(xlabel="anomaly score (higher = more fake)", ylabel="density", title=f"Score distributions ({tag})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plots["hist"] = _save(fig, out_dir / f"hist_{tag}.png")

    sweep = threshold_sweep(df)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(sweep["threshold"], sweep["fpr"], c="k", lw=2, label="FPR (reals called fake)")
    for col in [c for c in sweep.columns if c.startswith("tpr_")]:
        ax.plot(sweep["threshold"], sweep[col], c=_colour(col[4:]), label=f"TPR {col[4:]}")
    if res.threshold is not None:
        ax.axvline(res.threshold, c="r", ls="--", lw=1, label="calibrated threshold")
    ax.set(xlabel="threshold (score >= threshold is fake)", ylabel="rate", title=f"Rates vs threshold ({tag})",
           ylim=(0, 1.01))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plots["rates"] = _save(fig, out_dir / f"rates_{tag}.png")

    if "nll" in ok.columns:
        has_curve = ok["nll"].map(lambda v: v is not None and not (isinstance(v, float) and math.isnan(v))
                                  and len(v) > 0)
        curves = ok[has_curve]
        cats = [c for c in [REAL_CATEGORY, *sorted(set(curves["category"]) - {REAL_CATEGORY})]
                if c in set(curves["category"])]
        if cats:
            fig, axes = plt.subplots(len(cats), 1, figsize=(10, 2.2 * len(cats)), squeeze=False)
            for ax, cat in zip(axes[:, 0], cats):
                part = curves[curves["category"] == cat].sort_values("score")
                for row, label in ((part.iloc[-1], "most anomalous"), (part.iloc[0], "least anomalous")):
                    nll = np.asarray(row["nll"], float)
                    times = row.get("times") if "times" in part.columns else None
                    x = np.asarray(times, float) if times is not None and len(times) == len(nll) else np.arange(len(nll))
                    ax.plot(x, nll, lw=1, c="tab:red" if label.startswith("most") else "tab:blue",
                            label=f"{label}: {Path(str(row['path'])).name} (score {row['score']:.5g})")
                ax.set_title(cat, fontsize=9)
                ax.set_ylabel("NLL")
                ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            axes[-1, 0].set_xlabel("time (s)")
            fig.suptitle(f"Per-frame NLL, most / least anomalous clip per category ({tag})", fontsize=10)
            plots["nll"] = _save(fig, out_dir / f"nll_{tag}.png")
    return plots
