"""``avanomaly score`` and ``avanomaly calibrate`` (docs/scoring.md).

Exit codes: 0 every file scored; 3 some files failed (listed with reasons on stderr); 2 usage/model errors;
130 interrupted (Ctrl-C: the rows finished so far are in --csv, a re-run resumes).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from avanomaly.cli_common import (EXIT_INTERRUPTED, EXIT_SOME_FAILED, EXIT_TERMINATED, UsageFailure, echo_skipped,
                                  scan_for_inputs, stderr_is_tty)
from avanomaly.distributed.options import engine_from_options, engine_options
from avanomaly.errors import MAX_MESSAGE_CHARS, ConfigError, failure_line, shorten
from avanomaly.postprocess.aggregate import (DEFAULT_METHOD, DEFAULT_SKIP_SECONDS, DEFAULT_TOPK_FRACTION,
                                         DEFAULT_WINDOW_FRAMES, METHODS)
from avanomaly.postprocess.fusion import CURVES, DEFAULT_TERMS, TERMS
from avanomaly.scoring.output import CSV_COLUMNS, csv_record, csv_row, render_table, result_name
from avanomaly.scoring.result import SCHEMA_VERSION


class _Terminated(KeyboardInterrupt):
    """SIGTERM during a batch: handled like Ctrl-C (finished rows kept, resume hint), exit EXIT_TERMINATED."""


def _raise_terminated(signum, frame):
    raise _Terminated(signal.Signals(signum).name)
def default_model_path():
    """postprocess.modelfile.default_model_path, imported when called (so ``score --help`` needs no torch)."""
    from avanomaly.postprocess.modelfile import default_model_path as default

    return default()


def _load_detector(model, device, aggregation=None, chunk_frames=None, precision=None, pipeline=None,
                   mesh_workers=None):
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
    if pipeline is not None:
        kwargs["pipeline"] = pipeline
    if mesh_workers is not None:
        kwargs["mesh_workers"] = mesh_workers
    try:
        return Detector.from_pretrained(path, device=device, **kwargs), path
    except AvanomalyError as exc:
        raise UsageFailure(f"cannot load model {path}: {exc}") from exc


def _aggregation(method, topk, window, skip_seconds, detector_default):
    """AggregationConfig from CLI options; unset options keep the model's (calibrated) aggregation."""
    import dataclasses

    from avanomaly.postprocess.aggregate import AggregationConfig

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


def score_file(detector, path, **kwargs):
    """``detector.score_one_safe`` for one path (the seam a batch scores through; a path that cannot be looked
    up, e.g. a name over NAME_MAX bytes, is a ScoreFailure from the decoder's own path check)."""
    return detector.score_one_safe(path, **kwargs)


@click.command("score")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--model", "-m", default=None, help="model.pt or run directory (default: see docs/scoring.md).")
@click.option("--json", "as_json", is_flag=True, help="Write JSON (schema in docs/scoring.md) to stdout.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False),
              help="Write one CSV row per file to this path as each file finishes ('-' = stdout). A re-run with "
                   "the same file resumes: files already scored there are skipped.")
@click.option("--overwrite", "--no-resume", "overwrite", is_flag=True,
              help="Start --csv afresh instead of resuming it (its old rows are dropped).")
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
@click.option("--chunk-frames", type=int, default=None, help="Frames decoded per streaming window [250 = 10 s, as preprocessing].")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="Sync-model arithmetic; bf16 is ~2x faster on CPUs with AVX512-BF16/AMX, scores move slightly.")
@click.option("--max-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Refuse files longer than this (reason too-long): before decoding when the container declares "
                   "more, and on every decoded frame, so it holds for files that declare no duration.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes scoring files side by side, each with its own copy of the model [the cores this "
                   "process may use]; 1 scores in this process. With several, each runs 1 torch thread unless "
                   "--threads says otherwise.")
@click.option("--pipeline/--no-pipeline", default=None,
              help="Landmark models scored in this process (--workers 1, or one file): run the face mesh in a "
                   "worker process beside decoding and the model, same scores [on with >= 2 cores].")
@click.option("--mesh-workers", type=click.IntRange(min=1), default=None,
              help="With --pipeline: face-mesh processes for one file [1]. 2 or more split the clip into face "
                   "tracks of 2 s run side by side: faster, scores change slightly (docs/scoring.md).")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr (bar or per-file lines).")
