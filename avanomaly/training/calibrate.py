"""The end of a training run: the threshold and score fusion, fitted on the validation REAL clips."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from avanomaly.conventions import DECODE_CHUNK_FRAMES, MEL_PER_FRAME
from avanomaly.training.config import TrainConfig


def calibrate_run(run_dir: Path, cfg: TrainConfig, val_refs) -> tuple[dict | None, str]:
    """Calibrate on the validation REAL clips: each clip's frames go through the one frames -> NLL path
    (``models.composite.AnomalyModel``) and its score terms are made as the Detector makes them
    (``postprocess.terms.score_frames``); then the score fusion and the threshold are fit (``calibrate_terms``)."""
    from avanomaly.models.composite import AnomalyModel
    from avanomaly.postprocess.aggregate import AggregationConfig
    from avanomaly.postprocess.calibration import calibrate_terms, needs_curves
    from avanomaly.postprocess.modelfile import MODEL_FILENAME, write_calibration
    from avanomaly.postprocess.terms import MIN_FRAMES, score_frames
    from avanomaly.training.export import load_trained_models

    sync, ar = load_trained_models(run_dir, cfg)
    # as the Detector holds them (channels_last conv weights: the Detector's numbers to the last bit)
    sync = sync.to(memory_format=torch.channels_last).eval()
    model = AnomalyModel(sync, ar.eval())
    aggregation = AggregationConfig()
    rows, speakers, curves = [], [], []
    for r in val_refs:
        if r.n_frames < MIN_FRAMES:
            continue
        speakers.append(getattr(r, "group", ""))
        mouths, mel = r.clip.mouths, r.clip.mel
        found = getattr(r.clip, "face_found", None)
        found = np.ones(int(mouths.shape[0]), bool) if found is None else np.asarray(found, dtype=bool)
        scorer = model.scorer(device="cpu")
        t = int(mouths.shape[0])
        for s in range(0, t, DECODE_CHUNK_FRAMES):  # in chunks, as the Detector reads them: memory maps stay cheap
            e = min(t, s + DECODE_CHUNK_FRAMES)
            scorer.push(np.asarray(mouths[s:e]), np.asarray(mel[MEL_PER_FRAME * s:MEL_PER_FRAME * e], dtype=np.float32))
        evidence = score_frames(scorer.finish(), found, sync, model.max_offset, aggregation,
                                fps=float(cfg.preprocess.fps), curve=cfg.calibration_curve)
        rows.append(evidence.terms)
        curves.append(evidence.curve)
    if not rows:
        return None, "calibration skipped: no validation clip with >= 2 frames"
    cal = calibrate_terms(rows, aggregation=dataclasses.asdict(aggregation), speakers=speakers,
                          curves=curves if needs_curves() else None, curve=cfg.calibration_curve,
                          notes=f"set at the end of training on {len(rows)} validation real clip(s)")
    write_calibration(run_dir / MODEL_FILENAME, cal)
    return cal.to_dict(), ""
