"""The scorer interface and registry of ``avanomaly evaluate --method NAME`` (what a plug-in imports).

A scorer turns clip paths into per-clip result rows (see :data:`SCORE_COLUMNS`); the evaluation only sees
those rows, so a baseline detector plugs in by registering a factory::

    from avanomaly.evaluation.registry import Scorer, register_scorer

    @register_scorer("my-baseline")
    class MyBaseline(Scorer):
        def __init__(self, model=None, cache=None, workers=1, **kwargs): ...
        def score_many(self, paths, trim_leading_silence=False) -> pd.DataFrame: ...

Rules for ``score_many``: one row per input path, in input order, never raising for one bad file (a row
with ``status="failed"`` and ``error`` = "reason: message" instead); higher score = more fake.

Optional: a scorer whose ``score_many`` also takes ``on_row`` calls ``on_row(i, row)`` as the row of
``paths[i]`` is ready (any order), and ``evaluate`` writes it to detailed_results.csv at once; the rows of a
scorer without it are written when its ``score_many`` returns (avanomaly.evaluation.detailed).
"""

from __future__ import annotations

from typing import Callable, Sequence

import pandas as pd

from avanomaly.errors import ConfigError

#: columns every scorer returns (extra columns are kept; nll / times may be None)
SCORE_COLUMNS = ("path", "score", "verdict", "threshold", "offset", "confidence", "face_rate", "trimmed",
                 "trimmed_seconds", "status", "error", "warnings", "nll", "times")
_REGISTRY: dict[str, Callable[..., "Scorer"]] = {}


class Scorer:
    """Interface: ``score_many(paths, trim_leading_silence) -> DataFrame`` with :data:`SCORE_COLUMNS`."""

    name = "scorer"

    def score_many(self, paths: Sequence, trim_leading_silence: bool = False) -> pd.DataFrame:
        raise NotImplementedError

    def describe(self) -> dict:
        """What to store in metrics.json about this scorer (model path, settings)."""
        return {"method": self.name}


def register_scorer(name: str):
    """Decorator: register a Scorer class/factory under ``name`` (``--method name``)."""

    def deco(factory):
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ConfigError(f"scorer '{name}' is already registered")
        _REGISTRY[name] = factory
        return factory

    return deco


def failure_row(path, reason: str, message: str, trimmed: bool) -> dict:
    return {"path": str(path), "score": float("nan"), "verdict": None, "threshold": None, "offset": None,
            "confidence": None, "face_rate": None, "trimmed": bool(trimmed), "trimmed_seconds": None,
            "status": "failed", "error": f"{reason}: {message}", "warnings": "", "nll": None, "times": None}


def result_row(res, trimmed: bool) -> dict:
    """ScoreResult / ScoreFailure (avanomaly.scoring) -> one row."""
    if not getattr(res, "ok", False):
        return failure_row(res.path, res.reason, res.message, trimmed)
    trimmed_s = 0.0
    if res.frame_times:  # the first scored frame is frame 1 of the (possibly trimmed) clip
        trimmed_s = max(0.0, round(res.frame_times[0] * res.fps - 1) / res.fps)
    return {"path": str(res.path), "score": float(res.score), "verdict": res.verdict, "threshold": res.threshold,
            "offset": res.av_offset_frames, "confidence": res.av_offset_confidence, "face_rate": res.face_rate,
            "trimmed": bool(trimmed), "trimmed_seconds": trimmed_s, "status": "ok", "error": "",
            "warnings": "; ".join(res.warnings), "nll": list(res.frame_nll), "times": list(res.frame_times)}
