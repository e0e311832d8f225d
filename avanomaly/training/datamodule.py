"""LightningDataModule over cached clips: random training windows (new draw each epoch), fixed val windows."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from avanomaly.training.config import StageConfig
from avanomaly.training.windows import FixedWindows, RandomWindows


class WindowDataModule(L.LightningDataModule):
    def __init__(self, train_refs, val_refs, stage: StageConfig, seed: int = 0, val_per_clip: int = 8,
                 balance: bool = False):
        super().__init__()
        self.balance = bool(balance)
        self.train_refs, self.val_refs = list(train_refs), list(val_refs)
        self.stage = stage
        self.seed = int(seed)
        self.val_per_clip = int(val_per_clip)

    def _loader(self, ds, drop_last: bool):
        st = self.stage
        return DataLoader(ds, batch_size=min(st.batch_size, len(ds)), shuffle=False, num_workers=st.num_workers,
                          drop_last=drop_last, persistent_workers=False, pin_memory=False)

    def train_dataloader(self):
        # reload_dataloaders_every_n_epochs=1: a fresh, epoch-seeded draw of windows every epoch
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        ds = RandomWindows(self.train_refs, self.stage.window, self.stage.windows_per_epoch, self.seed, epoch,
                           balance=self.balance)
        return self._loader(ds, drop_last=True)

    def val_dataloader(self):
        return self._loader(FixedWindows(self.val_refs, self.stage.window, self.val_per_clip), drop_last=False)


class StreamingDataModule(L.LightningDataModule):
    """``data.streaming``: training windows streamed from a shard store's ``shards``
    (:class:`avanomaly.training.streaming.StreamingWindows`, dealt to this trainer's rank), validation windows
    fixed (FixedWindows over ``val_refs``)."""

    def __init__(self, shards, val_refs, stage: StageConfig, seed: int = 0, val_per_clip: int = 8):
        super().__init__()
        self.shards, self.val_refs, self.stage = list(shards), list(val_refs), stage
        self.seed, self.val_per_clip = int(seed), int(val_per_clip)

    def train_dataloader(self):
        from avanomaly.training.streaming import StreamingWindows

        tr = self.trainer
        epoch, rank, world = (tr.current_epoch, tr.global_rank, tr.world_size) if tr is not None else (0, 0, 1)
        ds = StreamingWindows(self.shards, self.stage.window, self.stage.windows_per_epoch, self.seed, epoch, rank,
                              world)
        return DataLoader(ds, batch_size=min(self.stage.batch_size, len(ds)), num_workers=self.stage.num_workers,
                          drop_last=True, persistent_workers=False, pin_memory=False)

    def val_dataloader(self):
        ds = FixedWindows(self.val_refs, self.stage.window, self.val_per_clip)
        return DataLoader(ds, batch_size=min(self.stage.batch_size, len(ds)), shuffle=False,
                          num_workers=self.stage.num_workers, persistent_workers=False, pin_memory=False)
