"""AnomalyModel: the two stages as one module, and the ONE function from frames to per-frame NLL.

    visual (T, S, S) uint8 crops or (T, F) lip features, mel (4T, M)
      -> SyncStream: sync-model passes on fixed windows of ``window`` frames with ``margin`` frames of real
         context each side (positions depend only on frame indices)   -> sync features (T, F), logits/mask (T, O)
      -> ARStream: the AR model over the features with its bounded causal context (chunks of ``context``
         predictions every ``stride`` steps)                           -> NLL of frames 1..T-1 (T-1,)

Everything that turns features into scores uses this: the ``Detector`` (streamed files and cached features),
training's calibration (through the Detector), evaluation and the baselines (``sync_logits``), and
``ARModel.score_sequence`` is the same ``ARStream`` run on a whole batch. Streams accept any chunking and give
the same numbers (unit tests); memory is bounded by ``window + 2 margin`` frames and ``context`` features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from avanomaly.conventions import MEL_PER_FRAME, SYNC_WINDOW_CONTEXT

#: frames per sync-model pass (fixed windows; the features do not depend on how the input was chunked)
DEFAULT_SYNC_WINDOW = 500
#: sync passes carry this many frames of real context beyond the +-K offsets and the 5-frame window
SYNC_EXTRA_CONTEXT = 25
#: sync-model arithmetic: fp32 (what calibration used) or bf16 autocast (opt-in, faster on CPUs with
#: AVX512-BF16/AMX and on GPUs; scores move by ~0.01 nats, docs/scoring.md)
PRECISIONS = ("fp32", "bf16")


def default_margin(max_offset: int) -> int:
    """Context frames each side of a sync window: every frame sees all its offsets and its 5-frame window
    (K + 2), plus SYNC_EXTRA_CONTEXT frames for the temporal block and the per-window normalisation."""
    return int(max_offset) + SYNC_WINDOW_CONTEXT + SYNC_EXTRA_CONTEXT


class SyncStream:
    """Sync-model outputs for consecutive frames, computed on fixed windows with real context on each side.

    Frames ``[e, e + window)`` come from one pass over ``[e - margin, e + window + margin)`` (clipped to the
    clip; the clip's own edge frames are replicated for the 5-frame context, as ``CachedClip.window`` does in
    training). ``featurize(visual (L+4, ...), mel (4(L+4), M)) -> (feats (L, F) tensor, logits (L, O) ndarray,
    mask (L, O) ndarray)``.
    """

    def __init__(self, featurize, window: int, margin: int):
        self.featurize = featurize
        self.window = int(window)
        self.margin = int(margin)
        self.visual: np.ndarray | None = None  # (N, ...): global frames base .. base+N
        self.mel: np.ndarray | None = None  # (4N, M) float32
        self.base = 0
        self.emitted = 0

    @property
    def total(self) -> int:
        return self.base + (0 if self.visual is None else self.visual.shape[0])

    def push(self, visual: np.ndarray, mel: np.ndarray):
        mel = np.asarray(mel, dtype=np.float32)
        self.visual = visual if self.visual is None else np.concatenate([self.visual, visual])
        self.mel = mel if self.mel is None else np.concatenate([self.mel, mel])
        # a pass needs `margin` frames after the window plus the 5-frame context of its last frame
        while self.total - self.emitted >= self.window + self.margin + SYNC_WINDOW_CONTEXT:
            yield self._emit(self.emitted + self.window)

    def flush(self):
        while self.emitted < self.total:
            yield self._emit(min(self.total, self.emitted + self.window))

    def _emit(self, end: int) -> tuple:
        lo = max(0, self.emitted - self.margin)
        hi = min(self.total, end + self.margin)
        idx = np.clip(np.arange(lo - SYNC_WINDOW_CONTEXT, hi + SYNC_WINDOW_CONTEXT), 0, self.total - 1) - self.base
        assert idx.min() >= 0, "left context was dropped too early"
        mel_idx = (MEL_PER_FRAME * idx[:, None] + np.arange(MEL_PER_FRAME)[None, :]).ravel()
        feats, logits, mask = self.featurize(self.visual[idx], self.mel[mel_idx])
        k0, k1 = self.emitted - lo, end - lo
        out = (feats[k0:k1], logits[k0:k1], mask[k0:k1])
        self.emitted = end
        drop = max(0, self.emitted - self.margin - SYNC_WINDOW_CONTEXT - self.base)  # keep the left context
        if drop:
            self.visual = self.visual[drop:]
            self.mel = self.mel[MEL_PER_FRAME * drop:]
            self.base += drop
        return out


class ARStream:
    """The AR model's per-step terms over consecutive feature frames with a bounded causal context.

    Prediction ``i`` (of frame ``i + 1``) comes from the chunk of inputs ``[s, s + context]``; the first chunk
    gives predictions ``[0, context)``, later chunks start every ``stride`` predictions and give only their last
    ``stride``, so every step sees between ``context - stride + 1`` and ``context`` steps. Features (B, L, F) are
    pushed in any chunking; ``push`` / ``flush`` return lists of term dicts ((B, n) tensors, ``log_q`` (B, n, O)).
    """

    def __init__(self, ar_model, context: int | None = None, stride: int | None = None, targets=None):
        self.ar = ar_model
        self.context = int(context or ar_model.config.context)
        self.stride = int(stride or min(ar_model.stride, self.context))
        self.buf: torch.Tensor | None = None  # (B, L, F): global steps base .. base+L
        self.targets = targets  # optional (B, T, O) whole-sequence targets (training's score_sequence)
        self.base = 0
        self.s = 0  # first input of the next chunk
        self.done = 0  # predictions emitted so far

    @property
    def total(self) -> int:
        return self.base + (0 if self.buf is None else self.buf.shape[1])

    def push(self, feats: torch.Tensor) -> list[dict]:
        self.buf = feats if self.buf is None else torch.cat([self.buf, feats], dim=1)
        out = []
        while self.s + self.context + 1 <= self.total:  # a full chunk of inputs [s, s + context] is here
            out.append(self._chunk(self.s + self.context))
        return out

    def flush(self) -> list[dict]:
        n = self.total - 1  # number of predictions of the whole sequence
        out = []
        while self.done < n:
            out.append(self._chunk(min(self.s + self.context, n)))
        return out

    def _chunk(self, e: int) -> dict:
        """Predictions [done, e) from inputs [s, e]."""
        x = self.buf[:, self.s - self.base:e + 1 - self.base]  # (B, e - s + 1, F)
        tg = None if self.targets is None else self.targets[:, self.s:e + 1]
        terms = self.ar.step_terms(x, tg)
        keep = self.done - self.s
        out = {k: v[:, keep:] for k, v in terms.items()}
        self.done = e
        self.s = self.done + self.stride - self.context
        drop = max(0, self.s - self.base)
        if drop:
            self.buf = self.buf[:, drop:]
            self.base += drop
        return out


@dataclass
class FrameScores:
    """Per-frame outputs of a clip: ``nll`` (T-1,) of frames 1..T-1, sync ``logits`` and valid ``mask`` (T, O)."""

    nll: np.ndarray
    logits: np.ndarray
    mask: np.ndarray


class FrameScorer:
    """Streams frames through an :class:`AnomalyModel`: ``push(visual, mel)`` any number of times, then
    ``finish() -> FrameScores``. Per-frame NLL and logits are kept (a few floats per frame); frames are not."""

    def __init__(self, model: "AnomalyModel", window: int, margin: int, precision: str, device):
        self.model = model
        self.device = device
        self.precision = precision
        self.sync = SyncStream(self._featurize, window, margin)
        self.ar = ARStream(model.ar)
        self.nll: list[np.ndarray] = []
        self.logits: list[np.ndarray] = []
        self.mask: list[np.ndarray] = []

    @torch.inference_mode()
    def _featurize(self, visual: np.ndarray, mel: np.ndarray):
        out = sync_pass(self.model.sync, visual, mel, self.device, self.precision)
        return out["features"][0].float(), out["logits"][0].float().cpu().numpy(), out["mask"][0].cpu().numpy()

    @torch.inference_mode()
    def _consume(self, outs) -> None:
        for feats, logits, mask in outs:
            for terms in self.ar.push(feats[None].to(self.device)):
                self.nll.append(terms["nll"][0].float().cpu().numpy())
            self.logits.append(logits)
            self.mask.append(mask)

    def push(self, visual: np.ndarray, mel: np.ndarray) -> None:
        self._consume(self.sync.push(visual, mel))

    @torch.inference_mode()
    def finish(self) -> FrameScores:
        self._consume(self.sync.flush())
        for terms in self.ar.flush():
            self.nll.append(terms["nll"][0].float().cpu().numpy())
        nll = np.concatenate(self.nll).astype(np.float64) if self.nll else np.zeros(0)
        return FrameScores(nll=nll, logits=np.concatenate(self.logits), mask=np.concatenate(self.mask))


class AnomalyModel(nn.Module):
    """Sync model (stage 1) + AR model (stage 2) as one module. The models stay separate ``nn.Module``s (they are
    trained in two stages); this owns how a clip goes through them."""

    def __init__(self, sync: nn.Module, ar: nn.Module):
        super().__init__()
        self.sync = sync
        self.ar = ar

    @property
    def max_offset(self) -> int:
        return int(self.sync.config.max_offset)

    def scorer_settings(self, window: int = DEFAULT_SYNC_WINDOW, margin: int | None = None,
                        precision: str = "fp32") -> tuple[int, int, str]:
        """Checked (window, margin, precision) for :meth:`scorer` (margin None: ``default_margin``); ValueError
        names a bad one. Callers that keep settings (the Detector) check them once, at construction."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        min_margin = self.max_offset + SYNC_WINDOW_CONTEXT
        margin = default_margin(self.max_offset) if margin is None else int(margin)
        if margin < min_margin:
            raise ValueError(f"sync margin must be >= K + {SYNC_WINDOW_CONTEXT} = {min_margin}, got {margin}")
        if window < 1:
            raise ValueError(f"sync window must be >= 1, got {window}")
        return int(window), margin, precision

    def scorer(self, window: int = DEFAULT_SYNC_WINDOW, margin: int | None = None, precision: str = "fp32",
               device=None) -> FrameScorer:
        """A fresh :class:`FrameScorer` for one clip."""
        window, margin, precision = self.scorer_settings(window, margin, precision)
        device = device if device is not None else next(self.parameters()).device
        return FrameScorer(self, window, margin, precision, torch.device(device))


