"""Post-processing (anomalib's split: model vs post-processing vs metrics; docs/architecture.md): what turns the
networks' frame scores into a verdict, and the file that carries it.

    modelfile    the model file (``model.pt``, the one format): read as data only, write atomically, paths
    aggregate    per-frame NLL curve -> clip NLL (AggregationConfig)
    terms        frame scores -> a clip's score terms (training's calibration; the Detector's steps)
    fusion       the score terms and their fusion into one clip score
    calibration  the threshold at a false-positive rate, the Calibration record, calibration.json
    basis        what a calibration rests on (clips, speakers, confidence of its false-alarm rate)
    domain       the out-of-domain rule (recording facts vs the calibration pool)
    abstain      the abstain rules

Below both training and scoring: it imports only the bottom layer and ``models`` (the model records), never
preprocessing, training or scoring.
"""

# names are imported lazily (on first use), so that importing one module of the layer does not import torch
_EXPORTS = {
    "AggregationConfig": "avanomaly.postprocess.aggregate",
    "aggregate_curve": "avanomaly.postprocess.aggregate",
    "frame_terms": "avanomaly.postprocess.terms",
    "clip_terms": "avanomaly.postprocess.fusion",
    "ScoreFusion": "avanomaly.postprocess.fusion",
    "Calibration": "avanomaly.postprocess.calibration",
    "calibrate": "avanomaly.postprocess.calibration",
    "calibrate_terms": "avanomaly.postprocess.calibration",
    "abstain_reasons": "avanomaly.postprocess.abstain",
    "out_of_domain": "avanomaly.postprocess.domain",
    "read_model_file": "avanomaly.postprocess.modelfile",
    "save_model_file": "avanomaly.postprocess.modelfile",
    "write_calibration": "avanomaly.postprocess.modelfile",
    "load_data_only": "avanomaly.postprocess.modelfile",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'avanomaly.postprocess' has no attribute {name!r}")
