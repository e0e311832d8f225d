"""ARModel: causal transformer over sync features (B, T, F) predicting step t+1's delay distribution.

features[..., :O] is the observed delay distribution p_t (softmax over the O offsets); features[..., O:]
(E = F - O dims, optional) a projected AV embedding e_t. Per step t (0 <= t < T-1), from steps <= t:
    q_t = softmax(head(h_t))                  categorical over offsets for step t+1
    CE_t  = -sum_o p_{t+1}(o) log q_t(o)      (the NLL, returned by forward)
    KL_t  = CE_t - H(p_{t+1})                 (AVAD's score)
    embed head (optional): + Gaussian NLL of e_{t+1} under N(mu_t, diag exp(logvar_t))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from avanomaly.errors import ConfigError
from avanomaly.models.registry import register_model
from avanomaly.models.temporal import Transformer

LOG_2PI = math.log(2 * math.pi)
MIN_LOGVAR = -7.0  # clamp of the Gaussian head's log-variance (std in [0.03, 12])
MAX_LOGVAR = 5.0
PROB_EPS = 1e-12  # in p log p of the entropy


@dataclass
class ARModelConfig:
    # F and O come from the sync model: ``ar_config_for(sync_config, ar_config)`` (models/composite.py) fills them
    # (O = 2K + 1 delays, F = O + the sync model's feature_embed_dim); None = not derived yet
    in_features: int | None = None  # F
    n_offsets: int | None = None  # O: the first O features are the delay distribution
    d_model: int = 128
    n_layers: int = 6
    n_heads: int = 4
    dropout: float = 0.1
    context: int = 256  # steps seen by each prediction when scoring long sequences
    score_stride: int = 0  # sliding-window stride for T > context (0 = context // 4)
    family: str = "categorical"
    embed_head: bool = False  # Gaussian head on features[..., n_offsets:]


@register_model("ar", ARModelConfig)
class ARModel(nn.Module):
    def __init__(self, config: ARModelConfig):
        super().__init__()
        c = self.config = config
        if c.in_features is None or c.n_offsets is None:
            raise ConfigError("ARModelConfig.in_features / n_offsets are derived from the sync model: build the "
                              "config with avanomaly.models.ar_config_for(sync_config, ar_config) or set both")
        if c.family != "categorical":
            raise ConfigError(f"ARModelConfig.family: only 'categorical' is implemented, got {c.family!r}")
        if not 0 < c.n_offsets <= c.in_features:
            raise ConfigError(f"ARModelConfig: need 0 < n_offsets ({c.n_offsets}) <= in_features ({c.in_features})")
        self.embed_dim = c.in_features - c.n_offsets
        if c.embed_head and self.embed_dim == 0:
            raise ConfigError("ARModelConfig.embed_head=True needs in_features > n_offsets (an embedding part)")
        if c.context < 1 or not 0 <= c.score_stride <= c.context:
            raise ConfigError(f"ARModelConfig: need context >= 1 and 0 <= score_stride <= context, got {c}")
        self.in_proj = nn.Linear(c.in_features, c.d_model)
        self.decoder = Transformer(c.d_model, c.n_layers, c.n_heads, c.dropout, causal=True)  # ALiBi positions
        self.head = nn.Linear(c.d_model, c.n_offsets)
        self.embed_out = nn.Linear(c.d_model, 2 * self.embed_dim) if c.embed_head else None

    @property
    def stride(self) -> int:
        return self.config.score_stride or max(1, self.config.context // 4)

    def forward(self, features: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """features (B, T, F) -> per-step NLL (B, T-1), unreduced. ``targets`` (B, T, O) replaces the observed
        delay distributions as targets. T > context is scored with the sliding context (score_sequence)."""
        return self.score_sequence(features, targets=targets)["nll"]

    def step_terms(self, features: torch.Tensor, targets: torch.Tensor | None = None) -> dict:
        """One causal pass over all of ``features`` (no context limit). Returns (B, T-1) tensors nll, ce, kl,
        entropy, embed_nll (zeros without the embed head) and log_q (B, T-1, O)."""
        B, T, Fdim = features.shape
        if Fdim != self.config.in_features:
            raise ValueError(f"ARModel expects {self.config.in_features} features, got {Fdim}")
        O = self.config.n_offsets
        p = (features[..., :O] if targets is None else targets)[:, 1:]  # (B, T-1, O) observed next-step delays
        pred = self.predict(features[:, :-1])
        log_q = pred["log_q"]  # (B, T-1, O)
        ce = -(p * log_q).sum(-1)  # (B, T-1)
        entropy = -(p * torch.log(p.clamp_min(PROB_EPS))).sum(-1)
        embed_nll = torch.zeros_like(ce)
        if self.embed_out is not None:
            mu, logvar = pred["mu"], pred["logvar"]  # (B, T-1, E) each
            e = features[:, 1:, O:]  # (B, T-1, E)
            embed_nll = 0.5 * (LOG_2PI + logvar + (e - mu) ** 2 * torch.exp(-logvar)).sum(-1)
        return {"nll": ce + embed_nll, "ce": ce, "kl": ce - entropy, "entropy": entropy, "embed_nll": embed_nll,
                "log_q": log_q}

    def predict(self, features: torch.Tensor) -> dict:
        """features (B, L, F) -> predictions for steps 1..L from steps <= 0..L-1 (one causal pass):
        log_q (B, L, O) log-probabilities of the next delay; with the embed head also mu, logvar (B, L, E)."""
        h = self.decoder(self.in_proj(features))  # (B, L, d) causal: h_t sees steps <= t
        out = {"log_q": F.log_softmax(self.head(h), dim=-1)}
        if self.embed_out is not None:
            mu, logvar = self.embed_out(h).chunk(2, dim=-1)
            out["mu"], out["logvar"] = mu, logvar.clamp(MIN_LOGVAR, MAX_LOGVAR)
        return out

    def score_sequence(self, features: torch.Tensor, context: int | None = None, stride: int | None = None,
                       targets: torch.Tensor | None = None) -> dict:
        """Per-step terms (as step_terms) for any T with a bounded causal context.

        T - 1 <= context: one pass, identical to step_terms. Otherwise chunks of ``context`` predictions
        (inputs [s, s+context]) start every ``stride`` steps; the first chunk gives predictions [0, context),
        later chunks only their last ``stride`` predictions, so every step sees between context - stride + 1
        and context steps (itself included), and memory stays O(context^2).
        """
        from avanomaly.models.composite import ARStream

        context = context or self.config.context
        if features.shape[1] - 1 <= context:
            return self.step_terms(features, targets)
        stream = ARStream(self, context, stride, targets=targets)  # the one sliding-context implementation
        parts = stream.push(features) + stream.flush()
        return {k: torch.cat([p[k] for p in parts], dim=1) for k in parts[0]}
