"""Pluggable scorers for ``avanomaly evaluate --method NAME``: the lookup (``create_scorer``, which imports the
baselines so they register) and the ``avanomaly`` scorer itself; the interface lives in
:mod:`avanomaly.evaluation.registry` (re-exported here).

How a scorer is written and registered (``Scorer``, ``register_scorer``, the rules of ``score_many``): see
:mod:`avanomaly.evaluation.registry`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Sequence

import pandas as pd

from avanomaly.errors import ConfigError
from avanomaly.evaluation.registry import (_REGISTRY, SCORE_COLUMNS, Scorer, failure_row,  # noqa: F401
                                          register_scorer, result_row)

log = logging.getLogger(__name__)

#: version of the cached score records (bump when their meaning changes)
SCORE_CACHE_VERSION = 1


def available_scorers() -> list[str]:
    _load_plugins()
    return sorted(_REGISTRY)


def create_scorer(name: str, **kwargs) -> Scorer:
    _load_plugins()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown evaluation method '{name}'; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)


def _load_plugins() -> None:
    """Baselines live in ``avanomaly.evaluation.baselines`` (or ``avanomaly.baselines``, optional): importing
    them registers them."""
    import importlib

    for module in ("avanomaly.evaluation.baselines", "avanomaly.baselines"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


# ---------------------------------------------------------------------------------------- avanomaly
def _load_detector(model, trim: bool, device: str):
    from avanomaly.scoring import detector as det

    d = det.Detector.from_pretrained(model, device=device)
    d.preprocess_cfg = dataclasses.replace(d.preprocess_cfg, trim_leading_silence=bool(trim))
    return d


@register_scorer("avanomaly")
class AvanomalyScorer(Scorer):
    """The trained detector (``Detector.from_pretrained(model)``), raw or with the leading silence trimmed.

    ``model`` None: the model ``avanomaly score`` uses without --model (``postprocess.modelfile.default_model_path``:
    $AVANOMALY_MODEL, else the shipped starter model).

    ``cache``: folder where each clip's result is stored per (model file, file content, pass), so a rerun or
    a second evaluation of the same clips does not decode them again. ``workers`` > 1 scores in processes (the
    pool of ``avanomaly score``, :mod:`avanomaly.scoring.pool`; ``threads`` torch threads each, default 1); each
    result is cached, and given to ``score_many``'s ``on_row``, as it finishes.
    """

    name = "avanomaly"

    def __init__(self, model=None, cache=None, workers: int = 1, device: str = "cpu", threads: int | None = None,
                 progress: bool = True, engine=None, **_ignored):
        from avanomaly.postprocess.modelfile import default_model_path, resolve_model_path

        self.model = str(default_model_path() if model is None else model)
        self.workers = max(1, int(workers))
        self.device = device
        self.threads = threads
        self.progress = progress
        self.engine = engine
        self._detector = None

        self._model_file = resolve_model_path(self.model)
        self.cache = Path(cache) / "scores" if cache else None
        self._model_key = None
        self._content_keys: dict[str, str] = {}

    def describe(self) -> dict:
        out = {"method": self.name, "model": str(self._model_file), "workers": self.workers}
        if self.engine is not None and not self.engine.is_local:
            out["engine"] = self.engine.describe()
        return out

    def _detector_for(self, trim: bool):
        if self._detector is None:
            self._detector = _load_detector(self.model, trim, self.device)  # raises CheckpointError early
        self._detector.preprocess_cfg = dataclasses.replace(self._detector.preprocess_cfg,
                                                            trim_leading_silence=bool(trim))
        return self._detector

    def _cache_file(self, path: str, trim: bool) -> Path | None:
        if self.cache is None:
            return None
        from avanomaly.utils import file_sha256

        if self._model_key is None:
            self._model_key = file_sha256(self._model_file)[:16]
        content = self._content_keys.get(path)
        if content is None:  # hashed once per file, shared by the raw and trimmed passes
            try:
                content = self._content_keys[path] = file_sha256(path)[:16]
            except OSError:
                return None  # unreadable: score it (the scorer reports the reason)
        return self.cache / self._model_key / ("trimmed" if trim else "raw") / f"{content}.json"

    def score_many(self, paths: Sequence, trim_leading_silence: bool = False, on_row=None) -> pd.DataFrame:
        """One row per path (see registry); ``on_row(i, row)`` is called as the row of ``paths[i]`` is ready (a
        cached clip at once, the others as they finish, in any order with several workers)."""
        trim = bool(trim_leading_silence)
        detector = self._detector_for(trim)
        rows: dict[int, dict] = {}
        todo: list[int] = []
        files = {}
        for i, p in enumerate(paths):
            cf = self._cache_file(str(p), trim)
            files[i] = cf
            if cf is not None and cf.exists():
                try:
                    rec = json.loads(cf.read_text())
                    if rec.get("version") == SCORE_CACHE_VERSION:
                        rows[i] = {**rec["row"], "path": str(p)}
                        if on_row is not None:
                            on_row(i, rows[i])
                        continue
                except (OSError, ValueError, KeyError):
                    log.warning("ignoring unreadable score cache entry %s", cf)
            todo.append(i)
        if todo:
            log.info("scoring %d clip(s) (%s pass), %d from cache", len(todo), "trimmed" if trim else "raw",
                     len(paths) - len(todo))
        todo_paths = [str(paths[i]) for i in todo]
        from avanomaly.utils import atomic_write_json

        def record(j: int, res) -> None:
            i = todo[j]
            rows[i] = row = result_row(res, trim)
            cf = files[i]
            if cf is not None and row["status"] == "ok":  # failures are retried next time
                atomic_write_json(cf, {"version": SCORE_CACHE_VERSION, "row": row})
            if on_row is not None:
                on_row(i, row)

        bar = self._progress(len(todo), trim)
        try:
            on_cluster = self.engine is not None and not self.engine.is_local
            if (self.workers > 1 or on_cluster) and len(todo) > 1:
                from avanomaly.scoring.pool import scoring_pool

                with scoring_pool(todo_paths, self.workers, _load_detector, (self.model, trim, self.device),
                                  threads=self.threads, engine=self.engine) as finished:
                    for j, res in finished:
                        record(j, res)
                        bar.update(1)
            else:
                for j, p in enumerate(todo_paths):
                    record(j, detector.score_one_safe(p))
                    bar.update(1)
        finally:
            bar.close()
        return pd.DataFrame([rows[i] for i in range(len(paths))], columns=list(SCORE_COLUMNS))

    def _progress(self, total, trim):
        """One tqdm bar per pass on stderr; off without ``progress`` and when stderr is not a terminal."""
        from tqdm import tqdm

        return tqdm(total=total, desc=f"scoring ({'trimmed' if trim else 'raw'})", unit="clip",
                    disable=True if not self.progress else None)