@engine_options
def score(files, model, as_json, csv_out, overwrite, plot_dir, threshold, aggregation, topk, window, skip_seconds,
          device, threads, chunk_frames, precision, max_seconds, workers, pipeline, mesh_workers, quiet, engine,
          address):
    """Score video FILES: anomaly score, percentile among real clips, verdict, AV offset, face rate.

    FILES may also be folders (every video under them, recursively) and manifest CSVs (their 'path' column).
    With --csv FILE each row is written as soon as its file is scored (failed files are rows too, with the
    reason), so a killed batch keeps its finished rows and the same command resumes it.
    """
    import dataclasses

    if as_json and csv_out == "-":
        raise click.UsageError("--json and --csv - both write to stdout; choose one")
    if overwrite and not csv_out:
        raise click.UsageError("--overwrite applies to --csv FILE")
    spec = engine_from_options(engine, address)
    given, scan = files, scan_for_inputs(files)
    files = scan.paths
    echo_skipped(scan.skipped)
    if not files:
        raise click.UsageError(f"no video files found in {shorten(', '.join(given))}")
    _set_threads(threads)
    detector, model_path = _load_detector(model, device, chunk_frames=chunk_frames, precision=precision,
                                          pipeline=pipeline, mesh_workers=mesh_workers)
    agg = _aggregation(aggregation, topk, window, skip_seconds, detector.aggregation)
    table = not as_json and csv_out != "-"
    sink, todo, skipped = None, list(files), []
    if csv_out == "-":
        click.echo(",".join(CSV_COLUMNS))
    elif csv_out:
        from avanomaly.scoring.resume import ResumeRefused, ScoreCSV, scoring_settings

        settings = scoring_settings(detector.source, dataclasses.asdict(agg), threshold, precision)
        sink = ScoreCSV(csv_out, CSV_COLUMNS, settings, resume=not overwrite)
        try:
            plan = sink.open(files)
        except ResumeRefused as exc:
            raise UsageFailure(str(exc)) from exc
        todo, skipped = plan.todo, plan.skipped
        if skipped or plan.retried or plan.changed or plan.dropped_partial:
            click.echo(plan.summary(csv_out), err=True)
    from avanomaly.utils import available_cores

    n_workers = min(workers or available_cores(), len(todo))
    done: dict[int, object] = {}  # index into todo -> result; rows finish in any order with several workers
    bar = _progress_bar(len(files), len(skipped), quiet)
    score_kwargs = {"aggregation": agg, "threshold": threshold, "max_seconds": max_seconds}

    def record(i: int, res) -> None:
        done[i] = res
        if sink is not None:
            sink.append(csv_row(res))
        elif csv_out == "-":
            click.echo(csv_record(csv_row(res)), nl=False)
        if plot_dir and res.ok:
            _plot(res, plot_dir, len(skipped) + i)
        if bar is not None:
            bar.update(1)
        elif table and not quiet:
            click.echo(f"[{len(skipped) + len(done)}/{len(files)}] {shorten(todo[i])}: "
                       + (f"{res.score:.4f}" if res.ok else f"FAILED ({shorten(res.reason)})"), err=True)

    main_thread = threading.current_thread() is threading.main_thread()  # handlers live in the main thread only
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        if n_workers <= 1 and spec.is_local:  # in this process, through the score_file seam
            detector.start_workers()  # the pipelined face mesh's processes start while the first file decodes
            if detector.pipeline and not threads:  # the mesh workers have their cores: torch takes the rest
                _set_threads(max(1, available_cores() - detector.mesh_workers))
            for i, f in enumerate(todo):
                record(i, score_file(detector, f, **score_kwargs))
        else:
            from avanomaly.scoring.pool import load_detector, scoring_pool

            options = {k: v for k, v in (("chunk_frames", chunk_frames), ("precision", precision)) if v is not None}
            with scoring_pool(todo, n_workers, load_detector, (model_path, device, options), threads=threads,
                              score_kwargs=score_kwargs, engine=spec) as finished:
                for i, res in finished:
                    record(i, res)
    except KeyboardInterrupt as exc:
        if bar is not None:
            bar.close()
        where = f"; the {len(skipped) + len(done)} finished row(s) are in {shorten(csv_out)}: run the same " \
                "command again to resume" if sink is not None else ""
        by = f" by {exc.args[0]}" if isinstance(exc, _Terminated) and exc.args else ""
        click.echo(f"interrupted{by} after {len(done)} of {len(todo)} file(s){where}", err=True)
        sys.exit(EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED)
    finally:
        detector.close()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        if sink is not None:
            sink.close()
        if bar is not None:
            bar.close()
    results = [done[i] for i in sorted(done)]  # input order, however they finished
    if as_json:
        click.echo(json.dumps({
            "schema_version": SCHEMA_VERSION,
            "model": detector.model_name or str(model_path),
            "model_file": detector.source,
            "results": [r.to_dict() for r in results],
            "skipped": list(skipped),
            "not_read": [{"path": p, "reason": why} for p, why in scan.skipped],
        }, indent=2))
    if table:
        click.echo(render_table(results))
        if detector.calibration is not None:
            from avanomaly.postprocess.basis import describe

            click.echo(describe(detector.calibration.basis))
        for r in results:
            if r.ok and r.warnings:
                for wmsg in r.warnings:
                    click.echo(f"  {result_name(r.path, '?')}: {wmsg}")
        if skipped:
            click.echo(f"{len(skipped)} file(s) already scored in {shorten(csv_out)} were skipped "
                       "(--overwrite scores them again)")
    failed = [r for r in results if not r.ok]
    for r in failed:
        click.echo(f"failed: {failure_line(r.path, r.reason, r.message)}",
                   err=True)
    if failed:
        sys.exit(EXIT_SOME_FAILED)


