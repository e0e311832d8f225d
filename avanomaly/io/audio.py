"""The audio reader: 16 kHz (``sample_rate``) mono float32 samples for output times ``start + k / sample_rate``,
placed by the decoded audio frames' timestamps (gaps filled with zeros, see :mod:`avanomaly.io.clip`)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from avanomaly.errors import CorruptMediaError
from avanomaly.io.container import PARTIAL_HINT, SEEK_MARGIN_S, _check_decodable, _open, _seek
from avanomaly.io.fold import _gap_warning, _overlap_warning

#: a gap or overlap in audio timestamps larger than this is reported (and a gap filled with zeros)
AUDIO_GAP_TOLERANCE_S = 0.010
#: audio is decoded from the file start (cheap) unless ``start`` is later than this: resampling then
#: starts on the same sample grid, so ``load_clip(start=s)`` equals the matching slice of the whole clip
#: (after a seek the resampler's phase may differ by a fraction of a sample)
AUDIO_SEEK_MIN_S = 60.0


class _AudioReader:
    """Mono float32 samples at ``sample_rate`` for output times ``start + k / sample_rate`` (k >= 0)."""

    def __init__(self, path: Path, sample_rate: int, start: float, origin_hint: Fraction | None,
                 allow_partial: bool, warnings: list[str]):
        import av

        self.path = path
        self.sample_rate = sample_rate
        self.start = float(start)
        self.allow_partial = allow_partial
        self.warnings = warnings
        self.container = _open(path)
        self.stream = self.container.streams.audio[0]
        _check_decodable(path, self.stream)
        for other in self.container.streams:
            if other.index != self.stream.index:
                other.discard = av.stream.Discard.all
        self.origin = origin_hint
        # resample each channel (planar float), then average the channels ourselves: a stereo
        # signal's amplitude is preserved (libswresample's own downmix scales by 1/sqrt(2) per channel)
        self.resampler = av.AudioResampler(format="fltp", rate=sample_rate)
        self.n_decoded = 0  # output samples emitted (after leading pad / trim)
        self.n_input_frames = 0
        self.ended = False
        self._gen = None
        if self.start > AUDIO_SEEK_MIN_S and origin_hint is not None:
            _seek(self.container, max(0.0, float(origin_hint) + self.start - SEEK_MARGIN_S))

    def close(self) -> None:
        self.container.close()

    def _raw(self) -> Iterator[np.ndarray]:
        """Resampled mono blocks, in order, starting at output sample 0 (leading zeros / trim applied)."""
        import av

        next_pos = None  # position (in output samples, relative to start) of the next resampled sample
        to_skip = 0
        demux = self.container.demux(self.stream)
        while True:
            try:
                packet = next(demux)
                frames = packet.decode()
            except StopIteration:
                frames, packet = None, None
            except av.error.FFmpegError as exc:
                self._fail(f"audio decoding failed ({type(exc).__name__}: {exc})")
                frames, packet = None, None
            if frames is None:
                out_frames = self.resampler.resample(None)
            else:
                out_frames = []
                for frame in frames:
                    self.n_input_frames += 1
                    if next_pos is None:
                        t0 = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                        if self.origin is None:
                            self.origin = Fraction(0)
                        rel = t0 - float(self.origin) - self.start
                        next_pos = int(round(rel * self.sample_rate))
                        if next_pos > 0:
                            yield np.zeros(next_pos, dtype=np.float32)
                        else:
                            to_skip = -next_pos
                        self._input_expected = t0
                    elif frame.pts is not None:
                        t = float(frame.pts * frame.time_base)
                        gap = t - self._input_expected
                        if gap > AUDIO_GAP_TOLERANCE_S:
                            self.warnings.append(_gap_warning(gap * 1000, t - float(self.origin)))
                            yield np.zeros(int(round(gap * self.sample_rate)), dtype=np.float32)
                        elif gap < -AUDIO_GAP_TOLERANCE_S:
                            self.warnings.append(_overlap_warning(-gap * 1000, t - float(self.origin)))
                        self._input_expected = t
                    self._input_expected += frame.samples / frame.sample_rate
                    frame.pts = None  # the resampler keeps its own clock; we place samples ourselves
                    try:
                        out_frames.extend(self.resampler.resample(frame))
                    except ValueError:  # sample rate / layout changed mid-stream: drain, start a new resampler
                        out_frames.extend(self.resampler.resample(None))
                        self.warnings.append(
                            f"audio format changed mid-stream ({frame.sample_rate} Hz, {frame.layout.name}); resampler restarted"
                        )
                        self.resampler = av.AudioResampler(format="fltp", rate=self.sample_rate)
                        out_frames.extend(self.resampler.resample(frame))
            for of in out_frames:
                planes = of.to_ndarray()  # (C, n) float32
                block = planes[0] if planes.shape[0] == 1 else planes.mean(axis=0, dtype=np.float32)
                if to_skip:
                    cut = min(to_skip, block.size)
                    block, to_skip = block[cut:], to_skip - cut
                if block.size:
                    yield block
            if frames is None:
                return

    def _fail(self, message: str) -> None:
        where = f"after {self.n_decoded / self.sample_rate:.2f} s of audio"
        if not self.allow_partial:
            raise CorruptMediaError(self.path, f"{message} {where}", hint=PARTIAL_HINT)
        self.warnings.append(f"partial decode: {message} {where}; the rest of the audio is zeros")

    def read(self, n: int) -> np.ndarray:
        """Next ``n`` samples (zeros once the audio has ended)."""
        if self._gen is None:
            self._gen = self._raw()
            self._buf: list[np.ndarray] = []
            self._buf_len = 0
        while self._buf_len < n and not self.ended:
            try:
                block = next(self._gen)
            except StopIteration:
                self.ended = True
                break
            self._buf.append(block)
            self._buf_len += block.size
        data = np.concatenate(self._buf) if self._buf else np.zeros(0, dtype=np.float32)
        out, rest = data[:n], data[n:]
        self._buf, self._buf_len = ([rest] if rest.size else []), rest.size
        real = out.size
        self.n_decoded += real
        if real < n:
            out = np.concatenate([out, np.zeros(n - real, dtype=np.float32)])
        return out
