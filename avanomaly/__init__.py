"""avanomaly: audio-visual deepfake detection learned from real talking people only.

Data flow (one sub-package per step):
    io          decode any video file -> Clip (25 fps frames, 16 kHz mono audio, aligned by timestamps)
    preprocess  face track -> mouth crops, log-mel (4 mel frames per video frame), on-disk feature cache
    data        datasets and manifests (FakeAVCeleb index, identity splits, synthetic benchmark)
    models      sync encoders, sync features (B, T, 2K+1), causal autoregressive likelihood model
    postprocess the model file; frame NLL -> clip score terms, fusion, calibration, abstain and out-of-domain rules
    training    two-stage training (Lightning): stage 1 sync, stage 2 AR on frozen features
    scoring     Detector: per-frame NLL -> clip score, calibrated threshold
    evaluation  metrics, per-category reports, plots
    serve       HTTP service
"""

from avanomaly._version import __version__

__all__ = ["__version__", "Detector", "load_clip"]


def __getattr__(name):  # lazy: keep `import avanomaly` (and the CLI) fast, torch is imported on use
    if name == "Detector":
        from avanomaly.scoring.detector import Detector

        return Detector
    if name == "load_clip":
        from avanomaly.io import load_clip

        return load_clip
    raise AttributeError(f"module 'avanomaly' has no attribute {name!r}")
