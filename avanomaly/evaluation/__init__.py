"""Evaluation: metrics, per-category reports (raw vs silence-trimmed), pluggable scorers. See docs/evaluation.md."""

from avanomaly.evaluation.metrics import (
    at_threshold,
    average_precision,
    binary_report,
    bootstrap_ci,
    eer,
    operating_points,
    roc_auc,
    tpr_at_fpr,
)
from avanomaly.evaluation.pipeline import evaluate_model, score_clips, select_split
from avanomaly.evaluation.report import evaluate, subcategory_of
from avanomaly.evaluation.scorers import Scorer, available_scorers, create_scorer, register_scorer

__all__ = [
    "at_threshold", "average_precision", "binary_report", "bootstrap_ci", "eer", "operating_points", "roc_auc",
    "tpr_at_fpr", "evaluate", "evaluate_model", "score_clips", "select_split", "subcategory_of", "Scorer",
    "available_scorers", "create_scorer", "register_scorer",
]
