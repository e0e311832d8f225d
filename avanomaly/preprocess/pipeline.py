"""Clip -> Features, file -> cache entry, and the resumable parallel batch driver ``preprocess_many``."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import traceback
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import torch

from avanomaly.conventions import DECODE_CHUNK_FRAMES
from avanomaly.errors import ClipTooShortError, MediaError
from avanomaly.io.fold import fold_warnings
from avanomaly.preprocess.augment import AugmentConfig, AugmentSpec, augment_chunks, augmented_key, draw_spec
from avanomaly.preprocess.cache import FAILURES_FILE, FeatureCache, Features
from avanomaly.preprocess.config import PreprocessConfig
from avanomaly.preprocess.detectors import FaceDetector, create_detector, import_detector, imported_detectors
from avanomaly.preprocess.frontends import face_model_name
from avanomaly.preprocess.stream import StreamState, iter_chunks, stream_features
from avanomaly.utils import AppendCSV, atomic_write_text, csv_header, csv_line, dying_pool_initializer, file_sha256

log = logging.getLogger(__name__)

#: multiprocessing start method for workers (fork is unsafe with torch/OpenCV threads)
START_METHOD = "spawn"
FAILURE_COLUMNS = ("path", "reason", "message")
#: frames decoded / tracked per run (the same for files and in-memory clips, so both give equal features)
CHUNK_FRAMES = DECODE_CHUNK_FRAMES


def _version() -> str:
    from avanomaly._version import __version__

    return __version__


def _extract(source, cfg: PreprocessConfig, detector: FaceDetector | None, sink, name: str,
             augment: AugmentSpec | None = None) -> dict:
    """Stream ``source`` (a path or a decoded Clip) through the one feature extractor
    (:func:`avanomaly.preprocess.stream.stream_features`, in runs of ``CHUNK_FRAMES``) into
    ``sink(visual, mel, found)``; -> the entry's meta (without sha256). ``augment``: the decoded chunks' frames and
    audio are changed by that spec first (:func:`avanomaly.preprocess.augment.augment_chunks`), before the visual
    front end and the log-mel, and the spec is recorded in meta["augment"]."""
    state = StreamState()
    n = n_found = 0
    chunks = iter_chunks(source, cfg, CHUNK_FRAMES)
    if augment is not None:
        chunks = augment_chunks(chunks, augment)
    for visual, mel, found, _silent in stream_features(chunks, cfg, _pixel_detector(cfg, detector), name=name,
                                                       state=state):
        sink(visual, mel, found)
        n += len(found)
        n_found += int(np.count_nonzero(found))
    if n == 0:
        raise ClipTooShortError(name, "no video frame to preprocess")
    return {
        "source": name,
        "sha256": None,
        "n_frames": n,
        "fps": float(cfg.fps),
        "duration": n / cfg.fps,
        "face_rate": n_found / n,
        "face_fallback_used": n_found == 0,
        "detector": face_model_name(cfg),
        "front_end": cfg.front_end,
        "trimmed_seconds": state.trimmed_frames / cfg.fps,
        "config": dataclasses.asdict(cfg),
        "avanomaly_version": _version(),
        **state.info,
        "decode_warnings": fold_warnings(state.warnings),
        **({"augment": augment.to_dict()} if augment is not None else {}),
    }


class _Collect:
    """A sink that keeps every run in memory (for callers that want the arrays)."""

    def __init__(self):
        self.parts: list[tuple] = []

    def __call__(self, visual, mel, found) -> None:
        self.parts.append((visual, mel, found))

    def features(self, meta: dict) -> Features:
        visual, mel, found = (np.concatenate([p[i] for p in self.parts]) for i in range(3))
        return Features(mouths=visual, mel=mel, face_found=found, meta=meta)


def _pixel_detector(cfg: PreprocessConfig, detector: FaceDetector | None) -> FaceDetector | None:
    """The face detector of the pixel front end (None for the landmark front end, which owns its face mesh)."""
    if cfg.front_end != "pixels":
        return None
    return detector or create_detector(cfg.detector)


def preprocess_clip(clip, cfg: PreprocessConfig | None = None, detector: FaceDetector | None = None,
                    augment: AugmentSpec | None = None) -> Features:
    """A decoded ``Clip`` -> Features(mouths (T,S,S) uint8 crops or (T,F) float32 lip features, mel float32 (4T,M),
    face_found (T,), meta).

    The clip is cut into runs of ``CHUNK_FRAMES`` and read by the same streaming extractor as a file
    (``preprocess_file``) and the ``Detector``, so all three give the same features. With
    ``cfg.trim_leading_silence`` the leading silence found by ``avanomaly.preprocess.silence.detect_leading_silence`` on
    the first run is cut from video and audio together (whole frames) and recorded as ``meta["trimmed_seconds"]``.
    """
    cfg = cfg or PreprocessConfig()
    sink = _Collect()
    meta = _extract(clip, cfg, detector, sink, str(clip.path) if clip.path is not None else "<clip>", augment)
    if clip.path is None:
        meta["source"] = None
    return sink.features(meta)


def preprocess_file(path, cfg: PreprocessConfig | None = None, detector: FaceDetector | None = None,
                    sha256: str | None = None, augment: AugmentSpec | None = None) -> Features:
    """Decode ``path`` in chunks of ``CHUNK_FRAMES`` (frames shrunk to ``cfg.max_side`` while decoding) and
    preprocess it -> Features held in memory. To write a cache entry with bounded memory whatever the file's
    length, use :func:`preprocess_to_cache`."""
    cfg = cfg or PreprocessConfig()
    sink = _Collect()
    meta = _extract(path, cfg, detector, sink, str(path), augment)
    meta["sha256"] = sha256 or file_sha256(path)
    return sink.features(meta)


def preprocess_to_cache(path, cache: FeatureCache, key: str, cfg: PreprocessConfig | None = None,
                        detector: FaceDetector | None = None, sha256: str | None = None,
                        augment: AugmentSpec | None = None) -> tuple[bool, dict]:
    """Preprocess ``path`` (changed by ``augment`` first, when given) straight into cache entry ``key``: each run
    of frames is appended to the entry's files as it is final, so memory holds a couple of decode chunks, not the
    video (``FeatureCache.writer``). -> (written: False when another process wrote the entry first, meta)."""
    cfg = cfg or PreprocessConfig()
    with cache.writer(key) as writer:
        meta = _extract(path, cfg, detector, writer.append, str(path), augment)
        meta["sha256"] = sha256 or file_sha256(path)
        return writer.commit(meta), meta


@dataclass
class Report:
    """Outcome of ``preprocess_many``: keys of done / skipped files, and (path, reason, message) failures."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    face_rates: dict[str, float] = field(default_factory=dict)  # path -> face rate of newly done files
    keys: dict[str, str] = field(default_factory=dict)  # path -> cache key (done and skipped)
    augmented: dict[str, dict[int, str]] = field(default_factory=dict)  # path -> {variant: cache key}
    failures_csv: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        rates = list(self.face_rates.values())
        rate = f", mean face rate {np.mean(rates):.3f} (min {np.min(rates):.3f})" if rates else ""
        return f"done {len(self.done)}, skipped {len(self.skipped)} (already cached), failed {len(self.failed)}{rate}"