def _progress_bar(total: int, initial: int, quiet: bool):
    """ONE tqdm bar with an ETA on stderr, or None (--quiet, or stderr is not a terminal: per-file lines then)."""
    if quiet or not stderr_is_tty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="file", desc="scoring", file=sys.stderr, dynamic_ncols=True)


def _plot(res, plot_dir, index: int) -> None:
    from avanomaly.scoring.plot import plot_result

    try:
        plot_result(res, plot_dir, index=index)
    except Exception as exc:  # noqa: BLE001 - a plot failure must not lose the scores
        click.echo(f"warning: plot failed for {shorten(res.path)}: {shorten(exc)}", err=True)


def read_real_paths(manifest, split: str | None, real_only: bool) -> tuple[list[str], int]:
    """Paths of the real clips of a manifest CSV (relative paths resolved against its folder).

    Raises UsageFailure when the manifest holds fakes and ``real_only`` is False (calibration must never
    see fakes). Returns (paths, number of fake rows left out).
    """
    paths, _labels, n_fake = read_real_clips(manifest, split, real_only)
    return paths, n_fake


#: manifest columns recorded with a calibration (one label per clip; a missing column is None)
LABEL_COLUMNS = ("identity", "domain")


def read_real_clips(manifest, split: str | None, real_only: bool) -> tuple[list[str], dict, int]:
    """``read_real_paths`` plus the clips' labels: -> (paths, {"identity": [...] | None, "domain": [...] | None},
    number of fake rows left out)."""
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
        raise UsageFailure(f"cannot read manifest {shorten(manifest)}: {shorten(exc)}") from exc
    for col in ("path", "label"):
        if col not in df.columns:
            raise UsageFailure(f"manifest {manifest} has no '{col}' column (columns: {shorten(list(df.columns))})")
    if split:
        if "split" not in df.columns:
            raise UsageFailure(f"--split {split}: manifest {manifest} has no 'split' column")
        df = df[df["split"] == split]
    from avanomaly.data.manifest import real_mask

    is_real = real_mask(df)  # the one "which rows are real" rule (training uses it too)
    n_fake = int((~is_real).sum())
    if n_fake and not real_only:
        raise UsageFailure(
            f"manifest {manifest} lists {n_fake} non-real clip(s) (label != real, or a category other than "
            "RealVideo-RealAudio); calibration uses REAL clips only. "
            "Pass --real-only to leave them out, or give a manifest of real clips.")
    root = manifest.parent if manifest.is_file() else manifest
    real = df.loc[is_real]
    paths = [str(p if Path(p).is_absolute() else root / p) for p in real["path"].astype(str)]
    if not paths:
        raise UsageFailure(f"manifest {manifest} has no real clip{f' in split {split!r}' if split else ''}")
    found = {c: real[c].fillna("").astype(str).tolist() if c in real.columns else None for c in LABEL_COLUMNS}
    return paths, found, n_fake


def calibrate_paths(detector, paths, target_fpr: float, notes: str = "", progress: bool = False, terms=None,
                    speakers=None, domains=None, curve: str | None = None):
    """``Detector.calibrate`` with its errors as CLI failures -> (Calibration, failures)."""
    from avanomaly.errors import AvanomalyError

    try:
        return detector.calibrate(paths, target_fpr, terms=terms, notes=notes, progress=progress,
                                  speakers=speakers, domains=domains, curve=curve)
    except ConfigError:
        raise
    except AvanomalyError as exc:
        raise UsageFailure(str(exc)) from exc


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
              help="Real-only evidence terms fused into the clip score, comma-separated subset of "
                   f"{','.join(TERMS)} [{','.join(DEFAULT_TERMS)}]; 'nll' = the AR NLL alone.")
