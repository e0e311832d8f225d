"""``avanomaly evaluate``: score a split raw and silence-trimmed, write the per-category report."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_BOOTSTRAP = 1000


@click.command("evaluate")
@click.option("--model", "model", type=click.Path(exists=True, path_type=Path), default=None,
              help="model.pt or a training run directory (needed by --method avanomaly).")
@click.option("--data", required=True, type=click.Path(exists=True, path_type=Path),
              help="manifest CSV, folder with manifest.csv, or a FakeAVCeleb(-layout) root.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="report folder to write.")
@click.option("--split", default="test", show_default=True, help="split to evaluate ('all' = every clip).")
@click.option("--method", default="avanomaly", show_default=True,
              help="scorer: avanomaly, or a registered baseline (see avanomaly.evaluation.scorers).")
@click.option("--bootstrap", default=DEFAULT_BOOTSTRAP, show_default=True, type=click.IntRange(min=0),
              help="bootstrap resamples for the 95%% CIs of AUC and AP (0 = none).")
@click.option("--trimmed/--no-trimmed", default=True, show_default=True,
              help="also score with the leading silence trimmed (the honest numbers).")
@click.option("--threshold", type=float, default=None,
              help="decision threshold for acc/precision/recall/F1 (default: the model's calibrated one).")
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="cache folder: per-clip results are stored and reused across runs.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="scoring processes.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1), help="torch threads.")
@click.option("--seed", default=0, show_default=True, help="bootstrap seed (and FakeAVCeleb split seed).")
@click.option("--quiet", is_flag=True, help="no progress bars.")
def evaluate(model, data, out, split, method, bootstrap, trimmed, threshold, cache, workers, threads, seed, quiet):
    """Score every clip of a split and write detailed_results.csv, metrics.json, threshold_sweep.csv,
    report.md, report.html and plots/ into OUT. Raw and silence-trimmed passes are reported side by side."""
    import torch

    from avanomaly.evaluation.pipeline import evaluate_model
    from avanomaly.evaluation.report import per_category_table

    torch.set_num_threads(threads)
    metrics = evaluate_model(model, data, out, split=None if split == "all" else split, method=method,
                             bootstrap=bootstrap, trimmed_pass=trimmed, cache=cache, workers=workers,
                             threshold=threshold, seed=seed, progress=not quiet)
    click.echo(per_category_table(metrics))
    for name, p in metrics["passes"].items():
        if p["n_failed"]:
            click.echo(f"{name}: {p['n_failed']} clip(s) failed to score (listed in the report)", err=True)
    if "trimmed" in metrics["passes"]:
        click.echo("The trimmed columns (leading silence removed) are the honest numbers.")
    click.echo(f"Report: {Path(out) / 'report.html'} (also report.md, metrics.json, detailed_results.csv, "
               "threshold_sweep.csv, plots/)")
