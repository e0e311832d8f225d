"""Preprocessing: decoded clips -> mouth crops (uint8 T x S x S) + log-mel (4T x 80) in an on-disk cache.

See docs/preprocessing.md and the preprocess section of docs/architecture.md.

The public names below are imported on first use (``from avanomaly.preprocess import PreprocessConfig`` works as
before), so a process that needs one submodule only, e.g. a face-mesh worker (``preprocess.meshpool``), does not
import torch and OpenCV for the rest.
"""

from __future__ import annotations

import importlib

#: public name -> the submodule that defines it
_EXPORTS = {
    "CachedClip": "cache", "FeatureCache": "cache", "Features": "cache",
    "PreprocessConfig": "config",
    "CenterDetector": "detectors", "CenterFaceDetector": "detectors", "Face": "detectors",
    "FaceDetector": "detectors", "HaarDetector": "detectors", "available_detectors": "detectors",
    "create_detector": "detectors", "import_detector": "detectors", "register_detector": "detectors",
    "log_mel": "mel", "mel_filterbank": "mel", "mel_power": "mel",
    "extract_mouths": "frontends",
    "Report": "pipeline", "preprocess_clip": "pipeline", "preprocess_file": "pipeline",
    "preprocess_many": "pipeline",
}

__all__ = [
    "PreprocessConfig",
    "log_mel",
    "mel_power",
    "mel_filterbank",
    "Face",
    "FaceDetector",
    "CenterFaceDetector",
    "HaarDetector",
    "CenterDetector",
    "create_detector",
    "import_detector",
    "available_detectors",
    "register_detector",
    "extract_mouths",
    "Features",
    "preprocess_clip",
    "preprocess_file",
    "preprocess_many",
    "Report",
    "FeatureCache",
    "CachedClip",
]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
