"""The one streaming feature extractor: decoded chunks -> runs of final (visual, mel, face_found, silent) frames.

``preprocess_file`` (which streams into the feature cache) and the ``Detector`` (which streams into the sync and
AR models) both read a file through :func:`stream_features`, so a scored file gets exactly its cache entry's
features, and memory stays bounded by a couple of chunks whatever the video's length:

- the visual front end's tracker (``create_tracker``) is fed each decoded chunk; it hands back final frames
  (the face track, held geometry and the wait for the first face continue across chunks);
- a chunk's log-mel is computed once the next chunk is decoded, with one video frame of audio from each neighbour
  so the mel frames at chunk borders see the same samples as a whole-clip pass;
- leading silence (``cfg.trim_leading_silence``) is detected on the first chunk and cut from video and audio
  together (whole frames), recorded in ``state.trimmed_frames``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from avanomaly.conventions import MEL_PER_FRAME, MEL_STORAGE_DTYPE

#: a video frame's audio is "silent" when its RMS is below this level (dBFS)
SILENCE_DBFS = -50.0
#: a Clip's frame rate must match the settings' within this (frames per second)
FPS_TOLERANCE = 1e-6


@dataclass
class StreamState:
    """What a stream learned on the way: decode warnings, frame rate, frames cut with the leading silence, and
    the first chunk's facts (source frame rate, audio offset, audio present, decoded ``frame_height`` /
    ``frame_width``) and, once the stream has ended, ``face_px``: the median size of the face in decoded pixels
    over the frames with a face (inter-ocular distance for the landmark front end, face-box width for the pixel
    one; NaN without a face).

    ``meters``: optional evidence measures the caller wants on the way (the Detector's abstain rules), each with
    ``push(chunk)`` fed every decoded chunk (before the leading-silence trim, which removes only silence and
    its frames): e.g. :class:`~avanomaly.preprocess.evidence.SpeechEvidence` and
    :class:`~avanomaly.preprocess.evidence.FaceCountEvidence`. They never change the features."""

    warnings: list[str] = field(default_factory=list)  # the decoder's, in order
    notes: list[str] = field(default_factory=list)  # what the extractor itself did (leading-silence trim)
    fps: float = 0.0
    trimmed_frames: int = 0
    info: dict = field(default_factory=dict)
    meters: list = field(default_factory=list)


def clip_from_arrays(frames, audio, fps: float, sample_rate: int):
    """Clip from raw arrays: frames (T,H,W,3) uint8 RGB at ``fps``, audio (N,) float32 mono at ``sample_rate``."""
    from avanomaly.io import Clip

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) RGB, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    t = frames.shape[0]
    spf = sample_rate / fps
    if spf != int(spf):
        raise ValueError(f"sample_rate {sample_rate} is not a multiple of fps {fps}")
    need = t * int(spf)
    warns = []
    if audio.shape[0] != need:
        if abs(audio.shape[0] - need) > spf:
            warns.append(f"audio has {audio.shape[0]} samples for {t} frames (expected {need}); padded/trimmed")
        audio = np.pad(audio, (0, max(0, need - audio.shape[0])))[:need]
    return Clip(frames=frames, audio=audio, fps=float(fps), sample_rate=int(sample_rate), source_fps=float(fps),
                duration=t / fps, av_offset=0.0, path=None, has_audio=True, warnings=warns)


def iter_chunks(source, cfg, chunk_frames: int, prefetch: bool | int = False,
                max_seconds: float | None = None) -> Iterator:
    """A path, an ``avanomaly.io.Clip`` or ``(frames, audio)`` -> decoded ``Clip`` chunks of ``chunk_frames``.

    A path is decoded lazily (``prefetch``: the next chunk, or this many chunks, are decoded in a thread
    meanwhile); an in-memory clip
    must already be at the settings' frame rate and sample rate. ``max_seconds``: ``TooLongError`` as soon as the
    video passes this length (for a file: checked on every decoded frame)."""
    from avanomaly.errors import TooLongError
    from avanomaly.io import Clip, iter_clip_chunks

    if isinstance(source, (str, Path)):
        chunks = iter_clip_chunks(source, chunk_frames=chunk_frames, fps=cfg.fps, sample_rate=cfg.sample_rate,
                                  max_side=cfg.max_side, max_seconds=max_seconds)
        if prefetch:
            from avanomaly.utils import prefetch as _prefetch

            chunks = _prefetch(chunks, depth=int(prefetch), name="avanomaly-decode")
        yield from chunks
        return
    if isinstance(source, Clip):
        clip = source
    elif isinstance(source, (tuple, list)) and len(source) == 2:
        clip = clip_from_arrays(source[0], source[1], cfg.fps, cfg.sample_rate)
    else:
        raise TypeError(f"cannot read features from a {type(source).__name__}: pass a path, a Clip or "
                        "(frames, audio)")
    if abs(float(clip.fps) - cfg.fps) > FPS_TOLERANCE or int(clip.sample_rate) != cfg.sample_rate:
        raise ValueError(f"{clip.path or '<clip>'}: clip is {clip.fps} fps / {clip.sample_rate} Hz but the model "
                         f"needs {cfg.fps} fps / {cfg.sample_rate} Hz (decode with load_clip(path, fps=..., "
                         "sample_rate=...))")
    if max_seconds and clip.n_frames / clip.fps > max_seconds:
        raise TooLongError(clip.path or "<clip>", f"{clip.n_frames / clip.fps:.2f} s is longer than the limit "
                                                  f"of {max_seconds:g} s")
    spf = int(round(clip.sample_rate / clip.fps))
    for s in range(0, clip.n_frames, chunk_frames):
        e = min(clip.n_frames, s + chunk_frames)
        yield dataclasses.replace(clip, frames=clip.frames[s:e], audio=clip.audio[s * spf:e * spf],
                                  duration=(e - s) / clip.fps, start=clip.start + s / clip.fps,
                                  warnings=list(clip.warnings) if s == 0 else [])


def silent_frames(audio: np.ndarray, samples_per_frame: int) -> np.ndarray:
    """Boolean (T,): the frame's audio RMS is below SILENCE_DBFS."""
    n = audio.shape[0] // samples_per_frame
    if n == 0:
        return np.zeros(0, dtype=bool)
    x = audio[: n * samples_per_frame].reshape(n, samples_per_frame).astype(np.float64)
    rms = np.sqrt((x * x).mean(axis=1))
    return rms < 10.0 ** (SILENCE_DBFS / 20.0)


def chunk_audio_features(n_frames: int, audio: np.ndarray, cfg, left_audio=None, right_audio=None):
    """A chunk's ``n_frames`` and audio -> (mel (4T,M) float32, silent (T,) bool).

    ``left_audio`` / ``right_audio``: the neighbouring chunks' audio (None at the clip's ends); one video frame of
    each is added so the log-mel frames at chunk borders see the same samples as in a whole-clip pass."""
    from avanomaly.preprocess.mel import log_mel

    t = int(n_frames)
    spf = cfg.samples_per_frame
    audio = np.asarray(audio, dtype=np.float32)[: t * spf]
    audio = np.pad(audio, (0, t * spf - audio.shape[0]))
    n_left = 0 if left_audio is None else 1
    n_right = 0 if right_audio is None else 1
    parts = ([left_audio[-spf:]] if n_left else []) + [audio] + ([right_audio[:spf]] if n_right else [])
    ext = np.concatenate(parts) if len(parts) > 1 else audio
    mel = log_mel(torch.from_numpy(np.ascontiguousarray(ext)), cfg, n_frames=t + n_left + n_right).numpy()
    mel = mel[MEL_PER_FRAME * n_left: MEL_PER_FRAME * (n_left + t)]  # (4T, M)
    mel = mel.astype(MEL_STORAGE_DTYPE).astype(np.float32)  # the cache's precision, for every consumer
    return mel, silent_frames(audio, spf)


class FrameAligner:
    """Pairs per-frame visual features with per-frame audio features; the two become final at different times
    (visual frames wait for the first face, log-mel for the next chunk's audio). ``drop`` leading visual frames
    are discarded (frames cut with the leading silence)."""

    def __init__(self):
        self.visual: list[tuple[np.ndarray, np.ndarray]] = []  # (visual (n,...), found (n,))
        self.audio: list[tuple[np.ndarray, np.ndarray]] = []  # (mel (4n,M), silent (n,))
        self.drop = 0

    def add_visual(self, visual: np.ndarray, found: np.ndarray) -> None:
        k = min(self.drop, len(visual))
        self.drop -= k
        if len(visual) > k:
            self.visual.append((visual[k:], np.asarray(found[k:], dtype=bool)))

    def add_audio(self, mel: np.ndarray, silent: np.ndarray) -> None:
        if len(silent):
            self.audio.append((mel, silent))

    def pending(self) -> tuple[int, int]:
        return sum(len(f) for _, f in self.visual), sum(len(s) for _, s in self.audio)

    def ready(self) -> Iterator[tuple]:
        """Yield (visual, mel, found, silent) for every frame that has both."""
        n = min(self.pending())
        if n:
            visual, found = _take_frames(self.visual, n, 1)
            mel, silent = _take_frames(self.audio, n, MEL_PER_FRAME)
            yield visual, mel, found, silent


def _take_frames(parts: list, n: int, first_per_frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Pop the first ``n`` frames from a list of (a (k*first_per_frame, ...), b (k, ...)) pairs."""
    a = np.concatenate([p[0] for p in parts])
    b = np.concatenate([p[1] for p in parts])
    parts.clear()
    if len(b) > n:
        parts.append((a[n * first_per_frame:], b[n:]))
    return a[: n * first_per_frame], b[:n]


def check_stop(should_stop, name: str) -> None:
    """Raise ScoringCancelled when the caller's ``should_stop()`` returns True (None: never)."""
    if should_stop is not None and should_stop():
        from avanomaly.errors import ScoringCancelled

        raise ScoringCancelled(f"{name}: scoring cancelled by the caller")


def _blocks(chunks: Iterable, block_frames: int | None, push, state: StreamState, name: str, should_stop):
    """Decoded chunks -> audio blocks ``(n_frames, audio, fps, sample_rate)``; each chunk's frames go to
    ``push`` as soon as it arrives. ``block_frames`` None: one block per chunk; else the chunks' audio is
    regrouped into blocks of ``block_frames`` (the last one shorter), so a stream decoded in small chunks (to feed
    the face mesh early) gets the audio features of one decoded in ``block_frames`` chunks."""
    pieces: list[np.ndarray] = []
    n_pending = 0
    fps = sample_rate = None
    # no enumerate(): its cached result tuple would keep the previous chunk alive while the next one is decoded
    i = -1
    for chunk in chunks:
        i += 1
        check_stop(should_stop, name)
        state.warnings.extend(w for w in getattr(chunk, "warnings", []) or [] if w not in state.warnings)
        state.fps = fps = float(chunk.fps)
        sample_rate = int(chunk.sample_rate)
        if i == 0:
            state.info = {"source_fps": float(getattr(chunk, "source_fps", chunk.fps)),
                          "av_offset": float(getattr(chunk, "av_offset", 0.0)),
                          "has_audio": bool(getattr(chunk, "has_audio", True))}
        if chunk.n_frames == 0:
            continue
        state.info.setdefault("frame_height", int(chunk.frames.shape[1]))  # decoded (after max_side) pixels
        state.info.setdefault("frame_width", int(chunk.frames.shape[2]))
        push(np.asarray(chunk.frames))  # untrimmed: the face track is the same with or without trimming
        for meter in state.meters:  # evidence for the abstain rules (speech, face count): never the features
            meter.push(chunk)
        n = int(chunk.frames.shape[0])
        audio = np.asarray(chunk.audio)
        del chunk  # the frames are tracked: only the audio waits for its block
        if block_frames is None:
            yield n, audio, fps, sample_rate
            continue
        pieces.append(audio)
        n_pending += n
        while n_pending >= block_frames:
            joined = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
            spf = joined.shape[0] // n_pending
            yield block_frames, joined[:block_frames * spf], fps, sample_rate
            pieces, n_pending = [joined[block_frames * spf:]], n_pending - block_frames
    if n_pending:
        yield n_pending, (np.concatenate(pieces) if len(pieces) > 1 else pieces[0]), fps, sample_rate


def stream_features(chunks: Iterable, cfg, detector=None, name: str = "<clip>", state: StreamState | None = None,
                    face_fallback: str | None = None, should_stop=None, tracker=None,
                    block_frames: int | None = None) -> Iterator[tuple]:
    """Decoded chunks -> runs of final frames ``(visual (n,...), mel (4n,M) float32, found (n,) bool, silent (n,)
    bool)``, in order, covering the (trimmed) clip exactly once.

    ``detector``: the pixel front end's face detector (default ``cfg.detector``); ``face_fallback`` overrides the
    setting for the tracker (the Detector uses ``"center"`` and enforces ``"error"`` over the whole clip itself).
    ``state`` (a :class:`StreamState`) is filled with warnings, fps, trimmed frames and the first chunk's facts.
    ``should_stop``: a callable polled before each decoded chunk is processed (:func:`check_stop`): when it
    returns True the stream raises ``ScoringCancelled`` (the service passes "has the client gone away"), so a
    stopped stream is never mistaken for a shorter clip.
    ``tracker``: the visual front end (default: ``create_tracker``), e.g. the pipelined landmark tracker, whose
    ``take(through=n)`` is asked only for the frames the audio has reached, so it may lag behind ``push``;
    ``block_frames``: the audio is processed in blocks of this many frames whatever the chunks' size (None: per
    chunk), so small decoded chunks give the features of ``block_frames``-sized ones, bit for bit.
    """
    from avanomaly.preprocess.frontends import create_tracker

    state = state if state is not None else StreamState()
    state.fps = float(cfg.fps)
    if tracker is None:
        tcfg = cfg if face_fallback is None else dataclasses.replace(cfg, face_fallback=face_fallback)
        tracker = create_tracker(tcfg, detector, source=name)
    lagging = hasattr(tracker, "abort")  # a pipelined tracker: take only the frames the audio has reached
    aligner = FrameAligner()
    prev = None  # (n_frames, audio) of the block waiting for its right audio context (its frames are not kept)
    prev_left = None  # audio of the block before `prev`
    through = 0  # untrimmed frames in the blocks before the current one
    i = -1
    for n_frames, audio, fps, sample_rate in _blocks(chunks, block_frames, tracker.push, state, name, should_stop):
        i += 1
        if i == 0 and cfg.trim_leading_silence:
            from avanomaly.preprocess.silence import detect_leading_silence, trim_leading

            lead = detect_leading_silence(audio, sample_rate)
            if lead > 0:
                frames, audio, secs = trim_leading(np.zeros((n_frames, 0), np.uint8), audio, fps, sample_rate, lead)
                state.trimmed_frames = aligner.drop = int(round(secs * fps))
                n_frames = int(frames.shape[0])
                if state.trimmed_frames:
                    state.notes.append(f"trimmed {secs:.2f} s of leading silence (setting trim_leading_silence)")
        aligner.add_visual(*(tracker.take(through=through) if lagging else tracker.take()))
        through += n_frames + (state.trimmed_frames if i == 0 else 0)
        if prev is not None:
            aligner.add_audio(*chunk_audio_features(*prev, cfg, prev_left, audio))
            prev_left = prev[1]
        if n_frames:
            prev = (n_frames, audio)
        yield from aligner.ready()
    if prev is not None:
        aligner.add_audio(*chunk_audio_features(*prev, cfg, None if prev_left is None else prev_left, None))
    aligner.add_visual(*tracker.finish())
    sizes = getattr(tracker, "face_px", None)  # the face's size in decoded pixels (see face_size_px)
    state.info["face_px"] = float(np.median(sizes)) if sizes else float("nan")
    yield from aligner.ready()
    if any(aligner.pending()):
        raise AssertionError(f"{name}: visual and audio frames out of step: {aligner.pending()}")
