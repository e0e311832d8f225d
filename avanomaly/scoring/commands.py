"""``avanomaly score`` and ``avanomaly calibrate`` (docs/scoring.md).

Exit codes: 0 every file scored; 3 some files failed (listed with reasons on stderr); 2 usage/model errors.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import click

from avanomaly.errors import ConfigError
from avanomaly.scoring.result import SCHEMA_VERSION
from avanomaly.scoring.aggregate import (DEFAULT_METHOD, DEFAULT_SKIP_SECONDS, DEFAULT_TOPK_FRACTION,
                                         DEFAULT_WINDOW_FRAMES, METHODS)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3
#: environment variables consulted for the default model
ENV_MODEL = "AVANOMALY_MODEL"
#: columns of the CSV / table output
CSV_COLUMNS = ("path", "status", "score", "percentile", "verdict", "abstain", "threshold", "av_offset_frames",
               "av_offset_confidence", "face_rate", "duration", "warnings", "reason", "message")


class UsageFailure(click.ClickException):
    """A usage or model problem: exit code 2."""

    exit_code = EXIT_USAGE


def default_model_path():
    """The model used when --model is not given: $AVANOMALY_MODEL, else the shipped starter model."""
    from avanomaly.scoring.modelfile import DEFAULT_PRETRAINED

    env = os.environ.get(ENV_MODEL)
    return Path(env).expanduser() if env else DEFAULT_PRETRAINED


def _load_detector(model, device, aggregation=None, chunk_frames=None, precision=None):
    from avanomaly.errors import AvanomalyError
    from avanomaly.scoring.detector import Detector

    path = model if model else default_model_path()
    kwargs = {}
    if aggregation is not None:
        kwargs["aggregation"] = aggregation
    if chunk_frames is not None:
        kwargs["chunk_frames"] = chunk_frames
    if precision is not None:
        kwargs["precision"] = precision
    try:
        return Detector.from_pretrained(path, device=device, **kwargs), path
    except AvanomalyError as exc:
        raise UsageFailure(f"cannot load model {path}: {exc}") from exc


def _aggregation(method, topk, window, skip_seconds, detector_default):
    """AggregationConfig from CLI options; unset options keep the model's (calibrated) aggregation."""
    import dataclasses

    from avanomaly.scoring.aggregate import AggregationConfig

    base = dataclasses.asdict(detector_default)
    for key, value in (("method", method), ("k", topk), ("window", window), ("skip_seconds", skip_seconds)):
        if value is not None:
            base[key] = value
    try:
        return AggregationConfig(**base)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from exc


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _row(res) -> dict:
    d = res.to_dict()
    row = {k: d.get(k) for k in CSV_COLUMNS}
    row["warnings"] = "; ".join(d.get("warnings", []))
    row["abstain"] = " ".join(d.get("abstain", []))
    return row


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def render_table(results) -> str:
    head = ("file", "score", "pctile", "verdict", "AV offset", "conf", "face rate", "notes")
    rows = []
    for r in results:
        if not r.ok:
            rows.append((Path(r.path).name if r.path else "?", "-", "-", "FAILED", "-", "-", "-", r.reason))
            continue
        rows.append((Path(r.path).name if r.path else "<array>", f"{r.score:.4f}", _fmt(r.percentile, ".1f"),
                     r.verdict or "n/a", f"{r.av_offset_frames:+d}", f"{r.av_offset_confidence:.2f}",
                     f"{r.face_rate:.2f}", f"{len(r.warnings)} warning(s)" if r.warnings else ""))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [head, *rows]]
    return "\n".join(lines)


@click.command("score")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--model", "-m", default=None, help="model.pt or run directory (default: see docs/scoring.md).")
@click.option("--json", "as_json", is_flag=True, help="Write JSON (schema in docs/scoring.md) to stdout.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Write one CSV row per file to this path ('-' = stdout).")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), help="Write a per-file PNG (NLL curve + frames) here.")
@click.option("--threshold", type=float, default=None, help="Override the calibrated threshold.")
@click.option("--aggregation", type=click.Choice(METHODS), default=None,
              help=f"Per-frame NLL -> clip score (default: the model's, else {DEFAULT_METHOD}).")
