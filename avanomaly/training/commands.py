"""``avanomaly train --real-only``: see docs/training.md."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

#: exit status of a run stopped by SIGTERM (128 + the signal number, the shell's convention)
EXIT_TERMINATED = 128 + signal.SIGTERM
REAL_ONLY_MESSAGE = (
    "avanomaly trains on REAL videos only (a model of real talking people; fakes are never seen in training).\n"
    "Pass --real-only to confirm: every train/val row must be RealVideo-RealAudio (use --drop-fakes to leave "
    "fake rows of a mixed manifest out)."
)


@click.command(name="train", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--real-only", is_flag=True, help="Required: confirm training on real clips only.")
@click.option("--data", "data", type=click.Path(), default=None,
              help="Manifest CSV or FakeAVCeleb(-layout) root (optional with --resume).")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="Run directory.")
@click.option("--cache", type=click.Path(file_okay=False), default=None, help="Feature cache (default RUN_DIR/cache).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="A run.yaml (TrainConfig) to start from.")
@click.option("--backbone", default=None, help="Visual backbone (sync.visual_backbone), e.g. syncnet_small.")
@click.option("--temporal", type=click.Choice(["transformer", "mamba", "none"]), default=None,
              help="Temporal block of the sync encoders (sync.temporal); none: each 5-frame window on its own, "
                   "as sync.temporal_layers=0.")
@click.option("--resume", is_flag=True, help="Continue RUN_DIR: finished stages are skipped, the unfinished one "
                                             "continues from its last.ckpt.")
@click.option("--seed", type=int, default=None, help="trainer.seed")
@click.option("--drop-fakes", is_flag=True, help="Leave fake rows of the manifest out instead of refusing it.")
@click.option("--devices", default=None, help="Devices per node (int or 'auto').")
@click.option("--accelerator", type=click.Choice(["cpu", "gpu", "auto"]), default=None)
@click.option("--num-nodes", type=int, default=None)
@click.option("--strategy", default=None, help="Lightning strategy: auto, ddp, ddp_spawn, ...")
@click.option("--precision", default=None, help="auto | 32 | bf16-mixed | 16-mixed (AMP on CUDA only).")
@click.option("--deterministic", is_flag=True, default=None, help="torch deterministic algorithms.")
@click.option("--threads", type=int, default=None, help="torch threads per process (trainer.threads).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--augment", "augment", type=click.IntRange(0), default=None,
              help="Domain-augmented variants cached per training clip (augment.variants; they stay real; "
                   "augment.* sets the operations and ranges).")
@click.argument("overrides", nargs=-1)
def train(real_only, data, out, cache, config_path, backbone, temporal, resume, seed, drop_fakes, devices,
          accelerator, num_nodes, strategy, precision, deterministic, threads, no_progress, augment, overrides):
    """Train on real clips only: stage 1 (AV sync, self-supervised), stage 2 (AR model of sync features).

    OVERRIDES are dotted key=value settings of the TrainConfig, e.g. stage1.max_epochs=3 sync.dim=64.
    """
    import logging

    from avanomaly.training.config import TrainConfig, apply_overrides, load_config

    if not real_only:
        click.echo(REAL_ONLY_MESSAGE, err=True)
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_dir = Path(out)
    saved = run_dir / "config.yaml"
    if config_path:
        cfg = load_config(config_path)
    elif resume and saved.exists():
        cfg = load_config(saved)
    else:
        cfg = TrainConfig()
    sets = [f"out={out}"]
    if data is not None:
        sets.append(f"data.manifest={data}")
    if cache is not None:
        sets.append(f"data.cache={cache}")
    if drop_fakes:
        sets.append("data.drop_fakes=true")
    if backbone is not None:
        sets.append(f"sync.visual_backbone={backbone}")
    if temporal is not None:
        sets.append(f"sync.temporal={temporal}")
    if seed is not None:
        sets.append(f"trainer.seed={seed}")
    if augment is not None:
        sets.append(f"augment.variants={augment}")
    for key, value in (("devices", devices), ("accelerator", accelerator), ("num_nodes", num_nodes),
                       ("strategy", strategy), ("precision", precision), ("threads", threads)):
        if value is not None:
            sets.append(f"trainer.{key}={value}")
    if deterministic:
        sets.append("trainer.deterministic=true")
    if no_progress:
        sets.append("trainer.progress=false")
    cfg = apply_overrides(cfg, sets + list(overrides))
    if not cfg.data.manifest:
        raise click.UsageError("--data is required (a manifest CSV or a FakeAVCeleb root)")

    from avanomaly.errors import TrainingInterrupted
    from avanomaly.training.train import train as run_training

    try:
        result = run_training(cfg, resume=resume)
    except TrainingInterrupted as exc:  # SIGTERM: never a silent exit 0 without model.pt
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_TERMINATED)
    if result.model_path is None:  # a non-zero DDP rank
        return
    s1, s2 = result.stage1, result.stage2
    click.echo(f"run directory: {result.run_dir}")
    click.echo(f"clips: {result.n_train} train, {result.n_val} val (real only); "
               f"{len(result.skipped)} too short, {len(result.failed)} failed preprocessing")
    for path, reason, message in result.failed:
        click.echo(f"  failed: {path} ({reason}: {message})")
    for name, reason in result.skipped:
        click.echo(f"  skipped: {name} ({reason})")
    m1 = s1.get("metrics", {})
    click.echo(f"stage 1: best {s1.get('monitor', 'val_loss')} {_fmt(s1.get('best'))}; last held-out sync accuracy "
               f"{_fmt(m1.get('val_sync_acc_window'))} per window, {_fmt(m1.get('val_sync_acc'))} per frame")
    click.echo(f"stage 2: best {s2.get('monitor', 'val_nll')} {_fmt(s2.get('best'))}")
    if result.calibration:
        click.echo(f"calibration: threshold {result.calibration['threshold']:.4f} "
                   f"(target FPR {result.calibration['target_fpr']}, {result.calibration['n']} val real clips)")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(f"model: {result.model_path}  ({result.seconds:.0f} s)")


def _fmt(x) -> str:
    try:
        return f"{float(x):.4f}"
    except (TypeError, ValueError):
        return "n/a"
