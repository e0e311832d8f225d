"""Datasets and manifests: FakeAVCeleb indexing, identity-disjoint splits, generic manifest CSVs, leading-silence
detection (re-exported from avanomaly.preprocess.silence). See docs/data.md and the data section of docs/architecture.md."""

from avanomaly.data.fakeavceleb import (
    CATEGORIES,
    SUBCATEGORIES,
    DatasetWarning,
    FakeAVCelebIndex,
    index_fakeavceleb,
    scan_fakeavceleb,
)
from avanomaly.data.manifest import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    index_folder,
    read_manifest,
    validate_manifest,
    write_manifest,
)
from avanomaly.data.splits import DEFAULT_FRACTIONS, check_identity_disjoint, identity_split


def __getattr__(name):
    # the synthetic generator lives in avanomaly.data.synth (owned separately); import it only when asked
    if name == "generate_synthetic":
        from avanomaly.data.synth import generate_synthetic

        return generate_synthetic
    # leading-silence detection works on decoded audio and lives in avanomaly.preprocess.silence (preprocessing
    # trims with it); re-exported here lazily, as importing avanomaly.preprocess imports torch and OpenCV
    if name in ("detect_leading_silence", "trim_leading"):
        from avanomaly.preprocess import silence

        return getattr(silence, name)
    raise AttributeError(f"module 'avanomaly.data' has no attribute {name!r}")


__all__ = [
    "CATEGORIES", "SUBCATEGORIES", "DatasetWarning", "FakeAVCelebIndex", "index_fakeavceleb", "scan_fakeavceleb",
    "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "index_folder", "read_manifest", "validate_manifest", "write_manifest",
    "detect_leading_silence", "trim_leading", "DEFAULT_FRACTIONS", "check_identity_disjoint", "identity_split",
]