# --------------------------------------------------------------------------------------- workers

_WORKER: dict = {}


def _init_worker(cfg_dict: dict, root: str, set_threads: bool, imports=(), augment: dict | None = None) -> None:
    for spec in imports:  # the 'module:Factory' detectors the user imported in the parent (import_detector)
        import_detector(spec)
    if set_threads:  # our own worker processes: one thread each, the pool gives the parallelism
        torch.set_num_threads(1)
        import cv2

        cv2.setNumThreads(1)
    cfg = PreprocessConfig(**cfg_dict)
    _WORKER.update(cfg=cfg, cache=FeatureCache(root), detector=None,
                   augment=None if augment is None else AugmentConfig(**augment))


def variant_name(path: str, variant: int) -> str:
    """How an augmented variant of ``path`` is named in reports, failures.csv and training clip lists."""
    return f"{path}#aug{variant}"


def _process_one(task):
    """``task``: a path (the clean entry) or (path, variant) (augmented variant ``variant`` of ``_WORKER["augment"]``)
    -> (status, path, key, payload, variant); status in done|skipped|failed. Never raises."""
    path, variant = (task, None) if isinstance(task, str) else task
    cfg, cache = _WORKER["cfg"], _WORKER["cache"]
    key = None
    name = path if variant is None else variant_name(path, variant)
    try:
        from avanomaly.io.container import check_media_path

        check_media_path(path)  # the decoder's own checks, before hashing: each failure has its reason
        sha = file_sha256(path)
        from avanomaly.utils import settings_hash

        key = sha[:16] + "-" + settings_hash(cfg)
        spec = None
        if variant is not None:
            spec = draw_spec(_WORKER["augment"], sha, variant)
            key = augmented_key(key, spec)
        if cache.has(key):
            return ("skipped", name, key, None, variant)
        if _WORKER["detector"] is None:
            _WORKER["detector"] = _pixel_detector(cfg, None)
        written, meta = preprocess_to_cache(path, cache, key, cfg, _WORKER["detector"], sha256=sha, augment=spec)
        return ("done" if written else "skipped", name, key, meta["face_rate"], variant)
    except MediaError as exc:
        return ("failed", name, key, (exc.reason, exc.message), variant)
    except Exception as exc:  # noqa: BLE001 - a batch never stops on one file; the reason is recorded
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return ("failed", name, key, (f"error:{type(exc).__name__}", detail), variant)


def write_failures(path, failures: Iterable[tuple[str, str, str]]) -> None:
    """Write ``failures`` ((path, reason, message) each) as a failures.csv, atomically."""
    atomic_write_text(path, csv_header(FAILURE_COLUMNS)
                      + "".join(csv_line(FAILURE_COLUMNS, dict(zip(FAILURE_COLUMNS, f))) for f in failures))


