"""The Detector's feature streams: a clip decoded and turned into (visual, mel, face_found, silent) runs of frames
through the one streaming extractor ``preprocess_file`` uses (:mod:`avanomaly.preprocess.stream`), either in this
process (sequential) or with the face mesh in worker processes beside decoding and the models (pipelined,
docs/scoring.md "Pipelined scoring"). Both give the same features; the detector scores whichever it is handed."""

from __future__ import annotations

import dataclasses
from typing import Iterator

from avanomaly.preprocess.stream import iter_chunks, stream_features

#: pipelined path: frames per decoded chunk (the face mesh starts on a file's first second, not its first
#: chunk_frames) and decoded chunks held ahead of the mesh by the prefetch thread
PIPELINE_DECODE_FRAMES = 25
PIPELINE_PREFETCH_DEPTH = 4
#: ``mesh_workers`` >= 2: frames per face-mesh track and warm-up frames of a restarted track (see
#: preprocess/meshpool.py: scores change a little, docs/scoring.md "Pipelined scoring")
MESH_SEGMENT_FRAMES = 50
MESH_WARMUP_FRAMES = 10


def clip_features(detector, clip, name: str, state, max_seconds: float | None = None,
                  should_stop=None) -> Iterator[tuple]:
    """Decode + extract features of ``clip`` chunk by chunk -> (visual, mel, face_found, silent) runs of frames,
    through the one streaming extractor ``preprocess_file`` uses (:mod:`avanomaly.preprocess.stream`), so a
    file scored here gets its cache entry's features. Centre crops stand in when the clip has no face at all;
    ``face_fallback="error"`` is enforced over the whole clip afterwards. ``should_stop`` is polled before
    every decoded chunk (ScoringCancelled). ``detector``: the Detector whose settings (front end, chunk size,
    prefetch, mesh pool) are used."""
    if detector.pipeline:
        return pipelined_features(detector, clip, name, state, max_seconds, should_stop)
    return sequential_features(detector, clip, name, state, max_seconds, should_stop)


def sequential_features(detector, clip, name, state, max_seconds, should_stop) -> Iterator[tuple]:
    """:func:`clip_features` in this process (the face detector or mesh runs between decoded chunks)."""
    cfg = detector.preprocess_cfg
    tracker = None
    if detector.landmarker_factory is not None and cfg.front_end == "landmarks":
        from avanomaly.preprocess.landmarks import LipTracker

        tracker = LipTracker(dataclasses.replace(cfg, face_fallback="center"), source=name,
                             landmarker_factory=detector.landmarker_factory)
    chunks = iter_chunks(clip, cfg, detector.chunk_frames, prefetch=detector.prefetch, max_seconds=max_seconds)
    return stream_features(chunks, cfg, detector.face_detector, name=name, state=state,
                           face_fallback="center", should_stop=should_stop, tracker=tracker)


def pipelined_features(detector, clip, name, state, max_seconds, should_stop) -> Iterator[tuple]:
    """:func:`clip_features` with the face mesh in the worker pool: small decoded chunks feed the mesh at once, the
    audio is processed in ``chunk_frames`` blocks as on the sequential path. A pool busy with another
    thread's clip (the service's shallow copies share it): this clip runs in-process."""
    from avanomaly.preprocess.meshpool import PipelinedLipTracker

    if detector._mesh_pool is None:  # closed, used again
        detector._mesh_pool = detector._new_mesh_pool()
    pool = detector._mesh_pool
    if not pool.acquire():
        yield from sequential_features(detector, clip, name, state, max_seconds, should_stop)
        return
    cfg = dataclasses.replace(detector.preprocess_cfg, face_fallback="center")
    chunks = tracker = None
    finished = False
    try:
        tracker = PipelinedLipTracker(cfg, pool, source=name, segment_frames=detector.mesh_segment,
                                      warmup_frames=MESH_WARMUP_FRAMES)
        chunks = iter_chunks(clip, detector.preprocess_cfg, min(PIPELINE_DECODE_FRAMES, detector.chunk_frames),
                             prefetch=PIPELINE_PREFETCH_DEPTH if detector.prefetch else 0, max_seconds=max_seconds)
        yield from stream_features(chunks, detector.preprocess_cfg, name=name, state=state, face_fallback="center",
                                   should_stop=should_stop, tracker=tracker, block_frames=detector.chunk_frames)
        finished = True
    finally:
        if not finished and tracker is not None:
            tracker.abort()
        if chunks is not None:
            chunks.close()
        pool.release()
