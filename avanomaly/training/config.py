"""Training configuration: one :class:`TrainConfig` made of small dataclasses, saved as ``RUN_DIR/config.yaml``.

``key=value`` overrides use dotted keys (``stage1.max_epochs=3``, ``sync.dim=64``); values are parsed as
YAML scalars and checked against the type of the current value. Unknown keys raise :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from avanomaly.errors import ConfigError
from avanomaly.postprocess.fusion import DEFAULT_CURVE, check_curve
from avanomaly.conventions import DEFAULT_SPLIT_FRACTIONS, DEFAULT_SPLIT_SEED
from avanomaly.preprocess.augment import AugmentConfig
from avanomaly.preprocess.config import PreprocessConfig

#: accepted trainer precisions ("auto": bf16-mixed / 16-mixed on CUDA, 32 on CPU)
PRECISIONS = ("auto", "32", "32-true", "bf16-mixed", "16-mixed")
#: metrics a stage may monitor (best checkpoint, early stopping) -> whether higher is better ("max") or lower
MONITORS = {"stage1": {"val_loss": "min", "val_sync_acc": "max", "val_sync_acc_window": "max"},
            "stage2": {"val_nll": "min", "val_loss": "min"}}


def _sync_config():
    from avanomaly.models import SyncModelConfig

    return SyncModelConfig()


def _ar_config():
    from avanomaly.models import ARModelConfig

    return ARModelConfig()


@dataclass
class DataConfig:
    """Where the clips come from and how they are split."""

    manifest: str = ""  # manifest CSV or a FakeAVCeleb(-layout) root
    cache: str = ""  # feature cache folder; "" -> RUN_DIR/cache
    drop_fakes: bool = False  # drop fake rows instead of refusing the manifest
    split_fractions: list = field(default_factory=lambda: list(DEFAULT_SPLIT_FRACTIONS))
    split_seed: int = DEFAULT_SPLIT_SEED
    preprocess_workers: int = 1
    val_windows_per_clip: int = 8  # fixed, evenly spaced validation windows per val clip
    balance_identities: bool = False  # training windows: every identity equally often (else by clip length)
    shards: str = ""  # a shard store of TRAINING clips (avanomaly.data.shards) instead of manifest + cache
    val_shards: str = ""  # the shard store of the validation clips (required with shards)
    streaming: bool = False  # with shards: stream the training windows shard by shard (docs/scale.md)
    shard_url: str = ""  # with streaming: where the shards are read, "{name}" = a shard's file name ("" = local)


@dataclass
class StageConfig:
    """Optimisation settings of one stage."""

    window: int = 50  # T video frames per training window
    batch_size: int = 32
    windows_per_epoch: int = 2048  # random windows drawn per epoch (over all train clips)
    max_epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 50  # linear warm-up (optimizer steps), then cosine decay to min_lr_ratio * lr
    min_lr_ratio: float = 0.05
    accumulate_grad_batches: int = 1
    gradient_clip_val: float = 1.0  # 0 disables clipping
    early_stopping_patience: int = 5  # epochs without improvement of the monitored metric; 0 disables
    monitor: str = ""  # metric for best.ckpt / early stopping ("" = val_loss in stage 1, val_nll in stage 2)
    num_workers: int = 0  # DataLoader workers
    # stage-1 training-batch augmentation (0 / false = off; validation is never augmented), see modules.py
    augment_contrast: float = 0.0  # per-window mouth contrast gain in [1-a, 1+a] and brightness shift in [-a/2, a/2]
    augment_flip: bool = False  # mirror the mouth crops left-right for a random half of the windows
    augment_mel_noise: float = 0.0  # std of Gaussian noise added to the log-mel (natural-log units)
    augment_mel_shift: int = 0  # move each window's log-mel by up to this many mel bins (other voices)
    augment_lip_scale: float = 0.0  # lip features: stretch x and y by factors in [1-a, 1+a] (other mouths)


@dataclass
class TrainerConfig:
    """Lightning trainer / hardware settings."""

    accelerator: str = "auto"  # cpu | gpu | auto
    devices: Any = 1  # int or "auto"
    num_nodes: int = 1
    strategy: str = "auto"  # auto | ddp | ddp_spawn ...
    precision: str = "auto"
    deterministic: bool = False
    seed: int = 0
    progress: bool = True
    threads: int = 0  # torch intra-op threads per process; 0 = leave torch's default
    log_every_n_steps: int = 10


@dataclass
class TrainConfig:
    out: str = ""  # run directory
    data: DataConfig = field(default_factory=DataConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # domain-augmented variants of the train clips
    sync: Any = field(default_factory=_sync_config)  # avanomaly.models.SyncModelConfig
    ar: Any = field(default_factory=_ar_config)  # avanomaly.models.ARModelConfig
    stage1: StageConfig = field(default_factory=StageConfig)
    stage2: StageConfig = field(default_factory=lambda: StageConfig(lr=3e-4, max_epochs=20))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    calibrate: bool = True  # calibrate the threshold on the val real clips at the end
    #: the offset curve of that calibration's score terms (postprocess/fusion.py CURVES): "vote" was validated for
    #: the starter (its preset sets it); a model family not validated with it keeps the mean cosine
    calibration_curve: str = DEFAULT_CURVE

    def validate(self) -> None:
        self.augment.validate()
        check_curve(self.calibration_curve)
        for name in ("stage1", "stage2"):
            st: StageConfig = getattr(self, name)
            for key in ("window", "batch_size", "windows_per_epoch", "max_epochs", "accumulate_grad_batches"):
                if getattr(st, key) < 1:
                    raise ConfigError(f"{name}.{key} must be >= 1, got {getattr(st, key)}")
            if st.lr <= 0:
                raise ConfigError(f"{name}.lr must be > 0, got {st.lr}")
            if st.monitor and st.monitor not in MONITORS[name]:
                raise ConfigError(f"{name}.monitor must be one of {sorted(MONITORS[name])} (or empty), got {st.monitor!r}")
        devices = self.trainer.devices
        if not (devices == "auto" or (isinstance(devices, int) and not isinstance(devices, bool))):
            raise ConfigError(f"trainer.devices must be an integer or 'auto', got {devices!r}")
        if str(self.trainer.precision) not in PRECISIONS:
            raise ConfigError(f"trainer.precision must be one of {PRECISIONS}, got {self.trainer.precision!r}")
        temporal = getattr(self.sync, "temporal", None)
        if temporal is not None:
            from avanomaly.models import list_temporal  # the registered blocks ("none": no temporal block)

            if temporal not in list_temporal():
                raise ConfigError(f"sync.temporal must be one of {list_temporal()}, got {temporal!r}")
        fr = self.data.split_fractions
        if len(fr) != 3 or any(f < 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
            raise ConfigError(f"data.split_fractions must be 3 non-negative numbers summing to 1, got {fr}")
        in_features = getattr(self.sync, "in_features", 0)
        if self.preprocess.front_end == "landmarks" or in_features:
            from avanomaly.preprocess.frontends import visual_frame_shape

            shape = visual_frame_shape(self.preprocess)
            if self.preprocess.front_end != "landmarks" or in_features != shape[0]:
                raise ConfigError(
                    f"preprocess.front_end={self.preprocess.front_end!r} gives per-frame input {shape} but "
                    f"sync.in_features={in_features}: the landmarks front end needs sync.in_features={shape[0]} "
                    "and a feature backbone (sync.visual_backbone=lips_tcn); pixel crops need sync.in_features=0"
                    if self.preprocess.front_end == "landmarks" else
                    f"sync.in_features={in_features} needs preprocess.front_end=landmarks")
        if getattr(self.sync, "crop_size", self.preprocess.crop_size) != self.preprocess.crop_size:
            raise ConfigError(
                f"sync.crop_size ({self.sync.crop_size}) must equal preprocess.crop_size ({self.preprocess.crop_size})"
            )


# ----------------------------------------------------------------------------------------------- dict io
def config_to_dict(cfg: TrainConfig) -> dict:
    return _plain(dataclasses.asdict(cfg))


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def config_from_dict(data: dict) -> TrainConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"a training config must be a mapping, got {type(data).__name__}")
    from avanomaly.utils import dataclass_from_dict

    # the one checked coercion of file data (avanomaly.utils); YAML text: "1e-4" is a float, 32 a string
    return dataclass_from_dict(TrainConfig(), data, text=True)


PRESETS_DIR = Path(__file__).resolve().parent / "presets"


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_config(path) -> TrainConfig:
    """Load a TrainConfig YAML file, or a built-in preset by name (``demo``; see list_presets())."""
    path = Path(path)
    if not path.is_file() and path.suffix == "" and (PRESETS_DIR / f"{path}.yaml").is_file():
        path = PRESETS_DIR / f"{path}.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (built-in presets: {list_presets()})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def save_config(cfg: TrainConfig, path) -> None:
    from avanomaly.utils import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def apply_overrides(cfg: TrainConfig, overrides) -> TrainConfig:
    """Apply ``["stage1.max_epochs=3", "sync.dim=64"]``; returns a new config."""
    data = config_to_dict(cfg)
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. stage1.max_epochs=3)")
        key, raw = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
                raise ConfigError(f"unknown config key {key!r}: {'.'.join(parts[: i + 1])!r} is not a section")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"unknown config key {key!r}; known in this section: {sorted(node)}")
        if isinstance(node[parts[-1]], dict):
            raise ConfigError(f"{key!r} is a section; set one of its keys: {sorted(node[parts[-1]])}")
        try:
            node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: cannot parse value: {exc}") from exc
    return config_from_dict(data)
