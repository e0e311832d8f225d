"""Training losses that belong with the models (the training layer calls these)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sync_contrastive_loss(logits: torch.Tensor, mask: torch.Tensor, v: torch.Tensor | None = None,
                          a: torch.Tensor | None = None, scale: torch.Tensor | float | None = None,
                          cross_clip: bool = False, reduction: str = "mean") -> torch.Tensor:
    """InfoNCE over offsets: for every frame the positive is offset 0 (index K), negatives are the other
    valid offsets of the same clip (invalid offsets are excluded, not mean-filled, here).

    cross_clip=True adds, for frame t of clip b, the audio at frame t of every other clip b' != b as extra
    negatives (needs v, a (B, T, D) unit norm and ``scale`` = model.scale, so the units match the logits).

    logits, mask: (B, T, O). Returns the mean over frames (reduction="mean") or per-frame loss (B, T) ("none").
    """
    B, T, O = logits.shape
    K = (O - 1) // 2
    x = logits.masked_fill(~mask, float("-inf"))  # (B, T, O)
    if cross_clip and B > 1:
        if v is None or a is None or scale is None:
            raise ValueError("cross_clip=True needs v, a and scale")
        cross = torch.einsum("btd,ctd->btc", v, a) * scale  # (B, T, B): v of clip b vs audio of clip c, same t
        self_pair = torch.eye(B, dtype=torch.bool, device=logits.device)[:, None, :]  # (B, 1, B)
        cross = cross.masked_fill(self_pair, float("-inf"))  # the positive is already at index K
        x = torch.cat([x, cross], dim=-1)  # (B, T, O+B)
    target = torch.full((B * T,), K, dtype=torch.long, device=logits.device)
    loss = F.cross_entropy(x.reshape(B * T, -1), target, reduction="none").view(B, T)
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def sync_accuracy(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fraction of frames whose best valid offset is 0 (a scalar tensor)."""
    K = (logits.shape[-1] - 1) // 2
    return (logits.masked_fill(~mask, float("-inf")).argmax(-1) == K).float().mean()
