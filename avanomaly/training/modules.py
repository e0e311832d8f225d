"""LightningModules for the two stages. The models themselves stay plain ``nn.Module`` s (avanomaly.models).

Stage 1 (:class:`SyncStage`): self-supervised AV sync. For every video frame the aligned audio (offset 0)
is the positive; the other offsets of the same clip and every offset of another clip's audio (the next
clip in the batch) are negatives. Metric: ``val_sync_acc`` = fraction of validation frames whose arg-max
over the valid offsets is 0.

Stage 2 (:class:`ARStage`): stage 1 frozen (eval mode, no grad); the AR model is trained on the per-frame
sync feature sequences with its own NLL. Metric: ``val_nll`` (mean per-step NLL on held-out real clips).
"""

from __future__ import annotations

import math

import lightning as L
import torch

from avanomaly.models import sync_accuracy, sync_contrastive_loss, visual_tensor

from avanomaly.training.config import StageConfig
from avanomaly.training.export import build_ar, build_sync, sync_features



def cosine_warmup(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up over ``warmup`` steps, then cosine decay to ``min_ratio`` at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _mouths_float(mouths: torch.Tensor) -> torch.Tensor:
    return visual_tensor(mouths)  # (B, T+4, S, S) in [0, 1], or lip features (B, T+4, F) as they are


def augment_sync_batch(mouths: torch.Tensor, mel: torch.Tensor, stage: StageConfig):
    """Stage-1 training augmentation that keeps the audio-visual timing intact (so the sync target is
    unchanged): per window a mouth contrast gain and brightness shift (``augment_contrast``), a left-right
    mirror (``augment_flip``) and Gaussian noise on the log-mel (``augment_mel_noise``). Draws from torch's
    global RNG, which the training reseeds every epoch (resumable). mouths (B, T+4, S, S) float in [0, 1],
    mel (B, 4(T+4), M) -> same shapes. Lip features (B, T+4, F) get ``augment_lip_scale`` instead of contrast and
    mirror (pixel operations); ``augment_mel_shift`` moves each window's spectrum by a random number of mel bins."""
    b = mouths.shape[0]
    pixels = mouths.dim() == 4
    if stage.augment_contrast > 0 and pixels:
        a = float(stage.augment_contrast)
        gain = 1.0 + a * (2.0 * torch.rand(b, 1, 1, 1, device=mouths.device) - 1.0)  # (B,1,1,1)
        shift = 0.5 * a * (2.0 * torch.rand(b, 1, 1, 1, device=mouths.device) - 1.0)
        mean = mouths.mean(dim=(1, 2, 3), keepdim=True)
        mouths = ((mouths - mean) * gain + mean + shift).clamp(0.0, 1.0)
    if stage.augment_flip and pixels:
        flip = torch.rand(b, device=mouths.device) < 0.5  # (B,)
        mouths = torch.where(flip[:, None, None, None], mouths.flip(-1), mouths)
    if stage.augment_lip_scale > 0 and not pixels:
        from avanomaly.preprocess.landmarks import scale_lip_features

        a = float(stage.augment_lip_scale)
        sx, sy = (1.0 + a * (2.0 * torch.rand(2, b, device=mouths.device) - 1.0)).unbind(0)  # (B,) each
        mouths = scale_lip_features(mouths, sx, sy)
    if stage.augment_mel_shift > 0:  # another vocal tract: the spectrum moved by up to k mel bins
        k = int(stage.augment_mel_shift)
        shift = torch.randint(-k, k + 1, (b,), device=mel.device)  # (B,)
        m = mel.shape[-1]
        idx = (torch.arange(m, device=mel.device)[None, :] - shift[:, None]).clamp(0, m - 1)  # (B, M)
        mel = mel.gather(2, idx[:, None, :].expand_as(mel))
    if stage.augment_mel_noise > 0:
        mel = mel + float(stage.augment_mel_noise) * torch.randn_like(mel)
    return mouths, mel


def stage1_loss(model, out: dict):
    """InfoNCE over offsets (positive = offset 0) + other clips' audio at the same frame as extra negatives.
    Returns (loss, sync accuracy)."""
    loss = sync_contrastive_loss(out["logits"].float(), out["mask"], v=out["v"].float(), a=out["a"].float(),
                                 scale=model.scale, cross_clip=True)
    return loss, sync_accuracy(out["logits"].float(), out["mask"])


def window_sync_accuracy(model, out: dict) -> torch.Tensor:
    """Fraction of windows whose SyncNet-style offset (argmax over offsets of the mean similarity over the
    window's frames, ``SyncModel.offset_confidence``) is 0."""
    offset, _ = model.offset_confidence(out["logits"].float(), out["mask"])  # (B,)
    return (offset == 0).float().mean()


class _Stage(L.LightningModule):
    #: "stage1" / "stage2": the key of training.config.MONITORS
    stage_name = ""

    def __init__(self, stage: StageConfig):
        super().__init__()
        self.stage = stage
        if stage.monitor:  # else the class default
            from avanomaly.training.config import MONITORS

            self.monitor, self.mode = stage.monitor, MONITORS[self.stage_name][stage.monitor]

    def configure_optimizers(self):
        st = self.stage
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=st.lr, weight_decay=st.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: cosine_warmup(s, st.warmup_steps, total, st.min_lr_ratio)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _log_lr(self):
        opt = self.optimizers()
        if opt is not None:
            self.log("lr", opt.param_groups[0]["lr"], on_step=False, on_epoch=True, sync_dist=False)


class SyncStage(_Stage):
    """Stage 1: trains ``self.model`` (SyncModel)."""

    stage_name = "stage1"
    monitor = "val_loss"
    mode = "min"

    def __init__(self, sync_config, stage: StageConfig):
        super().__init__(stage)
        self.model = build_sync(sync_config)

    def training_step(self, batch, batch_idx):
        mouths, mel = augment_sync_batch(_mouths_float(batch["mouths"]), batch["mel"].float(), self.stage)
        loss, acc = stage1_loss(self.model, self.model(mouths, mel))
        bs = batch["mouths"].shape[0]
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
        self.log("train_sync_acc", acc, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True)
        self._log_lr()
        return loss

    def validation_step(self, batch, batch_idx):
        out = self.model(_mouths_float(batch["mouths"]), batch["mel"])
        loss, acc = stage1_loss(self.model, out)
        bs = batch["mouths"].shape[0]
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
        self.log("val_sync_acc", acc, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
        self.log("val_sync_acc_window", window_sync_accuracy(self.model, out), on_epoch=True, batch_size=bs,
                 sync_dist=True)


class ARStage(_Stage):
    """Stage 2: ``self.sync`` frozen, trains ``self.model`` (ARModel) on sync feature sequences."""

    stage_name = "stage2"
    monitor = "val_nll"
    mode = "min"

    def __init__(self, sync_config, ar_config, stage: StageConfig, sync_state: dict | None = None):
        super().__init__(stage)
        self.sync = build_sync(sync_config)
        if sync_state is not None:
            self.sync.load_state_dict(sync_state)
        self.sync.eval()
        for p in self.sync.parameters():
            p.requires_grad_(False)
        self.model = build_ar(ar_config)

    def train(self, mode: bool = True):  # keep the frozen stage-1 model in eval mode
        super().train(mode)
        self.sync.eval()
        return self

    def state_dict(self, *args, **kwargs):  # the frozen sync weights live in stage1/best.ckpt
        sd = super().state_dict(*args, **kwargs)
        return {k: v for k, v in sd.items() if not k.startswith("sync.")}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        own = {k: v for k, v in super().state_dict().items() if k.startswith("sync.")}
        merged = dict(own)
        merged.update(state_dict)
        return super().load_state_dict(merged, strict=strict, assign=assign)

    def _nll(self, batch):
        with torch.no_grad():
            feats = sync_features(self.sync, _mouths_float(batch["mouths"]), batch["mel"])  # (B, T, F)
        nll = self.model(feats.float())  # (B, T-1)
        return nll.float().mean()

    def training_step(self, batch, batch_idx):
        loss = self._nll(batch)
        bs = batch["mouths"].shape[0]
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
        self._log_lr()
        return loss

    def validation_step(self, batch, batch_idx):
        loss = self._nll(batch)
        bs = batch["mouths"].shape[0]
        self.log("val_loss", loss, on_epoch=True, batch_size=bs, sync_dist=True)
        self.log("val_nll", loss, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
