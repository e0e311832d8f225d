"""``avanomaly evaluate``: score a split raw and silence-trimmed, write the per-category report."""

from __future__ import annotations

from pathlib import Path

import click

from avanomaly.distributed.options import engine_from_options, engine_options

DEFAULT_BOOTSTRAP = 1000
#: exit code when a pass has no successfully scored clip of a class (the report is written, its metrics are empty)
EXIT_NO_CLASS_LEFT = 3
#: the two classes every comparison needs
CLASSES = (("real", "n_real"), ("fake", "n_fake"))


class NothingToCompare(click.ClickException):
    """Every clip of a class failed to score in a pass: no metric can be computed (exit EXIT_NO_CLASS_LEFT)."""

    exit_code = EXIT_NO_CLASS_LEFT


def missing_classes(metrics: dict) -> list[str]:
    """'pass: no real clip left (N failed)' for each pass of ``metrics`` without a scored clip of a class."""
    out = []
    for name, p in metrics["passes"].items():
        for label, key in CLASSES:
            if not p.get(key):
                n_failed = sum(1 for f in p.get("failures", []) if f.get("label") == label)
                out.append(f"{name} pass: no {label} clip left to compute metrics"
                           + (f" ({n_failed} {label} clip(s) failed to score)" if n_failed else ""))
    return out


@click.command("evaluate")
@click.option("--model", "model", type=click.Path(exists=True, path_type=Path), default=None,
              help="model.pt, a training run directory or a shipped model's name, for --method avanomaly "
                   "(default: $AVANOMALY_MODEL, else the shipped starter model, as `avanomaly score`).")
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
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="scoring processes [the cores this process may use]; 1 scores in this process.")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="torch threads in this process [torch's default with --workers 1, else 1; workers: 1 each].")
@click.option("--seed", default=0, show_default=True, help="bootstrap seed (and FakeAVCeleb split seed).")
@click.option("--quiet", is_flag=True, help="no progress bars.")
@engine_options
def evaluate(model, data, out, split, method, bootstrap, trimmed, threshold, cache, workers, threads, seed, quiet,
             engine, address):
    """Score every clip of a split and write detailed_results.csv, metrics.json, threshold_sweep.csv,
    report.md, report.html and plots/ into OUT. Raw and silence-trimmed passes are reported side by side."""
    import torch

    from avanomaly.evaluation.pipeline import evaluate_model
    from avanomaly.evaluation.report import per_category_table

    from avanomaly.utils import available_cores

    spec = engine_from_options(engine, address)
    workers = workers or available_cores()
    if threads or workers > 1:
        torch.set_num_threads(threads or 1)  # several processes share the cores: one thread here too
    metrics = evaluate_model(model, data, out, split=None if split == "all" else split, method=method,
                             bootstrap=bootstrap, trimmed_pass=trimmed, cache=cache, workers=workers,
                             threshold=threshold, seed=seed, progress=not quiet,
                             engine=spec)
    for name, p in metrics["passes"].items():
        if p["n_failed"]:
            click.echo(f"{name}: {p['n_failed']} clip(s) failed to score (listed in the report)", err=True)
    missing = missing_classes(metrics)
    if missing:
        raise NothingToCompare("; ".join(missing) + f". No AUC/AP/EER can be computed; the failures are listed in "
                               f"{Path(out) / 'report.md'} and {Path(out) / 'detailed_results.csv'}")
    click.echo(per_category_table(metrics))
    if "trimmed" in metrics["passes"]:
        click.echo("The trimmed columns (leading silence removed) are the honest numbers.")
    click.echo(f"Report: {Path(out) / 'report.html'} (also report.md, metrics.json, detailed_results.csv, "
               "threshold_sweep.csv, plots/)")