@click.option("--max-per-speaker", type=click.IntRange(min=1), default=None,
              help="Use at most N clips per speaker (the manifest's identity column), spread over each "
                   "speaker's rows, so a few people with many clips do not set the threshold. [all clips]")
@click.option("--curve", type=click.Choice(CURVES), default=None,
              help="How a clip's offset curve (the sync, offset and profile terms' input) is made from its frames: "
                   "vote = the mean of each frame's softmax over offsets, cosine = the mean cosine similarity "
                   "(docs/scoring.md \"The offset curve\"). [the model's current curve]")
@click.option("--device", default="auto", show_default=True)
@click.option("--threads", type=int, default=None)
def calibrate(model, data, target_fpr, split, real_only, aggregation, topk, window, skip_seconds, terms,
              max_per_speaker, curve, device, threads):
    """Re-calibrate a model's threshold on REAL clips of a new domain (fakes are refused).

    The manifest's ``identity`` and ``domain`` columns, when present, are recorded with the calibration (speakers,
    domains, the leave-speaker-out false-alarm rate; docs/scoring.md "What a calibration rests on")."""
    from avanomaly.postprocess.basis import describe
    from avanomaly.postprocess.calibration import MIN_RECOMMENDED_CLIPS, MIN_RECOMMENDED_SPEAKERS, cap_per_speaker
    from avanomaly.postprocess.modelfile import pretrained_path, resolve_model_path, shipped_name, write_calibration

    if not 0.0 <= target_fpr < 1.0:
        raise click.BadParameter("must be in [0, 1)", param_hint="--target-fpr")
    _set_threads(threads)
    paths, labels, n_fake = read_real_clips(data, split, real_only)
    speakers = labels["identity"]
    if speakers is not None and not all(x.strip() for x in speakers):
        speakers = None  # an identity missing somewhere: speakers unknown
    n_listed = len(paths)
    if max_per_speaker is not None:
        if speakers is None:
            raise UsageFailure(f"--max-per-speaker needs an 'identity' for every clip; manifest {shorten(data)} "
                               "has none for some (or no such column)")
        keep = cap_per_speaker(speakers, max_per_speaker)
        paths = [paths[i] for i in keep]
        labels = {c: None if v is None else [v[i] for i in keep] for c, v in labels.items()}
        speakers = labels["identity"]
    if len(paths) < MIN_RECOMMENDED_CLIPS:
        click.echo(f"warning: only {len(paths)} real clips (< {MIN_RECOMMENDED_CLIPS}): the threshold is a coarse "
                   "quantile and its false-alarm rate uncertain; calibrate on more clips of your domain", err=True)
    if speakers is not None and len(set(speakers)) < MIN_RECOMMENDED_SPEAKERS:
        click.echo(f"warning: only {len(set(speakers))} speakers (< {MIN_RECOMMENDED_SPEAKERS}): the threshold says "
                   "little about other people", err=True)
    shipped = shipped_name(model or default_model_path())
    if shipped is not None:
        raise UsageFailure(f"the shipped {shipped!r} model is not re-calibrated in place: copy "
                           f"{pretrained_path(shipped, check=False)} and pass the copy with --model")
    detector, model_path = _load_detector(model, device)
    detector.aggregation = _aggregation(aggregation, topk, window, skip_seconds, detector.aggregation)
    notes = f"manifest {data}" + (f" split {split}" if split else "") + (f"; {n_fake} non-real row(s) left out" if n_fake else "")
    if max_per_speaker is not None:
        notes += f"; at most {max_per_speaker} clips per speaker: {len(paths)} of {n_listed} real clips"
    try:
        cal, failed = calibrate_paths(detector, paths, target_fpr, notes=notes, progress=True,
                                      terms=[t.strip() for t in terms.split(",") if t.strip()] if terms else None,
                                      speakers=speakers, domains=labels["domain"], curve=curve)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--terms") from exc
    model_file = resolve_model_path(model_path)
    written, json_path = write_calibration(model_file, cal)
    click.echo(f"threshold {cal.threshold:.6g} at target FPR {cal.target_fpr:g} "
               f"(achieved {cal.achieved_fpr:.3f} on {cal.n} real clips); aggregation {cal.aggregation}")
    click.echo(f"score: {cal.score_definition}; offset curve: {cal.curve}")
    click.echo(describe(cal.basis))
    click.echo(f"wrote {written} and {json_path}")
    if cal.notes:
        click.echo(f"note: {cal.notes}")
    for r in failed:
        click.echo(f"failed: {failure_line(r.path, r.reason, r.message)}",
                   err=True)
    if failed:
        sys.exit(EXIT_SOME_FAILED)
