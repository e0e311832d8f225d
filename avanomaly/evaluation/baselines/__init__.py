"""Baseline scorers for ``avanomaly evaluate --method NAME`` (see docs/results.md):

- ``sync-heuristic``: training-free mouth-signal vs audio-envelope cross-correlation (SyncNet-like score);
- ``sync-only``: offset confidence of the stage-1 sync model (no AR model);
- ``iforest``: IsolationForest on pooled per-clip sync features, fitted on train-split real clips only;
- ``supervised``: logistic regression on real AND fake training clips (NOT real-only; a reference).

Importing this package registers them in :mod:`avanomaly.evaluation.scorers`.
"""

from avanomaly.evaluation.baselines.common import (FeatureSource, clip_sync_logits, pooled_sync_features,
                                                   train_rows_of_run)
from avanomaly.evaluation.baselines.heuristic import (HeuristicConfig, SyncHeuristicScorer, audio_envelope,
                                                      heuristic_sync, visual_signal, xcorr_curve)
from avanomaly.evaluation.baselines.learned import (FitConfig, IsolationForestScorer, SupervisedScorer,
                                                    SyncOnlyScorer)

BASELINES = ("sync-heuristic", "sync-only", "iforest", "supervised")

__all__ = ["BASELINES", "FeatureSource", "clip_sync_logits", "pooled_sync_features", "train_rows_of_run",
           "HeuristicConfig", "SyncHeuristicScorer", "audio_envelope", "heuristic_sync", "visual_signal",
           "xcorr_curve", "FitConfig", "IsolationForestScorer", "SupervisedScorer", "SyncOnlyScorer"]
