"""The end of a training run: the threshold and score fusion, fitted on the validation REAL clips."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from avanomaly.training.config import TrainConfig


def calibrate_run(run_dir: Path, cfg: TrainConfig, val_refs) -> tuple[dict | None, str]:
    """Calibrate on the validation REAL clips: each is scored by a ``Detector`` exactly as a file is
    (``Detector.score_features``), then the score fusion and the threshold are fit (``calibrate_terms``)."""
    from avanomaly.scoring.calibration import calibrate_terms
    from avanomaly.scoring.modelfile import MODEL_FILENAME, write_calibration
    from avanomaly.scoring.detector import Detector
    from avanomaly.training.export import load_trained_models

    sync, ar = load_trained_models(run_dir, cfg)
    detector = Detector(sync, ar, cfg.preprocess, device="cpu", prefetch=False)
    rows, speakers = [], []
    for r in val_refs:
        if r.n_frames < 2:
            continue
        speakers.append(getattr(r, "group", ""))
        meta = getattr(r.clip, "meta", None) or {}
        res = detector.score_features(r.clip.mouths, r.clip.mel, getattr(r.clip, "face_found", None), path=r.name,
                                      threshold=float("inf"), trimmed_seconds=float(meta.get("trimmed_seconds", 0.0)))
        rows.append(res.score_terms)
    if not rows:
        return None, "calibration skipped: no validation clip with >= 2 frames"
    cal = calibrate_terms(rows, aggregation=dataclasses.asdict(detector.aggregation), speakers=speakers,
                          notes=f"set at the end of training on {len(rows)} validation real clip(s)")
    write_calibration(run_dir / MODEL_FILENAME, cal)
    return cal.to_dict(), ""
