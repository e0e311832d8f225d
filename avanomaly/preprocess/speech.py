"""How much of a clip's audio is speech: Silero VAD (the ``silero-vad`` wheel ships the model; nothing is downloaded).

The ``no-speech`` abstain rule (:mod:`avanomaly.postprocess.abstain`) used to count frames louder than -50 dBFS, so
music, applause or traffic counted as speech. Here a voice-activity model decides:

- :func:`speech_seconds` ``(waveform (N,) at 16 kHz) -> seconds of speech`` (silero's ``get_speech_timestamps``
  with its default settings, segment lengths summed);
- :class:`SpeechMeter` the same, fed chunk by chunk (``push(audio)`` then ``seconds()``), for the streaming
  detector: it runs the model on the same 512-sample windows in the same order, so it gives exactly
  ``speech_seconds`` of the concatenated audio, whatever the chunking.

The model runs on one CPU thread (silero's recurrent windows of 32 ms are ~10x slower with more: measured 19-26
ms vs 230-380 ms per second of audio on a busy 2-core machine); the process's torch thread count is set to 1 only
while a window runs and restored afterwards (importing ``silero_vad`` sets it to 1 for the whole process; that is
undone too). Loaded models are pooled per process (one per meter in use, ~70 ms to load, a few MB).

When ``silero-vad`` is not importable (installed with ``--no-deps``), :func:`vad_available` is False and the
detector falls back to the loudness rule with a warning (docs/scoring.md, "Abstaining").
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from avanomaly.conventions import SAMPLE_RATE

#: samples per VAD window at 16 kHz (fixed by the model)
WINDOW_SAMPLES = 512
#: silero's speech probability threshold (its default)
SPEECH_THRESHOLD = 0.5
INSTALL_HINT = "pip install silero-vad==6.2.3"

_POOL: list = []
_POOL_LOCK = threading.Lock()


def vad_available() -> bool:
    """True when the ``silero_vad`` package can be imported here."""
    try:
        _silero()
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _one_thread():
    import torch

    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _silero():
    """The ``silero_vad`` module, imported without keeping its process-wide ``torch.set_num_threads(1)``."""
    import sys

    module = sys.modules.get("silero_vad")
    if module is not None:
        return module
    import torch

    before = torch.get_num_threads()
    try:
        import silero_vad as module
    finally:
        torch.set_num_threads(before)
    return module


def _acquire():
    with _POOL_LOCK:
        if _POOL:
            return _POOL.pop()
    with _one_thread():
        return _silero().load_silero_vad(onnx=False)


def _release(model) -> None:
    model.reset_states()
    with _POOL_LOCK:
        _POOL.append(model)


def _check_rate(sample_rate: int) -> None:
    if int(sample_rate) != SAMPLE_RATE:
        raise ValueError(f"the speech detector needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")


class SpeechMeter:
    """Streaming speech measure: ``push(audio)`` (mono float, 16 kHz) any number of times, then ``seconds()``.

    Equals :func:`speech_seconds` of everything pushed. Holds one pooled model from the first push to
    ``seconds()`` (or ``close()``), and one float per 32 ms window."""

    def __init__(self, sample_rate: int = SAMPLE_RATE):
        _check_rate(sample_rate)
        self.sample_rate = int(sample_rate)
        self._model = None
        self._rest = np.zeros(0, np.float32)  # samples not yet a whole window
        self._probs: list[float] = []
        self._n = 0  # samples pushed
        self._done: float | None = None

    def push(self, audio) -> None:
        if self._done is not None:
            raise RuntimeError("SpeechMeter.push after seconds(): use a new meter per clip")
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono (N,), got shape {audio.shape}")
        if not audio.size:
            return
        self._n += audio.size
        x = np.concatenate([self._rest, audio]) if self._rest.size else audio
        whole = (x.size // WINDOW_SAMPLES) * WINDOW_SAMPLES
        self._run(x[:whole])
        self._rest = x[whole:].copy()

    def _run(self, x: np.ndarray) -> None:
        if not x.size:
            return
        import torch

        if self._model is None:
            self._model = _acquire()
        windows = torch.from_numpy(np.ascontiguousarray(x)).reshape(-1, WINDOW_SAMPLES)
        with _one_thread(), torch.inference_mode():
            for w in windows:
                self._probs.append(float(self._model(w, self.sample_rate).item()))

    def seconds(self) -> float:
        """Seconds of speech in everything pushed (the meter is finished afterwards)."""
        if self._done is None:
            if self._rest.size:  # the last partial window, zero-padded as get_speech_timestamps does
                self._run(np.pad(self._rest, (0, WINDOW_SAMPLES - self._rest.size)))
                self._rest = np.zeros(0, np.float32)
            self._done = _segments_seconds(self._probs, self._n, self.sample_rate)
            self.close()
        return self._done

    def close(self) -> None:
        """Give the model back to the pool (idempotent)."""
        if self._model is not None:
            _release(self._model)
            self._model = None


def _segments_seconds(probs: list[float], n_samples: int, sample_rate: int) -> float:
    if not probs:
        return 0.0
    segments = _silero().get_speech_timestamps_from_probs(probs, sampling_rate=sample_rate,
                                                          threshold=SPEECH_THRESHOLD,
                                                          audio_length_samples=n_samples)
    return float(sum(s["end"] - s["start"] for s in segments)) / sample_rate


def speech_seconds(waveform16k, sample_rate: int = SAMPLE_RATE) -> float:
    """Seconds of speech in ``waveform16k`` (N,) float in [-1, 1] at 16 kHz (silero ``get_speech_timestamps``)."""
    _check_rate(sample_rate)
    audio = np.asarray(waveform16k, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (N,), got shape {audio.shape}")
    if not audio.size:
        return 0.0
    import torch

    model = _acquire()
    try:
        with _one_thread(), torch.inference_mode():
            segments = _silero().get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(audio)), model,
                                                       threshold=SPEECH_THRESHOLD, sampling_rate=sample_rate)
    finally:
        _release(model)
    return float(sum(s["end"] - s["start"] for s in segments)) / sample_rate
