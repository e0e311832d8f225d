"""Scoring: per-frame NLL -> clip score, calibrated threshold, verdict (docs/scoring.md).

    Detector.from_pretrained(path) ; Detector.anomaly_score(clip) -> ScoreResult ; Detector.score_many(paths)
    calibrate(real_scores, target_fpr) -> Calibration ; write_calibration(model_path, calibration)
    AggregationConfig (mean, topk_mean, max_window_mean; functions in avanomaly.postprocess.aggregate)

Names are imported lazily so that ``avanomaly score --help`` does not import torch.
"""

_EXPORTS = {
    "Detector": "avanomaly.scoring.detector",
    "ScoreResult": "avanomaly.scoring.result",
    "ScoreFailure": "avanomaly.scoring.result",
    "SCHEMA_VERSION": "avanomaly.scoring.result",
    "Calibration": "avanomaly.postprocess.calibration",
    "calibrate": "avanomaly.postprocess.calibration",
    "write_calibration": "avanomaly.postprocess.modelfile",
    "AggregationConfig": "avanomaly.postprocess.aggregate",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'avanomaly.scoring' has no attribute {name!r}")