def _stream_failures(path) -> AppendCSV | None:
    """failures.csv started again (header only) and locked, its rows to be appended as files fail; None when
    another run on this cache is writing it (this run then writes its own at the end, as the last run wins)."""
    from avanomaly.errors import FileBusyError

    sink = AppendCSV(path, FAILURE_COLUMNS)
    try:
        sink.lock()
    except FileBusyError:
        log.warning("%s is being written by another preprocess run on this cache: this run's failures are "
                    "written there when it ends", path)
        return None
    try:
        sink.start([])
    except BaseException:
        sink.close()
        raise
    return sink


def preprocess_many(paths, cache, cfg: PreprocessConfig | None = None, workers: int = 1, progress: bool = True,
                    augment: AugmentConfig | None = None, clean: bool = True, engine=None) -> Report:
    """Preprocess ``paths`` into ``cache`` (a FeatureCache or a folder); resumable and fault tolerant.

    ``augment`` (``augment.variants`` > 0): also write that many augmented variants of every file, each its own
    entry (key: the clean key + the drawn spec's hash, see docs/training.md "Augmentation"; ``report.augmented``
    maps path -> {variant: key}); ``clean=False`` writes only the variants. A failed variant is recorded as
    ``PATH#augI`` and leaves the clean entry alone.

    Files whose entry exists are skipped. Bad files never stop the batch: each failure is recorded as
    (path, reason, message) in the report and in ``<cache>/failures.csv``: started again (header only) by each
    run, a row appended as each file fails (the crash-safe ``avanomaly.utils.AppendCSV``: a killed run leaves
    the failures so far), sorted when the run ends. ``workers > 1`` uses a ``spawn`` process pool with one torch/OpenCV thread per
    worker; ``workers == 1`` runs in this process without touching its thread settings.

    ``engine``: an :class:`avanomaly.distributed.EngineSpec` other than ``local`` runs the same per-file work
    (``_process_one``: same keys, same atomic cache writes) on a Dask cluster instead (a local one of ``workers``
    processes, or ``engine.address``; the cache folder must then be one the workers share). A file whose worker
    died more often than the cluster retries is a failure with reason ``worker-died``; a rerun does it again.
    """
    cfg = cfg or PreprocessConfig()
    cache = cache if isinstance(cache, FeatureCache) else FeatureCache(cache)
    cache.root.mkdir(parents=True, exist_ok=True)
    cache.clean_temp()
    paths = [str(p) for p in paths]
    n_variants = augment.variants if augment is not None else 0
    tasks = ([*paths] if clean else []) + [(p, i) for p in paths for i in range(n_variants)]
    report = Report()
    failures_csv = cache.root / FAILURES_FILE
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), unit="clip", desc="preprocess")

    def record(result):
        status, path, key, payload, variant = result
        if status == "failed":
            report.failed.append((path, payload[0], payload[1]))
            if failure_sink is not None:
                failure_sink.append(dict(zip(FAILURE_COLUMNS, report.failed[-1])))
        else:
            if variant is None:
                report.keys[path] = key
            else:
                report.augmented.setdefault(path.rsplit("#aug", 1)[0], {})[variant] = key
            if status == "done":
                report.done.append(key)
                report.face_rates[path] = float(payload)
            else:
                report.skipped.append(key)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(done=len(report.done), skipped=len(report.skipped), failed=len(report.failed))

    args = (dataclasses.asdict(cfg), str(cache.root))
    aug = dataclasses.asdict(augment) if n_variants else None
    failure_sink = _stream_failures(failures_csv)
    try:
        if engine is not None and not engine.is_local:
            from avanomaly.distributed.engine import map_unordered

            spec = dataclasses.replace(engine, workers=engine.workers or workers)
            for out in map_unordered(spec, _process_one, tasks, _init_worker,
                                     (*args, True, imported_detectors(), aug)):
                if out.ok:
                    record(out.value)
                else:
                    task = tasks[out.index]
                    path, variant = (task, None) if isinstance(task, str) else task
                    name = path if variant is None else variant_name(path, variant)
                    record(("failed", name, None, (out.reason, out.message), variant))
        elif workers <= 1 or len(tasks) <= 1:
            saved = dict(_WORKER)
            _init_worker(*args, set_threads=False, augment=aug)
            try:
                for task in tasks:
                    record(_process_one(task))
            finally:
                _WORKER.clear()
                _WORKER.update(saved)
        else:
            ctx = multiprocessing.get_context(START_METHOD)
            # workers die with this process; they repeat the user's import_detector calls
            init, initargs = dying_pool_initializer(_init_worker, (*args, True, imported_detectors(), aug))
            with ctx.Pool(min(workers, len(tasks)), initializer=init, initargs=initargs) as pool:
                for result in pool.imap_unordered(_process_one, tasks):
                    record(result)
        report.failed.sort()
        if failure_sink is not None:
            failure_sink.rewrite([dict(zip(FAILURE_COLUMNS, f)) for f in report.failed])
        else:
            write_failures(failures_csv, report.failed)
    finally:
        if bar is not None:
            bar.close()
        if failure_sink is not None:
            failure_sink.close()
    report.failures_csv = str(failures_csv)
    return report
