"""Which manifest rows a training run uses: the real rows only (a fake refuses the manifest unless dropped) and
the train / val split (the manifest's own, else an identity-disjoint one saved in the run folder)."""

from __future__ import annotations

import logging
from pathlib import Path


from avanomaly.errors import DatasetError
from avanomaly.training.config import TrainConfig

log = logging.getLogger(__name__)

REAL_LABEL = "real"
REAL_CATEGORY = "RealVideo-RealAudio"
TRAIN_SPLITS = ("train", "val")
SPLIT_FILE = "split.csv"


def select_real_rows(df, drop_fakes: bool = False, source: str = "manifest"):
    """Real rows of ``df``; a fake row raises DatasetError (how many, which categories) unless ``drop_fakes``."""
    if len(df) == 0:
        raise DatasetError(f"{source}: the manifest is empty")
    if "label" not in df.columns and "category" not in df.columns:
        raise DatasetError(f"{source}: manifest has neither a 'label' nor a 'category' column")
    from avanomaly.data.manifest import real_mask

    is_real = real_mask(df)  # the one "which rows are real" rule (calibration uses it too)
    fakes = df[~is_real]
    if len(fakes):
        by = fakes["category"] if "category" in fakes.columns else fakes["label"]
        counts = ", ".join(f"{k}: {v}" for k, v in by.astype(str).value_counts().sort_index().items())
        if not drop_fakes:
            raise DatasetError(
                f"{source}: avanomaly trains on real clips only, but the manifest has {len(fakes)} non-real row(s) "
                f"({counts}); pass --drop-fakes to leave them out"
            )
        log.warning("dropping %d non-real row(s) (%s)", len(fakes), counts)
    real = df[is_real].copy()
    if len(real) == 0:
        raise DatasetError(f"{source}: no real (RealVideo-RealAudio) rows to train on")
    return real, len(fakes)


def split_rows(df, cfg: TrainConfig, run_dir: Path):
    """(train_df, val_df, how). Uses the manifest's ``split`` column, else an identity-disjoint split saved to
    ``run_dir/split.csv``. Test rows are never returned."""
    if "split" in df.columns and df["split"].astype(str).isin(TRAIN_SPLITS).any():
        how = "manifest split column"
        split = df
    else:
        from avanomaly.data import identity_split

        work = df.copy()
        if "identity" not in work.columns or work["identity"].isna().all():
            # no identity information: each clip is its own identity (split by clip)
            work["identity"] = [Path(str(p)).stem for p in work["path"]]
            how = "clip-disjoint split (manifest has no identity column)"
        else:
            how = "identity-disjoint split"
        split = identity_split(work, fractions=tuple(cfg.data.split_fractions), seed=cfg.data.split_seed)
        split.to_csv(run_dir / SPLIT_FILE, index=False)
        how += f" saved to {run_dir / SPLIT_FILE}"
    s = split["split"].astype(str)
    train_df, val_df = split[s.eq("train")], split[s.eq("val")]
    if len(train_df) == 0:
        raise DatasetError(f"no training rows after the split ({how}); check the split column / data.split_fractions")
    if len(val_df) == 0:
        raise DatasetError(
            f"no validation rows after the split ({how}); training needs held-out real identities: "
            f"raise the val fraction (data.split_fractions=[0.8,0.2,0.0]) or add a 'val' split"
        )
    if "identity" in split.columns and how.startswith("identity"):
        overlap = set(train_df["identity"]) & set(val_df["identity"])
        if overlap:
            raise DatasetError(f"identities in both train and val: {sorted(map(str, overlap))[:10]}")
    return train_df, val_df, how