def ar_config_for(sync_config, ar_config):
    """The AR config with its input size taken from the sync config: O = 2 max_offset + 1 delay probabilities,
    F = O + feature_embed_dim. Fields left None are filled; set fields that disagree raise ConfigError (a
    mismatch is never rewritten silently)."""
    import dataclasses

    from avanomaly.errors import ConfigError

    n_offsets = 2 * int(sync_config.max_offset) + 1
    need = {"n_offsets": n_offsets, "in_features": n_offsets + int(getattr(sync_config, "feature_embed_dim", 0))}
    wrong = {k: getattr(ar_config, k) for k, v in need.items() if getattr(ar_config, k) not in (None, v)}
    if wrong:
        raise ConfigError(f"ar.{', ar.'.join(wrong)} = {list(wrong.values())} disagree with the sync model "
                          f"({need}: O = 2 * sync.max_offset + 1, F = O + sync.feature_embed_dim); leave them unset")
    return dataclasses.replace(ar_config, **need)


def sync_pass(sync_model, visual: np.ndarray, mel: np.ndarray, device, precision: str = "fp32") -> dict:
    """One sync-model pass over a window: visual (L+4, S, S) uint8 or (L+4, F), mel (4(L+4), M) -> the model's
    output dict for a batch of one (``features`` / ``logits`` / ``mask`` (1, L, .)); ``precision`` "bf16" runs it
    under bf16 autocast."""
    from avanomaly.models.sync import visual_tensor

    device = torch.device(device)
    v = visual_tensor(visual, device)[None]  # (1, L+4, S, S) or (1, L+4, F)
    a = torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32)).to(device)[None]  # (1, 4(L+4), M)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        return sync_model(v, a)


@torch.inference_mode()
def sync_logits(sync_model, visual, mel, window: int = DEFAULT_SYNC_WINDOW, margin: int | None = None,
                device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-clip sync logits and valid mask (T, O) of the sync model alone (the baselines' input), computed by
    the same windows as scoring."""
    k = int(sync_model.config.max_offset)
    dev = torch.device(device) if device is not None else next(sync_model.parameters()).device

    def featurize(v, a):
        out = sync_pass(sync_model, v, a, dev)
        logits = out["logits"][0].float().cpu()
        return logits, logits, out["mask"][0].cpu()  # no AR features needed: the logits stand in

    stream = SyncStream(featurize, window, default_margin(k) if margin is None else margin)
    parts = list(stream.push(np.asarray(visual), np.asarray(mel, dtype=np.float32))) + list(stream.flush())
    return torch.cat([p[1] for p in parts]), torch.cat([p[2] for p in parts])