@click.option("--topk", type=float, default=None, help=f"Fraction k for topk_mean (default {DEFAULT_TOPK_FRACTION}).")
@click.option("--window", type=int, default=None, help=f"Frames for max_window_mean (default {DEFAULT_WINDOW_FRAMES}).")
@click.option("--skip-seconds", type=float, default=None,
              help=f"Leading seconds of the NLL curve not scored (default {DEFAULT_SKIP_SECONDS}).")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:1 or auto.")
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--chunk-frames", type=int, default=None, help="Frames decoded per streaming window (default 250).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="Sync-model arithmetic; bf16 is ~2x faster on CPUs with AVX512-BF16/AMX, scores move slightly.")
def score(files, model, as_json, csv_out, plot_dir, threshold, aggregation, topk, window, skip_seconds, device,
          threads, chunk_frames, precision):
    """Score video FILES: anomaly score, percentile among real clips, verdict, AV offset, face rate.

    FILES may also be folders (every video under them, recursively) and manifest CSVs (their 'path' column).
    """
    if as_json and csv_out == "-":
        raise click.UsageError("--json and --csv - both write to stdout; choose one")
    from avanomaly.preprocess.commands import expand_inputs

    given, files = files, expand_inputs(files)
    if not files:
        raise click.UsageError(f"no video files found in {', '.join(given)}")
    _set_threads(threads)
    detector, model_path = _load_detector(model, device, chunk_frames=chunk_frames, precision=precision)
    agg = _aggregation(aggregation, topk, window, skip_seconds, detector.aggregation)
    results = []
    for i, f in enumerate(files):
        res = detector.score_one_safe(f, aggregation=agg, threshold=threshold)
        results.append(res)
        if not as_json and csv_out != "-":
            click.echo(f"[{i + 1}/{len(files)}] {f}: " + (f"{res.score:.4f}" if res.ok else f"FAILED ({res.reason})"),
                       err=True)
    if plot_dir:
        from avanomaly.scoring.plot import plot_result

        for i, res in enumerate(results):
            if res.ok:
                try:
                    plot_result(res, plot_dir, index=i)
                except Exception as exc:  # noqa: BLE001 - a plot failure must not lose the scores
                    click.echo(f"warning: plot failed for {res.path}: {exc}", err=True)
    if as_json:
        click.echo(json.dumps({
            "schema_version": SCHEMA_VERSION,
            "model": detector.model_name or str(model_path),
            "model_file": detector.source,
            "results": [r.to_dict() for r in results],
        }, indent=2))
    if csv_out:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS))
        w.writeheader()
        for r in results:
            w.writerow(_row(r))
        if csv_out == "-":
            click.echo(buf.getvalue(), nl=False)
        else:
            from avanomaly.utils import atomic_write_text

            atomic_write_text(csv_out, buf.getvalue())
    if not as_json and csv_out != "-":
        click.echo(render_table(results))
        for r in results:
            if r.ok and r.warnings:
                for wmsg in r.warnings:
                    click.echo(f"  {Path(r.path).name if r.path else '?'}: {wmsg}")
    failed = [r for r in results if not r.ok]
    for r in failed:
        click.echo(f"failed: {r.path}: [{r.reason}] {r.message}", err=True)
    if failed:
        sys.exit(EXIT_SOME_FAILED)


def read_real_paths(manifest, split: str | None, real_only: bool) -> tuple[list[str], int]:
    """Paths of the real clips of a manifest CSV (relative paths resolved against its folder).

    Raises UsageFailure when the manifest holds fakes and ``real_only`` is False (calibration must never
    see fakes). Returns (paths, number of fake rows left out).
    """
    import pandas as pd

    from avanomaly.errors import AvanomalyError

    manifest = Path(manifest)
    try:
        try:
            from avanomaly.data import read_manifest

            df = read_manifest(manifest)
        except ImportError:
            df = pd.read_csv(manifest)
    except (AvanomalyError, OSError, ValueError) as exc:
        raise UsageFailure(f"cannot read manifest {manifest}: {exc}") from exc
    for col in ("path", "label"):
        if col not in df.columns:
            raise UsageFailure(f"manifest {manifest} has no '{col}' column (columns: {list(df.columns)})")
    if split:
        if "split" not in df.columns:
            raise UsageFailure(f"--split {split}: manifest {manifest} has no 'split' column")
        df = df[df["split"] == split]
    labels = df["label"].astype(str).str.lower()
    n_fake = int((labels != "real").sum())
    if n_fake and not real_only:
        raise UsageFailure(
            f"manifest {manifest} lists {n_fake} non-real clip(s) (label != real); calibration uses REAL clips only. "
            "Pass --real-only to leave them out, or give a manifest of real clips.")
    root = manifest.parent if manifest.is_file() else manifest
    paths = [str(p if Path(p).is_absolute() else root / p) for p in df.loc[labels == "real", "path"].astype(str)]
    if not paths:
        raise UsageFailure(f"manifest {manifest} has no real clip{f' in split {split!r}' if split else ''}")
    return paths, n_fake


