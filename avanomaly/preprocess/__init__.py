"""Preprocessing: decoded clips -> mouth crops (uint8 T x S x S) + log-mel (4T x 80) in an on-disk cache.

See docs/preprocessing.md and the preprocess section of docs/architecture.md.
"""

from avanomaly.preprocess.cache import CachedClip, FeatureCache, Features
from avanomaly.preprocess.config import PreprocessConfig
from avanomaly.preprocess.detectors import (
    CenterDetector,
    CenterFaceDetector,
    Face,
    FaceDetector,
    HaarDetector,
    available_detectors,
    create_detector,
    import_detector,
    register_detector,
)
from avanomaly.preprocess.frontends import extract_mouths
from avanomaly.preprocess.mel import log_mel, mel_filterbank, mel_power
from avanomaly.preprocess.pipeline import Report, preprocess_clip, preprocess_file, preprocess_many

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
