"""Real-only training (docs/training.md): stage 1 AV sync, stage 2 AR model of sync features -> model.pt.

    train(TrainConfig, resume=False) -> TrainResult ; train_on_clips(cfg, train_refs, val_refs)
    TrainConfig, load_config, save_config, apply_overrides ; export_model(run_dir)
"""

_EXPORTS = {
    "TrainConfig": "avanomaly.training.config", "DataConfig": "avanomaly.training.config",
    "StageConfig": "avanomaly.training.config", "TrainerConfig": "avanomaly.training.config",
    "load_config": "avanomaly.training.config", "save_config": "avanomaly.training.config",
    "apply_overrides": "avanomaly.training.config", "list_presets": "avanomaly.training.config",
    "train": "avanomaly.training.train", "train_on_clips": "avanomaly.training.train",
    "TrainResult": "avanomaly.training.train", "export_model": "avanomaly.training.export",
    "ClipRef": "avanomaly.training.windows", "NonFiniteLossError": "avanomaly.training.callbacks",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):  # lazy: `import avanomaly.training` does not import torch / lightning
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
