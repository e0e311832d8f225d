"""Temporal blocks over an embedding sequence (B, T, D) -> (B, T, D); any T (no maximum length).

* ``transformer``: pre-norm transformer layers; positions enter only through an ALiBi relative bias
  (-slope_h * |i - j|; causal variant masks j > i), so the block works for any T and is translation
  invariant. Encoders use it bidirectionally within the window; the AR model uses the causal variant.
* ``mamba``: pre-norm residual Mamba blocks (avanomaly.models.mamba). Mamba is causal; as an encoder it is
  made bidirectional by running a second block on the time-reversed sequence and summing.
* ``none``: identity.
"""

from __future__ import annotations


import torch
import torch.nn as nn
import torch.nn.functional as F

from avanomaly.models.mamba import Mamba
from avanomaly.models.registry import register_temporal

MLP_RATIO = 4


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Geometric slopes 2^(-8 i / H), i = 1..H (Press et al., ALiBi)."""
    return torch.tensor([2.0 ** (-8.0 * (i + 1) / n_heads) for i in range(n_heads)])


def attention_bias(T: int, slopes: torch.Tensor, causal: bool, device=None, dtype=torch.float32) -> torch.Tensor:
    """(H, T, T) additive attention bias: -slope * |i - j|, and -inf for j > i when causal."""
    pos = torch.arange(T, device=device)
    dist = (pos[:, None] - pos[None, :]).abs().to(dtype)  # (T, T)
    bias = -slopes.to(device=device, dtype=dtype)[:, None, None] * dist  # (H, T, T)
    if causal:
        bias = bias.masked_fill(pos[None, :] > pos[:, None], float("-inf"))
    return bias


class SelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, dropout: float):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim {dim} must be divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x, bias):
        # x: (B, T, D), bias: (H, T, T) -> (B, T, D)
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)  # (B, H, T, hd)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype).unsqueeze(0),
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, hd)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, n_heads: int, dropout: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, n_heads, dropout)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, MLP_RATIO * dim), nn.GELU(), nn.Linear(MLP_RATIO * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, bias):
        x = x + self.drop(self.attn(self.ln1(x), bias))
        return x + self.drop(self.mlp(self.ln2(x)))


class Transformer(nn.Module):
    """Stack of pre-norm layers with ALiBi bias, final LayerNorm. (B, T, D) -> (B, T, D)."""

    def __init__(self, dim: int, layers: int, heads: int, dropout: float = 0.0, causal: bool = False):
        super().__init__()
        self.causal = causal
        self.layers = nn.ModuleList([TransformerLayer(dim, heads, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dim)
        self.register_buffer("slopes", alibi_slopes(heads), persistent=False)

    def forward(self, x):
        bias = attention_bias(x.shape[1], self.slopes, self.causal, device=x.device, dtype=x.dtype)  # (H, T, T)
        for layer in self.layers:
            x = layer(x, bias)
        return self.ln_f(x)


class MambaStack(nn.Module):
    """Pre-norm residual Mamba blocks; bidirectional = forward block + block on the reversed sequence."""

    def __init__(self, dim: int, layers: int, bidirectional: bool = True, d_state: int = 16):
        super().__init__()
        self.bidirectional = bidirectional
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(layers)])
        self.fwd = nn.ModuleList([Mamba(dim, d_state=d_state) for _ in range(layers)])
        self.bwd = nn.ModuleList([Mamba(dim, d_state=d_state) for _ in range(layers)]) if bidirectional else None
        self.ln_f = nn.LayerNorm(dim)

    def forward(self, x):
        # x: (B, T, D) -> (B, T, D)
        for i, norm in enumerate(self.norms):
            h = norm(x)
            y = self.fwd[i](h)
            if self.bwd is not None:
                y = y + self.bwd[i](h.flip(1)).flip(1)
            x = x + y
        return self.ln_f(x)


@register_temporal("transformer")
def transformer(dim: int, layers: int, heads: int, dropout: float = 0.0, causal: bool = False, **_):
    return Transformer(dim, layers, heads, dropout, causal)


@register_temporal("mamba")
def mamba(dim: int, layers: int, causal: bool = False, **_):
    return MambaStack(dim, layers, bidirectional=not causal)


@register_temporal("none")
def identity(**_):
    return nn.Identity()


