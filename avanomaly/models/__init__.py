"""Models layer (see docs/model.md and docs/architecture.md).

    create_model(name, **cfg) ; list_models() ; register_model ; list_backbones('visual'|'audio')
    SyncModel / SyncModelConfig ("sync"), ARModel / ARModelConfig ("ar")
    sync_features(out) ; sync_contrastive_loss ; checkpoint_dict / model_from_dict (a model's record in the model file)
"""

# importing ar, backbones, sync and temporal runs their @register_* decorators (the registry imports none of them)
from avanomaly.models import backbones, temporal  # noqa: F401
from avanomaly.models.ar import ARModel, ARModelConfig
from avanomaly.models.composite import AnomalyModel, ar_config_for
from avanomaly.models.checkpoint import checkpoint_dict, model_from_dict
from avanomaly.models.losses import sync_accuracy, sync_contrastive_loss
from avanomaly.models.mamba import Mamba, mamba_ssm_available
from avanomaly.models.registry import (backbone_input, create_backbone, create_model, create_temporal, list_backbones,
                                       list_models, list_temporal, register_backbone, register_model, register_temporal)
from avanomaly.models.sync import SyncModel, SyncModelConfig, sync_features, valid_offsets_mask, visual_tensor

__all__ = [
    "ARModel", "ARModelConfig", "SyncModel", "SyncModelConfig", "Mamba", "mamba_ssm_available",
    "create_model", "list_models", "register_model", "create_backbone", "list_backbones", "register_backbone",
    "backbone_input",
    "create_temporal", "list_temporal", "register_temporal", "sync_contrastive_loss", "sync_accuracy",
    "checkpoint_dict", "model_from_dict", "valid_offsets_mask", "sync_features",
    "visual_tensor", "AnomalyModel", "ar_config_for",
]
