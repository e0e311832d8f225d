"""SyncModel: mouth windows + mel windows -> L2-normalised embeddings -> sync logits over offsets [-K, K].

Shapes (docs/architecture.md): B batch, T frames, D embedding size, K max offset, O = 2K+1, S crop, M mel bins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from avanomaly.conventions import DEFAULT_MAX_OFFSET, MEL_PER_FRAME, PIXEL_MAX
from avanomaly.errors import ConfigError
from avanomaly.models.backbones import AUDIO_WINDOW, VISUAL_WINDOW
from avanomaly.models.registry import create_backbone, create_temporal, register_model

CONTEXT_FRAMES = VISUAL_WINDOW - 1  # an input of T+4 frames gives T windows (2 frames of context each side)
PIXEL_MEAN = 0.5  # mouths arrive in [0, 1]; centred and scaled to roughly unit variance
PIXEL_STD = 0.25
MEL_EPS = 1e-5  # floor of the per-clip std in the mel normalisation
#: floor of the per-pass std of lip features (inter-ocular units; a still mouth moves ~1e-3)
FEATURE_STD_FLOOR = 1e-2
#: pixel scale of uint8 mouth crops
MAX_LOGIT_SCALE = 100.0  # upper bound of 1 / temperature (CLIP-style clamp)


@dataclass
class SyncModelConfig:
    visual_backbone: str = "syncnet_small"
    audio_backbone: str = "audio_small"
    dim: int = 128  # D
    width: int = 32  # base channel width of the small CNN backbones
    temporal: str = "transformer"  # "transformer" | "mamba" | "none"
    temporal_layers: int = 2  # 0 = no temporal block
    temporal_heads: int = 4
    dropout: float = 0.1
    max_offset: int = DEFAULT_MAX_OFFSET  # K, offsets d in [-K, K] (+-0.6 s at 25 fps)
    crop_size: int = 64  # S
    in_features: int = 0  # F of per-frame feature vectors (landmarks front end: 98); 0 = pixel crops (S, S)
    n_mels: int = 80  # M
    temperature: float = 0.07  # logits = cosine / temperature
    learn_temperature: bool = True
    feature_embed_dim: int = 0  # E: projected AV embedding appended to the AR features (0 = delays only)


@register_model("sync", SyncModelConfig)
class SyncModel(nn.Module):
    def __init__(self, config: SyncModelConfig):
        super().__init__()
        c = self.config = config
        if c.max_offset < 0 or c.dim <= 0 or c.feature_embed_dim < 0:
            raise ConfigError(f"SyncModelConfig: invalid max_offset/dim/feature_embed_dim in {c}")
        self.visual = create_backbone("visual", c.visual_backbone, dim=c.dim, width=c.width, crop_size=c.crop_size,
                                      in_features=c.in_features)
        self.audio = create_backbone("audio", c.audio_backbone, dim=c.dim, width=c.width, n_mels=c.n_mels)
        self.visual_temporal = self._temporal()
        self.audio_temporal = self._temporal()
        init_scale = math.log(1.0 / c.temperature)
        if c.learn_temperature:
            self.logit_scale = nn.Parameter(torch.tensor(init_scale))
        else:
            self.register_buffer("logit_scale", torch.tensor(init_scale))
        self.feature_proj = nn.Linear(2 * c.dim, c.feature_embed_dim) if c.feature_embed_dim else None

    def _temporal(self):
        c = self.config
        if c.temporal == "none" or c.temporal_layers == 0:
            return nn.Identity()
        return create_temporal(c.temporal, dim=c.dim, layers=c.temporal_layers, heads=c.temporal_heads,
                               dropout=c.dropout, causal=False)

    @property
    def n_offsets(self) -> int:
        return 2 * self.config.max_offset + 1

    @property
    def feature_dim(self) -> int:
        """F of sync_features: O delay probabilities (+ E projected AV embedding)."""
        return self.n_offsets + self.config.feature_embed_dim

    @property
    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    # ---- encoders --------------------------------------------------------------------------------------------
    def embed_visual(self, mouths: torch.Tensor) -> torch.Tensor:
        """mouths (B, T+4, S, S) float in [0, 1] or lip features (B, T+4, F) (frames t-2 .. t+T+1)
        -> v (B, T, D), unit norm."""
        B, T4 = mouths.shape[:2]
        T = T4 - CONTEXT_FRAMES
        if T < 1:
            raise ValueError(f"embed_visual needs >= {CONTEXT_FRAMES + 1} frames, got {T4}")
        if (mouths.dim() == 3) != (self.config.in_features > 0):
            wants = "(B, T, F) feature vectors" if self.config.in_features else "(B, T, S, S) crops"
            raise ValueError(f"this model takes {wants}, got {tuple(mouths.shape)} (front end and model do not match)")
        if mouths.dim() == 3:  # (B, T+4, F) per-frame features
            x = self.normalize_features(mouths)
            win = x.unfold(1, VISUAL_WINDOW, 1)  # (B, T, F, 5)
            win = win.transpose(2, 3).reshape(B * T, VISUAL_WINDOW, -1)  # (B*T, 5, F)
        else:
            S = mouths.shape[-1]
            x = (mouths - PIXEL_MEAN) / PIXEL_STD
            win = x.unfold(1, VISUAL_WINDOW, 1)  # (B, T, S, S, 5)
            win = win.permute(0, 1, 4, 2, 3).reshape(B * T, VISUAL_WINDOW, S, S)  # (B*T, 5, S, S)
        v = self.visual(win).view(B, T, -1)  # (B, T, D)
        v = self.visual_temporal(v)  # (B, T, D)
        return F.normalize(v, dim=-1)

    def embed_audio(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, 4(T+4), M) log-mel (mel frames 4(t-2) ..) -> a (B, T, D), unit norm.

        Per-clip normalisation: subtract each bin's mean over the clip's frames, divide by the clip's overall std.
        """
        B, L, M = mel.shape
        if L % MEL_PER_FRAME:
            raise ValueError(f"embed_audio needs a multiple of {MEL_PER_FRAME} mel frames, got {L}")
        T = L // MEL_PER_FRAME - CONTEXT_FRAMES
        if T < 1:
            raise ValueError(f"embed_audio needs >= {MEL_PER_FRAME * (CONTEXT_FRAMES + 1)} mel frames, got {L}")
        x = self.normalize_mel(mel)  # (B, L, M)
        win = x.unfold(1, AUDIO_WINDOW, MEL_PER_FRAME)  # (B, T, M, 20)
        win = win.transpose(2, 3).reshape(B * T, 1, AUDIO_WINDOW, M)  # (B*T, 1, 20, M)
        a = self.audio(win).view(B, T, -1)  # (B, T, D)
        a = self.audio_temporal(a)
        return F.normalize(a, dim=-1)

    @staticmethod
    def normalize_features(x: torch.Tensor) -> torch.Tensor:
        """(B, L, F) -> (B, L, F): minus each feature's mean over the pass, divided by the pass's overall std
        (floored). Removes the speaker's resting lip shape and their amplitude of articulation, as
        normalize_mel removes the channel and the gain."""
        x = x - x.mean(dim=1, keepdim=True)
        return x / x.std(dim=(1, 2), keepdim=True).clamp_min(FEATURE_STD_FLOOR)

    @staticmethod
    def normalize_mel(mel: torch.Tensor) -> torch.Tensor:
        """(B, L, M) -> (B, L, M): minus each bin's mean over the clip, divided by the clip's overall std.
        Removes a fixed per-bin response (microphone, channel) and the recording gain (log-mel offsets)."""
        x = mel - mel.mean(dim=1, keepdim=True)
        return x / (x.std(dim=(1, 2), keepdim=True) + MEL_EPS)

    # ---- sync ------------------------------------------------------------------------------------------------
    def sync_logits(self, v: torch.Tensor, a: torch.Tensor):
        """v, a (B, T, D) unit norm -> logits (B, T, O), valid_mask (B, T, O) bool.

        logits[b, t, K + d] = cos(v[b, t], a[b, t + d]) / temperature. Positions with t + d outside [0, T) are
        invalid; their logit is the mean of the valid logits of that frame (finite softmax everywhere).
        """
        B, T, D = v.shape
        K = self.config.max_offset
        O = self.n_offsets
        a_pad = F.pad(a, (0, 0, K, K))  # (B, T+2K, D)
        a_win = a_pad.unfold(1, O, 1)  # (B, T, D, O): a_win[b, t, :, K+d] = a[b, t+d]
        sim = torch.einsum("btd,btdo->bto", v, a_win)  # (B, T, O)
        mask = valid_offsets_mask(T, K, device=v.device).unsqueeze(0).expand(B, T, O)  # (B, T, O)
        logits = sim * self.scale
        fill = (logits * mask).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True)  # (B, T, 1) mean of the valid
        logits = torch.where(mask, logits, fill)
        return logits, mask

    def forward(self, mouths: torch.Tensor, mel: torch.Tensor) -> dict:
        """-> dict v (B,T,D), a (B,T,D), logits (B,T,O), mask (B,T,O) bool, features (B,T,F)."""
        v = self.embed_visual(mouths)  # (B, T, D)
        a = self.embed_audio(mel)  # (B, T, D)
        if v.shape[1] != a.shape[1]:
            raise ValueError(f"video gives {v.shape[1]} windows but audio gives {a.shape[1]}")
        logits, mask = self.sync_logits(v, a)
        out = {"v": v, "a": a, "logits": logits, "mask": mask}
        out["features"] = self.features_from_outputs(out)  # (B, T, F)
        return out

    def sync_features(self, mouths: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """(B, T+4, S, S), (B, 4(T+4), M) -> features (B, T, F), F = O (+ E).

        [:, :, :O] = softmax over offsets of the sync logits (the delay distribution; invalid offsets keep the
        mean logit, see sync_logits); [:, :, O:] = L2-normalised projection of concat(v, a) when
        feature_embed_dim > 0.
        """
        return self.forward(mouths, mel)["features"]

    def features_from_outputs(self, out: dict) -> torch.Tensor:
        """The AR features from forward's v, a and logits: (B, T, F)."""
        p = out["logits"].softmax(dim=-1)  # (B, T, O)
        if self.feature_proj is None:
            return p
        e = F.normalize(self.feature_proj(torch.cat([out["v"], out["a"]], dim=-1)), dim=-1)  # (B, T, E)
        return torch.cat([p, e], dim=-1)  # (B, T, O+E)

    # ---- SyncNet-style summary ---------------------------------------------------------------------------------
    def offset_confidence(self, logits: torch.Tensor, mask: torch.Tensor):
        """logits, mask (B, T, O) -> (offset (B,) long frames, confidence (B,) float).

        curve[o] = mean over valid frames of cos(v_t, a_{t+d}); offset = argmax - K (audio delayed by n frames
        -> +n); confidence = max(curve) - median(curve). SyncNet's distances give offset = argmin, conf =
        median - min; with similarities (= -distance up to scale) the two are the same statistic.
        """
        curve = self.offset_curve(logits, mask)  # (B, O)
        best = torch.nan_to_num(curve, nan=-math.inf).max(dim=-1)
        conf = best.values - torch.nanmedian(curve, dim=-1).values
        return best.indices - self.config.max_offset, conf

    def offset_curve(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, O) -> mean cosine similarity per offset (B, O); NaN where no frame is valid."""
        cos = logits / self.scale.detach()
        m = mask.to(cos.dtype)
        return (cos * m).sum(1) / m.sum(1)  # 0/0 -> NaN for offsets with no valid frame

    def framewise_confidence(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, O) -> (B, T): per frame, max - median of the cosine similarities over the valid offsets."""
        cos = (logits / self.scale.detach()).masked_fill(~mask, float("nan"))
        best = torch.nan_to_num(cos, nan=-math.inf).max(dim=-1).values
        return best - torch.nanmedian(cos, dim=-1).values


def visual_tensor(mouths, device=None) -> torch.Tensor:
    """Cached/streamed visual input (ndarray or tensor) -> float tensor on ``device``: uint8 crops scaled to
    [0, 1], float lip features unchanged. The one place the pixel scale is applied."""
    x = mouths if isinstance(mouths, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(mouths))
    x = x.to(device) if device is not None else x
    return x.float().div_(PIXEL_MAX) if x.dtype == torch.uint8 else x.float()


def sync_features(out: dict) -> torch.Tensor:
    """The AR features (B, T, F) of a SyncModel.forward output (same as SyncModel.sync_features)."""
    return out["features"]


def valid_offsets_mask(T: int, K: int, device=None) -> torch.Tensor:
    """(T, 2K+1) bool: True where 0 <= t + d < T."""
    t = torch.arange(T, device=device)[:, None]
    d = torch.arange(-K, K + 1, device=device)[None, :]
    return (t + d >= 0) & (t + d < T)