def calibrate_paths(detector, paths, target_fpr: float, notes: str = "", progress: bool = False, terms=None):
    """Score real ``paths`` with ``detector`` and calibrate (score fusion of ``terms`` + threshold);
    returns (Calibration, failures)."""
    import dataclasses

    from avanomaly.scoring.calibration import calibrate_terms

    results = detector.score_many(paths, progress=progress, threshold=float("inf"))
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    if not ok:
        raise UsageFailure(f"none of the {len(paths)} real clip(s) could be scored; nothing to calibrate on")
    cal = calibrate_terms([r.score_terms for r in ok], target_fpr, terms=terms,
                          aggregation=dataclasses.asdict(detector.aggregation), notes=notes)
    return cal, failed


@click.command("calibrate")
@click.option("--model", "-m", default=None, help="model.pt or run directory to re-calibrate (rewritten in place).")
@click.option("--data", "data", required=True, type=click.Path(exists=True),
              help="Manifest CSV of REAL clips of the target domain.")
@click.option("--target-fpr", type=float, default=0.05, show_default=True, help="False-positive rate on real clips.")
@click.option("--split", default=None, help="Only rows of this manifest split (e.g. val).")
@click.option("--real-only", is_flag=True, help="Leave out non-real rows instead of refusing the manifest.")
@click.option("--aggregation", type=click.Choice(METHODS), default=None)
@click.option("--topk", type=float, default=None)
@click.option("--window", type=int, default=None)
@click.option("--skip-seconds", type=float, default=None)
@click.option("--terms", default=None,
              help="Real-only evidence terms fused into the clip score, comma-separated subset of nll,sync "
                   "[both]; 'nll' = the AR NLL alone.")
@click.option("--device", default="auto", show_default=True)
@click.option("--threads", type=int, default=None)
def calibrate(model, data, target_fpr, split, real_only, aggregation, topk, window, skip_seconds, terms, device,
              threads):
    """Re-calibrate a model's threshold on REAL clips of a new domain (fakes are refused)."""
    from avanomaly.scoring.calibration import write_calibration
    from avanomaly.scoring.modelfile import pretrained_path, resolve_model_path, shipped_name

    if not 0.0 <= target_fpr < 1.0:
        raise click.BadParameter("must be in [0, 1)", param_hint="--target-fpr")
    _set_threads(threads)
    paths, n_fake = read_real_paths(data, split, real_only)
    shipped = shipped_name(model or default_model_path())
    if shipped is not None:
        raise UsageFailure(f"the shipped {shipped!r} model is not re-calibrated in place: copy "
                           f"{pretrained_path(shipped, check=False)} and pass the copy with --model")
    detector, model_path = _load_detector(model, device)
    detector.aggregation = _aggregation(aggregation, topk, window, skip_seconds, detector.aggregation)
    notes = f"manifest {data}" + (f" split {split}" if split else "") + (f"; {n_fake} non-real row(s) left out" if n_fake else "")
    try:
        cal, failed = calibrate_paths(detector, paths, target_fpr, notes=notes, progress=True,
                                      terms=[t.strip() for t in terms.split(",") if t.strip()] if terms else None)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--terms") from exc
    model_file = resolve_model_path(model_path)
    written, json_path = write_calibration(model_file, cal)
    click.echo(f"threshold {cal.threshold:.6g} at target FPR {cal.target_fpr:g} "
               f"(achieved {cal.achieved_fpr:.3f} on {cal.n} real clips); aggregation {cal.aggregation}")
    click.echo(f"score: {cal.score_definition}")
    click.echo(f"wrote {written} and {json_path}")
    if cal.notes:
        click.echo(f"note: {cal.notes}")
    for r in failed:
        click.echo(f"failed: {r.path}: [{r.reason}] {r.message}", err=True)
    if failed:
        sys.exit(EXIT_SOME_FAILED)
