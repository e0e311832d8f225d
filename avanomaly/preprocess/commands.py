"""``avanomaly preprocess``: decode videos into cached mouth crops + log-mel."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from avanomaly.errors import DatasetError, failure_line, shorten

MANIFEST_PATH_COLUMN = "path"


def _manifest_paths(csv_path: Path) -> list[str]:
    import pandas as pd

    try:
        df = pd.read_csv(csv_path)
    except Exception as exc:  # noqa: BLE001
        raise DatasetError(f"{shorten(csv_path)}: cannot read manifest CSV ({shorten(exc)})") from exc
    if MANIFEST_PATH_COLUMN not in df.columns:
        raise DatasetError(f"{shorten(csv_path)}: manifest has no '{MANIFEST_PATH_COLUMN}' column "
                           f"(columns: {shorten(list(df.columns))})")
    out = []
    for value in df[MANIFEST_PATH_COLUMN].astype(str):
        p = Path(value)
        out.append(str(p if p.is_absolute() else csv_path.parent / p))
    return out


def scan_for_inputs(inputs, manifests=()):
    """Files as given, folders searched recursively for video extensions, ``.csv`` files read as manifests ->
    :class:`avanomaly.io.scan.ScanResult` (``paths`` in order without duplicates; ``skipped``: every path a folder
    search passed over, with its reason). Paths that do not exist or cannot be looked up (too long, a link loop)
    are kept: they fail on their own with a reason."""
    from avanomaly.io.scan import ScanResult, path_problem, scan_inputs

    out = ScanResult()
    for m in manifests:
        out.paths += _manifest_paths(Path(m))
    for item in inputs:
        p = Path(item)
        if path_problem(p) is None and p.suffix.lower() == ".csv" and p.is_file():
            out.paths += _manifest_paths(p)
            continue
        found = scan_inputs([p])
        out.paths += found.paths
        out.skipped += found.skipped
    out.paths = list(dict.fromkeys(out.paths))
    return out


def expand_inputs(inputs, manifests=()) -> list[str]:
    """The paths of :func:`scan_for_inputs`."""
    return scan_for_inputs(inputs, manifests).paths


def echo_skipped(skipped) -> None:
    """List on stderr every path a folder search passed over, with its reason."""
    if not skipped:
        return
    click.echo(f"{len(skipped)} path(s) in the given folders not read:", err=True)
    for path, reason in skipped:
        click.echo(f"  {shorten(path)}: {reason}", err=True)


@click.command("preprocess")
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("--out", "out", default=None, type=click.Path(file_okay=False), help="Cache folder (required).")
@click.option("--workers", default=None, type=click.IntRange(1),
              help="Parallel worker processes (1 torch/OpenCV thread each) [the cores this process may use]; 1 runs "
                   "in this process.")
@click.option("--crop-size", default=None, type=click.IntRange(8), help="Mouth crop side in pixels [64].")
@click.option("--detector", default=None, help="Face detector name (see --list-detectors) or module:Factory [centerface].")
@click.option("--detect-every", default=None, type=click.IntRange(1), help="Run the detector every N frames [5].")
@click.option("--max-side", default=None, type=click.IntRange(32), help="Decode frames with longer side <= this [512].")
@click.option("--face-fallback", type=click.Choice(["error", "center"]), default=None,
              help="No face in a clip: fail it (error, default) or use centre crops (center, recorded in meta.json).")
@click.option("--trim-leading-silence", is_flag=True, help="Cut leading silence (video and audio together).")
@click.option("--front-end", type=click.Choice(["pixels", "landmarks"]), default=None,
              help="Visual input: mouth pixel crops (pixels, default) or MediaPipe lip landmarks (landmarks; "
                   "needs avanomaly[landmarks]).")
@click.option("--manifest", "manifests", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Manifest CSV with a 'path' column (relative paths are relative to the CSV). Repeatable.")
@click.option("--threads", default=None, type=click.IntRange(1), help="Torch threads in this process (workers=1).")
@click.option("--no-progress", "--quiet", "no_progress", is_flag=True,
              help="Hide the progress bar (also hidden when stderr is not a terminal).")
@click.option("--list-detectors", is_flag=True, help="Print the available face detectors and exit.")
@click.option("--augment", "augment", default=0, type=click.IntRange(0),
              help="Also cache N domain-augmented variants of every clip (down-scaling, re-compression, frame-rate "
                   "jitter, noise, reverb, band-limiting, gain; see docs/training.md \"Augmentation\") [0].")
@click.option("--augment-seed", default=0, type=int, help="Seed of the augmented variants' draws [0].")
def preprocess(inputs, out, workers, crop_size, detector, detect_every, max_side, face_fallback, trim_leading_silence,
               front_end, manifests, threads, no_progress, list_detectors, augment, augment_seed):
    """Decode INPUT videos (files, folders, manifest CSVs) into cached mouth crops + log-mel under --out.

    Already cached files are skipped, so an interrupted run can simply be restarted. Bad files are listed
    in OUT/failures.csv; the exit code is 1 if any file failed.
    """
    from avanomaly.preprocess.config import PreprocessConfig
    from avanomaly.preprocess.detectors import available_detectors
    from avanomaly.preprocess.pipeline import preprocess_many

    if list_detectors:
        click.echo("\n".join(available_detectors()))
        return
    if out is None:
        raise click.UsageError("missing option '--out' (the cache folder)")
    if threads:
        import torch

        torch.set_num_threads(threads)
    overrides = {
        k: v
        for k, v in dict(crop_size=crop_size, detector=detector, detect_every=detect_every, max_side=max_side,
                         face_fallback=face_fallback, front_end=front_end).items()
        if v is not None
    }
    if trim_leading_silence:
        overrides["trim_leading_silence"] = True
    cfg = PreprocessConfig(**overrides)
    if cfg.front_end == "landmarks":
        from avanomaly.preprocess.landmarks import mediapipe_available, INSTALL_HINT

        if not mediapipe_available():
            raise click.UsageError(INSTALL_HINT)
    elif cfg.detector not in available_detectors():
        from avanomaly.errors import ConfigError
        from avanomaly.preprocess.detectors import create_detector, import_detector, is_import_spec

        try:  # a "module:Factory" the user typed is imported here (only here), and fails fast, not once per file
            create_detector(import_detector(cfg.detector) if is_import_spec(cfg.detector) else cfg.detector)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--detector") from exc
    scan = scan_for_inputs(inputs, manifests)
    echo_skipped(scan.skipped)
    paths = scan.paths
    if not paths:
        raise click.UsageError("no input videos found (give files, folders or a manifest CSV)")
    from avanomaly.utils import available_cores

    from avanomaly.preprocess.augment import AugmentConfig

    report = preprocess_many(paths, out, cfg, workers=workers or available_cores(),
                             progress=not no_progress and _stderr_is_tty(),
                             augment=AugmentConfig(variants=augment, seed=augment_seed) if augment else None)
    click.echo(report.summary())
    click.echo(f"cache: {out}")
    if report.failed:
        click.echo(f"{len(report.failed)} file(s) failed (see {report.failures_csv}):", err=True)
        for path, reason, message in report.failed:
            click.echo(f"  {failure_line(path, reason, message)}", err=True)
        for hint in cli_hints([reason for _, reason, _ in report.failed], cfg):
            click.echo(hint, err=True)
        sys.exit(1)


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def cli_hints(reasons, cfg) -> list[str]:
    """What a command-line user can do about these failure reasons (the flag, never a Python-only option)."""
    from avanomaly.errors import NoFaceError

    hints = []
    if NoFaceError.reason in reasons and cfg.face_fallback != "center":
        hints.append("clips without a face: --face-fallback center caches centre crops for them instead")
    return hints

