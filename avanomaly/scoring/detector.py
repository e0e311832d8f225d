"""Detector: video -> per-frame NLL -> clip anomaly score, calibrated verdict and percentile.

Pipeline (docs/scoring.md):

    iter_clip_chunks (chunk_frames) -> preprocess.stream.stream_features (the extractor preprocess_file uses;
         scoring/streams.py: sequential or pipelined)
      -> AnomalyModel.scorer (models/composite.py, the one path from frames to NLL): sync features over fixed
         windows with `margin` frames of real context on each side, then per-frame NLL with the AR model's
         bounded context (the same ARStream as ARModel.score_sequence)
      -> aggregate (skip the first `skip_seconds`) -> score -> threshold / percentile, warnings, abstain reasons
         (scoring/verdict.py)

Memory is bounded by three decoded chunks (one decoded ahead by the prefetch thread) plus a few per-frame
numbers (NLL, sync logits (T, O)), so an hour-long file is scored whole, not a prefix.

Pipelined (``pipeline``, the default on >= 2 cores for the landmark front end; docs/scoring.md "Pipelined
scoring"): the file is decoded in 1 s chunks by the prefetch thread, the face mesh runs in worker processes
(preprocess/meshpool.py) while this process computes log-mel, lip features and the models, and the audio is
still processed in ``chunk_frames`` blocks, so the scores are the sequential path's.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings as _warnings
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

from avanomaly.conventions import DECODE_CHUNK_FRAMES, MEL_PER_FRAME
from avanomaly.errors import AvanomalyError, CheckpointError, ClipTooShortError, MediaError, NoFaceError
from avanomaly.preprocess.evidence import FaceCountEvidence, SpeechEvidence, face_counter
from avanomaly.preprocess.frontends import FaceShape, MouthActivity, face_model_name
from avanomaly.preprocess.landmarks import INNER_OPEN_FEATURE
from avanomaly.preprocess.speech import vad_available
from avanomaly.preprocess.stream import StreamState, check_stop
from avanomaly.models.composite import DEFAULT_SYNC_WINDOW, AnomalyModel
from avanomaly.postprocess.aggregate import AggregationConfig
from avanomaly.postprocess.basis import summary as basis_summary
from avanomaly.postprocess.calibration import CALIBRATION_JSON, Calibration, load_calibration_json
from avanomaly.postprocess.domain import media_facts
from avanomaly.postprocess.fusion import DEFAULT_CURVE, NLL_DEFINITION, check_curve
from avanomaly.postprocess.modelfile import DEFAULT_PRETRAINED, MODEL_FILENAME, resolve_model_path, shipped_name
from avanomaly.postprocess.offset_check import OffsetCheck
from avanomaly.postprocess.offset_check import describe as describe_offset_check
from avanomaly.postprocess.terms import MIN_FRAMES, score_frames
from avanomaly.scoring.result import ScoreFailure, ScoreResult
from avanomaly.scoring.streams import MESH_SEGMENT_FRAMES, clip_features
from avanomaly.scoring.verdict import judge_clip

log = logging.getLogger(__name__)

#: frames per decoded/preprocessed chunk (10 s at 25 fps)
DEFAULT_CHUNK_FRAMES = DECODE_CHUNK_FRAMES
#: fewest frames a clip may have (the AR model predicts frame 1 from frame 0)
MIN_CLIP_FRAMES = MIN_FRAMES


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# ------------------------------------------------------------------------------------------ Detector


class Detector:
    """Scores clips with a trained sync model + AR model. See docs/scoring.md.

    ``Detector()`` loads the shipped starter model (``Detector.from_pretrained("starter")``);
    ``Detector(sync_model, ar_model, preprocess_cfg, calibration=None)`` builds one from models in memory
    (tests, training); ``Detector.from_pretrained(path)`` from a model file or run directory.
    ``aggregation`` defaults to the calibrated one (else AggregationConfig()); ``chunk_frames`` is the decode
    chunk; ``sync_window`` / ``sync_margin`` the sync-model passes (features do not depend on chunk_frames);
    ``face_detector`` overrides the one named in ``preprocess_cfg``; ``precision`` "bf16" runs the sync model under
    bf16 autocast (opt-in, faster, slightly different scores); ``prefetch`` decodes the next chunk of a file in a
    background thread while the current one is scored (one extra chunk in memory; results are identical).
    ``pipeline`` (landmark front end): the face mesh in worker processes beside decoding and the models (None:
    on when this process may use >= 2 cores); ``mesh_workers`` such processes: 1 is exact (one face track, the
    sequential path's scores), >= 2 split the clip into face tracks of ``mesh_segment`` frames (default
    MESH_SEGMENT_FRAMES), which changes scores a little (docs/scoring.md). ``landmarker_factory``: the workers'
    landmarker (tests). Call :meth:`close` (or use ``with``) to stop the worker processes.
    ``face_frames_only`` (default True): the clip score and sync terms come from the frames with a face only (frames
    without one hold the last face's features, which says nothing about them); False scores every frame, as before
    2026-12-04.
    """

    def __init__(self, sync_model=None, ar_model=None, preprocess_cfg=None,
                 calibration: Calibration | dict | None = None,
                 aggregation: AggregationConfig | dict | None = None, device: str | torch.device = "cpu",
                 chunk_frames: int = DEFAULT_CHUNK_FRAMES, face_detector=None, sync_window: int = DEFAULT_SYNC_WINDOW,
                 sync_margin: int | None = None, source: str | None = None, precision: str = "fp32",
                 prefetch: bool = True, model_name: str | None = None, pipeline: bool | None = None,
                 mesh_workers: int = 1, mesh_segment: int | None = None, landmarker_factory=None,
                 face_frames_only: bool = True):
        if sync_model is None:
            if ar_model is not None or preprocess_cfg is not None:
                raise TypeError("pass sync_model, ar_model and preprocess_cfg together, or none (the starter model)")
            from avanomaly.scoring.loading import load_model_file

            model_path = resolve_model_path(DEFAULT_PRETRAINED)
            sync_model, ar_model, preprocess_cfg, stored, _ = load_model_file(model_path)
            calibration = stored if calibration is None else calibration
            source = source or str(model_path)
            model_name = model_name or DEFAULT_PRETRAINED
        elif ar_model is None or preprocess_cfg is None:
            raise TypeError("pass sync_model, ar_model and preprocess_cfg together, or none (the starter model)")
        self.device = resolve_device(device)
        self.prefetch = bool(prefetch)
        self.face_frames_only = bool(face_frames_only)
        # channels_last conv weights: the same outputs (to ~1e-6) and ~25 % faster CNNs on CPU (oneDNN)
        self.sync_model = sync_model.to(self.device).to(memory_format=torch.channels_last).eval()
        self.ar_model = ar_model.to(self.device).eval()
        if isinstance(preprocess_cfg, dict):
            from avanomaly.preprocess.config import PreprocessConfig
            from avanomaly.utils import dataclass_from_dict

            preprocess_cfg = dataclass_from_dict(PreprocessConfig, preprocess_cfg)
        self.preprocess_cfg = preprocess_cfg
        if preprocess_cfg.front_end == "landmarks":  # fail at load, not once per file
            from avanomaly.preprocess.landmarks import require_mediapipe

            require_mediapipe()
        self.calibration = calibration  # checked (a dict is read); its offset profile kept (the property below)
        if aggregation is None and calibration is not None and calibration.aggregation:
            aggregation = dict(calibration.aggregation)  # score the way the threshold was set
        if isinstance(aggregation, dict):
            aggregation = AggregationConfig(**aggregation)
        self.aggregation = aggregation or AggregationConfig()
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
        self.chunk_frames = int(chunk_frames)
        #: the one path from frames to per-frame NLL (models/composite.py)
        self.model = AnomalyModel(self.sync_model, self.ar_model)
        self.sync_window, self.sync_margin, self.precision = self.model.scorer_settings(sync_window, sync_margin,
                                                                                      precision)
        self._face_detector = face_detector
        self.source = source
        #: the shipped model's name ("starter"), else None (``source`` is the model file)
        self.model_name = model_name
        if mesh_workers < 1:
            raise ValueError(f"mesh_workers must be >= 1, got {mesh_workers}")
        if pipeline is None:
            from avanomaly.utils import available_cores

            pipeline = available_cores() >= 2
        #: the face mesh runs in worker processes (landmark front end only)
        self.pipeline = bool(pipeline) and preprocess_cfg.front_end == "landmarks"
        self.mesh_workers = int(mesh_workers)
        self.mesh_segment = int(mesh_segment if mesh_segment is not None
                                else (MESH_SEGMENT_FRAMES if mesh_workers > 1 else 0))
        self.landmarker_factory = landmarker_factory
        self._mesh_pool = self._new_mesh_pool() if self.pipeline else None  # processes: start_workers / first use

    @property
    def calibration(self) -> Calibration | None:
        return self._calibration

    @calibration.setter
    def calibration(self, calibration: Calibration | dict | None) -> None:
        if isinstance(calibration, dict):
            calibration = Calibration.from_dict(calibration)
        profile = calibration.offset_profile if calibration is not None else None
        k = int(self.sync_model.config.max_offset)
        if profile is not None and profile.max_offset != k:
            raise CheckpointError(f"{getattr(self, 'source', None) or 'calibration'}: its offset profile is for offsets +-"
                                  f"{profile.max_offset}, the sync model scores +-{k}: not this model's calibration")
        self._calibration = calibration
        #: the ``profile`` term's model (postprocess/profile.py), read once per calibration
        self._profile = profile
        #: how a clip's offset curve is made (postprocess/fusion.py CURVES): the calibration's ("cosine" without one)
        self._curve = calibration.curve if calibration is not None else DEFAULT_CURVE

    @property
    def curve(self) -> str:
        """The kind of offset curve the score terms are made from (the calibration's; postprocess/fusion.py CURVES)."""
        return self._curve

    def _new_mesh_pool(self):
        from avanomaly.preprocess.meshpool import MeshPool

        return MeshPool(self.mesh_workers, self.landmarker_factory)

    def start_workers(self) -> None:
        """Start the pipelined path's face-mesh processes now, so their start-up (~1-2 s) overlaps whatever the
        caller does next instead of the first file (no-op without ``pipeline``)."""
        if self.pipeline:
            if self._mesh_pool is None:
                self._mesh_pool = self._new_mesh_pool()
            self._mesh_pool.start()

    def close(self) -> None:
        """Stop the pipelined path's face-mesh worker processes (they start again if the detector is used)."""
        pool, self._mesh_pool = self._mesh_pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, path=DEFAULT_PRETRAINED, device: str = "auto", **kwargs) -> "Detector":
        """Load a shipped model by name (``"starter"``, the default), a model file (``model.pt``) or a run
        directory holding one (+ ``calibration.json``)."""
        from avanomaly.scoring.loading import load_model_file

        model_path = resolve_model_path(path)
        if not model_path.exists():
            hint = f" (a run directory must contain {MODEL_FILENAME})" if Path(path).is_dir() else ""
            raise CheckpointError(f"{model_path}: model file not found{hint}")
        sync_model, ar_model, pcfg, calibration, _ = load_model_file(model_path)
        if calibration is None and (model_path.parent / CALIBRATION_JSON).exists():
            calibration = load_calibration_json(model_path.parent / CALIBRATION_JSON)
        return cls(sync_model, ar_model, pcfg, calibration=calibration, device=device, source=str(model_path),
                   model_name=shipped_name(path), **kwargs)

    @property
    def face_detector(self):
        """The pixel front end's face detector (None for the landmark front end, which tracks its own mesh)."""
        if self._face_detector is None and self.preprocess_cfg.front_end == "pixels":
            from avanomaly.preprocess.detectors import create_detector

            self._face_detector = create_detector(self.preprocess_cfg.detector)
        return self._face_detector

    @property
    def threshold(self) -> float | None:
        return None if self.calibration is None else float(self.calibration.threshold)

    # ------------------------------------------------------------------ features
    def _clip_chunks(self, clip, name: str, state: StreamState, max_seconds: float | None = None,
                     should_stop=None) -> Iterator[tuple]:
        """``clip``'s features, run by run, sequential or pipelined (:func:`avanomaly.scoring.streams.clip_features`)."""
        return clip_features(self, clip, name, state, max_seconds, should_stop)

    def anomaly_score(self, clip, aggregation: AggregationConfig | dict | None = None,
                      threshold: float | None = None, max_seconds: float | None = None,
                      should_stop=None) -> ScoreResult:
        """Score a path, an ``avanomaly.io.Clip`` or ``(frames (T,H,W,3) uint8, audio (N,) float32)``.

        ``aggregation`` / ``threshold`` override the detector's for this call. Raises MediaError subclasses
        (naming the file) for unusable input; see score_many for a batch that never stops.
        ``max_seconds``: ``TooLongError`` as soon as the decoded video passes this length (checked on every
        decoded frame, so it holds for files that declare no duration). ``should_stop``: a callable checked
        before each chunk (``chunk_frames``) is preprocessed and scored; when it returns True scoring stops
        with ``ScoringCancelled`` (the service passes "has the client disconnected").
        """
        path = str(clip) if isinstance(clip, (str, Path)) else getattr(clip, "path", None)
        name = path or "<array>"
        state = StreamState(fps=float(self.preprocess_cfg.fps), meters=self._evidence())
        try:
            items = self._clip_chunks(clip, name, state, max_seconds=max_seconds, should_stop=should_stop)
            try:
                media = media_facts(clip) if isinstance(clip, (str, Path)) else None  # source height, bits per frame
                return self._score_chunks(items, path, name, state, aggregation, threshold, should_stop=should_stop,
                                          media=media)
            finally:
                items.close()  # on an error half-way: the decoder, the prefetch thread and the mesh pool are let go now
        finally:
            for meter in state.meters:
                meter.close()

    def _evidence(self) -> list:
        """The abstain rules' measures for one clip (speech when Silero VAD is installed; the face count)."""
        cfg = self.preprocess_cfg
        meters = [SpeechEvidence(cfg.sample_rate)] if vad_available() else []
        return meters + [FaceCountEvidence(lambda: face_counter(cfg, self.face_detector))]

    def score_features(self, mouths, mel, face_found=None, path: str | None = None,
                       aggregation: AggregationConfig | dict | None = None, threshold: float | None = None,
                       trimmed_seconds: float = 0.0) -> ScoreResult:
        """Score already preprocessed features (e.g. a FeatureCache entry) exactly as ``anomaly_score`` would.

        mouths (T, S, S) uint8, mel (4T, M) log-mel, face_found (T,) bool (None: all True). Read in chunks,
        so memory maps stay cheap. Use this to calibrate on cached validation clips (training does).
        """
        name = path or "<features>"
        fps = float(self.preprocess_cfg.fps)
        state = StreamState(fps=fps, trimmed_frames=int(round(trimmed_seconds * fps)))
        t = int(mouths.shape[0])
        if mel.shape[0] != MEL_PER_FRAME * t:
            raise ValueError(f"{name}: mel has {mel.shape[0]} frames for {t} video frames "
                             f"(expected {MEL_PER_FRAME * t})")

        def items():
            for s in range(0, t, self.chunk_frames):
                e = min(t, s + self.chunk_frames)
                found = np.ones(e - s, bool) if face_found is None else np.asarray(face_found[s:e], dtype=bool)
                yield (np.asarray(mouths[s:e]), np.asarray(mel[MEL_PER_FRAME * s:MEL_PER_FRAME * e], dtype=np.float32),
                       found, None)

        return self._score_chunks(items(), path, name, state, aggregation, threshold)

    def _score_chunks(self, items, path, name, state, aggregation, threshold, should_stop=None,
                      media=None) -> ScoreResult:
        agg = self.aggregation if aggregation is None else (
            AggregationConfig(**aggregation) if isinstance(aggregation, dict) else aggregation)
        cfg = self.preprocess_cfg
        scorer = self.model.scorer(self.sync_window, self.sync_margin, self.precision, self.device)
        face_parts, silent_parts = [], []
        warns = state.warnings
        n_frames = 0
        activity = MouthActivity(cfg.front_end)
        shape = FaceShape(cfg.front_end)
        offset_check = OffsetCheck(INNER_OPEN_FEATURE if cfg.front_end == "landmarks" else None, MEL_PER_FRAME)
        for mouths, mel, found, silent in items:
            check_stop(should_stop, name)  # before a run is scored, too
            face_parts.append(found)
            activity.push(mouths, found)
            shape.push(mouths, found)
            offset_check.push(mouths, mel)
            if silent is not None:
                silent_parts.append(silent)
            n_frames += int(mouths.shape[0])
            scorer.push(mouths, mel)
        warns.extend(state.notes)
        fps = state.fps
        trimmed_frames = state.trimmed_frames
        if n_frames < MIN_CLIP_FRAMES:
            raise ClipTooShortError(name, f"{n_frames} frame(s) after decoding; need at least {MIN_CLIP_FRAMES}")
        face_found = np.concatenate(face_parts)
        if not face_found.any() and cfg.face_fallback == "error":
            raise NoFaceError(name, f"no face found in any frame checked ({face_model_name(cfg)}); this model "
                                    "scores clips with a face only", hint="its PreprocessConfig has face_fallback='error'")
        frames = scorer.finish()
        nll = frames.nll  # (T-1,): NLL of frames 1..T-1
        times = (np.arange(1, n_frames, dtype=np.float64) + trimmed_frames) / fps  # seconds from the file start
        assert nll.shape == times.shape, (nll.shape, times.shape)
        evidence = score_frames(frames, face_found, self.sync_model, self.model.max_offset, agg, fps,
                                face_frames_only=self.face_frames_only, device=self.device, profile=self._profile,
                                curve=self._curve)
        terms, skip_dropped = evidence.terms, evidence.skip_dropped
        offset, confidence = evidence.offset, evidence.confidence
        if self.calibration is not None:
            score, definition = self.calibration.clip_score(terms), self.calibration.score_definition
        else:
            score, definition = terms["nll"], f"{NLL_DEFINITION}; uncalibrated model"
        face_rate = float(face_found.mean())
        silent = np.concatenate(silent_parts) if silent_parts else None
        silent_fraction = float(silent.mean()) if silent is not None else float("nan")
        duration = n_frames / fps
        check = offset_check.result(int(offset))  # a model-free second opinion on the offset (offset_check.py)
        out_of_sync = describe_offset_check(check, int(offset), fps)
        if out_of_sync:
            warns.append(out_of_sync)
        thr = threshold if threshold is not None else self.threshold
        judged = judge_clip(score, thr, self.calibration, agg, state, media, duration=duration, face_rate=face_rate,
                            silent=silent, skip_dropped=skip_dropped, shape=shape, activity=activity,
                            precision=self.precision)
        if thr is None:
            _warnings.warn(f"{name}: model is uncalibrated, no verdict", stacklevel=3)
        return ScoreResult(
            path=path, score=score, verdict=judged.verdict, abstain=judged.abstain,
            threshold=None if thr is None else float(thr), percentile=judged.percentile, frame_nll=nll.tolist(),
            frame_times=times.tolist(), av_offset_frames=int(offset), av_offset_confidence=float(confidence),
            face_rate=face_rate, silent_fraction=silent_fraction, duration=duration, n_frames=n_frames, fps=fps,
            aggregation=dataclasses.asdict(agg), warnings=warns, score_terms=terms,
            score_definition=definition or NLL_DEFINITION, input=judged.facts,
            calibration_basis=None if self.calibration is None else basis_summary(judged.basis),
            offset_curve=[float(v) for v in evidence.curve], offset_curve_kind=evidence.curve_kind,
            av_offset_check=check,
        )

    def calibrate(self, paths: Sequence, target_fpr: float = 0.05, terms=None, notes: str = "",
                  progress: bool = False, speakers: Sequence | None = None, domains: Sequence | None = None,
                  curve: str | None = None):
        """Calibrate on REAL clips of the target domain: score ``paths``, fit the score fusion of ``terms``
        (default: every term) on them and set the threshold at ``target_fpr``; the detector uses the new calibration
        from then on. ``speakers`` / ``domains``: a label per path (or None), recorded with the out-of-speaker
        false-alarm rate and the pool's recording facts in ``Calibration.basis``.
        -> (Calibration, failures: ScoreFailure of the clips that could not be scored). Raises
        AvanomalyError when no clip could be scored, ConfigError for unknown terms. Store it with
        ``scoring.modelfile.write_calibration(model_file, calibration)``. ``curve``: the kind of offset curve the new
        calibration's terms are made from (postprocess/fusion.py CURVES; default: the model's current one)."""
        from avanomaly.postprocess.calibration import calibrate_terms, needs_curves

        curve = self._curve if curve is None else check_curve(curve)
        previous, self._curve = self._curve, curve  # the clips are scored with the new calibration's curve
        try:
            results = self.score_many(paths, progress=progress, threshold=float("inf"))
        finally:
            self._curve = previous
        ok = [i for i, r in enumerate(results) if r.ok]
        failed = [r for r in results if not r.ok]
        if not ok:
            raise AvanomalyError(f"none of the {len(results)} real clip(s) could be scored; nothing to calibrate on")

        def scored(labels):
            return None if labels is None else [list(labels)[i] for i in ok]

        cal = calibrate_terms([results[i].score_terms for i in ok], target_fpr, terms=terms,
                              aggregation=dataclasses.asdict(self.aggregation), notes=notes,
                              speakers=scored(speakers), domains=scored(domains),
                              facts=[results[i].input for i in ok],
                              curves=[results[i].offset_curve for i in ok] if needs_curves(terms) else None,
                              curve=curve)
        self.calibration = cal
        return cal, failed

    def score_many(self, paths: Sequence, progress: bool = False, **kwargs) -> list[ScoreResult | ScoreFailure]:
        """Score every item; a file that cannot be scored gives a ScoreFailure, never stops the batch."""
        out: list[ScoreResult | ScoreFailure] = []
        it: Iterable = paths
        if progress:
            from tqdm import tqdm

            it = tqdm(paths, desc="scoring", unit="clip")
        for p in it:
            out.append(self.score_one_safe(p, **kwargs))
        return out

    def score_one_safe(self, item, **kwargs) -> ScoreResult | ScoreFailure:
        name = str(item) if isinstance(item, (str, Path)) else getattr(item, "path", None)
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                return self.anomaly_score(item, **kwargs)
        except MediaError as exc:
            return ScoreFailure(name, exc.reason, exc.message)
        except AvanomalyError as exc:
            return ScoreFailure(name, type(exc).__name__, str(exc))
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - a bad file must not stop the batch; the reason is reported
            log.exception("unexpected error scoring %s", name)
            return ScoreFailure(name, "error", f"{type(exc).__name__}: {exc}")
