"""timm-like registries: whole models (``create_model``), visual/audio backbones and temporal blocks.

A model class is registered with its dataclass config::

    @register_model("sync", SyncModelConfig)
    class SyncModel(nn.Module): ...

    model = create_model("sync", dim=64)        # unknown keys -> ConfigError naming them
    model.model_name, model.config               # set by create_model; used by checkpoint_dict

This module imports none of the modules that register: ``avanomaly/models/__init__.py`` imports them, and Python
runs a package's ``__init__`` before any of its modules, so every lookup sees the built-in entries whatever was
imported first.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from avanomaly.errors import ConfigError

_MODELS: dict[str, tuple[type, type]] = {}
_BACKBONES: dict[str, dict[str, Callable]] = {"visual": {}, "audio": {}}
_TEMPORAL: dict[str, Callable] = {}


def register_model(name: str, config_cls: type):
    """Class decorator: register ``cls(config)`` under ``name`` with dataclass ``config_cls``."""
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"register_model({name!r}): config class must be a dataclass")

    def deco(cls):
        if name in _MODELS and _MODELS[name][0] is not cls:
            raise ConfigError(f"model name {name!r} is already registered to {_MODELS[name][0].__name__}")
        _MODELS[name] = (cls, config_cls)
        cls.registered_name = name
        return cls

    return deco


def list_models() -> list[str]:
    return sorted(_MODELS)


def model_entry(name: str) -> tuple[type, type]:
    """(model class, config class) for ``name``; ConfigError listing the known names otherwise."""
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; known: {sorted(_MODELS)}")
    return _MODELS[name]


def create_model(name: str, config=None, **cfg):
    """Build registered model ``name`` from a config object, or from keyword fields of its config dataclass."""
    from avanomaly.utils import dataclass_from_dict

    cls, config_cls = model_entry(name)
    if config is None:
        config = dataclass_from_dict(config_cls, cfg)
    elif cfg:
        config = dataclasses.replace(config, **cfg)
    if not isinstance(config, config_cls):
        raise ConfigError(f"model {name!r} needs a {config_cls.__name__}, got {type(config).__name__}")
    model = cls(config)
    model.model_name = name
    return model


#: what a visual backbone takes: "pixels" (N, 5, S, S) crops, or "features" (N, 5, F) per-frame vectors
BACKBONE_INPUTS = ("pixels", "features")


def register_backbone(kind: str, name: str, input: str = "pixels"):
    """Function decorator: ``factory(dim, crop_size=..., n_mels=..., in_features=...) -> nn.Module``
    (N, C, H, W) -> (N, dim); a visual backbone with ``input="features"`` takes (N, 5, F) instead."""
    if kind not in _BACKBONES:
        raise ConfigError(f"backbone kind must be one of {sorted(_BACKBONES)}, got {kind!r}")
    if input not in BACKBONE_INPUTS:
        raise ConfigError(f"backbone input must be one of {BACKBONE_INPUTS}, got {input!r}")

    def deco(fn):
        fn.backbone_input = input
        _BACKBONES[kind][name] = fn
        return fn

    return deco


def backbone_input(kind: str, name: str) -> str:
    """"pixels" or "features" (see register_backbone)."""
    if name not in _BACKBONES.get(kind, {}):
        raise ConfigError(f"unknown {kind} backbone {name!r}; available here: {list_backbones(kind)}")
    return getattr(_BACKBONES[kind][name], "backbone_input", "pixels")


def list_backbones(kind: str) -> list[str]:
    if kind not in _BACKBONES:
        raise ConfigError(f"backbone kind must be one of {sorted(_BACKBONES)}, got {kind!r}")
    return sorted(_BACKBONES[kind])


def create_backbone(kind: str, name: str, **kwargs):
    known = list_backbones(kind)
    if name not in known:
        raise ConfigError(f"unknown {kind} backbone {name!r}; available here: {known}")
    return _BACKBONES[kind][name](**kwargs)


def register_temporal(name: str):
    """Function decorator: ``factory(dim, layers, heads, dropout, causal) -> nn.Module`` (B, T, D) -> (B, T, D)."""

    def deco(fn):
        _TEMPORAL[name] = fn
        return fn

    return deco


def list_temporal() -> list[str]:
    return sorted(_TEMPORAL)


def create_temporal(name: str, **kwargs):
    if name not in _TEMPORAL:
        raise ConfigError(f"unknown temporal block {name!r}; known: {sorted(_TEMPORAL)}")
    return _TEMPORAL[name](**kwargs)


#: config fields that name a registered part -> what the name selects (checked by ``unknown_names``)
NAME_FIELDS = {"visual_backbone": ("visual backbone", lambda: _BACKBONES["visual"]),
               "audio_backbone": ("audio backbone", lambda: _BACKBONES["audio"]),
               "temporal": ("temporal block", lambda: _TEMPORAL)}


def unknown_names(config: dict) -> list[str]:
    """Problems with the part names in a model config read from a file (``NAME_FIELDS``): each must be a
    registered name (a string), whether or not the config would use it. Names only select registry entries;
    nothing is imported from them."""
    from avanomaly.errors import shorten

    problems = []
    for key, (what, table) in NAME_FIELDS.items():
        if key in config and (not isinstance(config[key], str) or config[key] not in table()):
            problems.append(f"unknown {what} {shorten(repr(config[key]))} ({key}); registered: {sorted(table())}")
    return problems
