"""training_curves.png: loss per epoch (both stages) and held-out sync accuracy (stage 1)."""

from __future__ import annotations

from pathlib import Path


def _f(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def plot_curves(metrics_csv, out_png) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from avanomaly.training.callbacks import read_metrics

    rows = read_metrics(metrics_csv)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, stage, title in ((axes[0], "stage1", "stage 1: sync contrastive loss"),
                             (axes[1], "stage2", "stage 2: AR NLL")):
        r = [x for x in rows if x["stage"] == stage]
        ep = [int(x["epoch"]) for x in r]
        ax.plot(ep, [_f(x["train_loss"]) for x in r], "o-", label="train")
        ax.plot(ep, [_f(x["val_loss"]) for x in r], "s-", label="val (held-out real)")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend()
        ax.grid(alpha=0.3)
    r = [x for x in rows if x["stage"] == "stage1"]
    ep = [int(x["epoch"]) for x in r]
    axes[2].plot(ep, [_f(x["val_sync_acc"]) for x in r], "o-", color="C2", label="per frame")
    if any(x.get("val_sync_acc_window") not in (None, "") for x in r):  # older runs lack the column
        axes[2].plot(ep, [_f(x.get("val_sync_acc_window")) for x in r], "s-", color="C3", label="per window")
    axes[2].set_ylim(0, 1)
    axes[2].set_title("stage 1: held-out sync accuracy")
    axes[2].set_ylabel("argmax offset = 0 (chance 1/(2K+1))")
    axes[2].legend()
    axes[2].set_xlabel("epoch")
    axes[2].grid(alpha=0.3)
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
