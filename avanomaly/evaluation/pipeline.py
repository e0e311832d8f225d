"""Score a dataset split with a registered scorer (raw and silence-trimmed) and write the report."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from avanomaly.errors import DatasetError
from avanomaly.evaluation.report import evaluate
from avanomaly.evaluation.scorers import create_scorer

log = logging.getLogger(__name__)

#: manifest columns carried into the results table
MANIFEST_COLUMNS = ("path", "label", "category", "method", "subcategory", "identity", "split")
#: manifest labels that are evaluated (``bad`` rows of the shared dev set are deliberately unusable inputs)
EVALUATED_LABELS = ("real", "fake")


def select_split(manifest: pd.DataFrame, split: str | None) -> pd.DataFrame:
    """Rows of ``split`` (``None``/``"all"`` = every row) with label real/fake; clear errors otherwise."""
    df = manifest
    if split not in (None, "all"):
        if "split" not in df.columns:
            raise DatasetError("the manifest has no 'split' column; pass --split all or add one")
        df = df[df["split"].astype(str) == split]
        if df.empty:
            found = sorted(set(manifest["split"].astype(str)))
            raise DatasetError(f"no clips in split '{split}'; splits present: {found} (use --split all for every clip)")
    skipped = df[~df["label"].isin(EVALUATED_LABELS)]
    if len(skipped):
        log.warning("leaving out %d clip(s) labelled %s (not real/fake)", len(skipped),
                    sorted(set(skipped["label"])))
    df = df[df["label"].isin(EVALUATED_LABELS)]
    if not (df["label"] == "real").any():
        raise DatasetError(f"split '{split}' has no real clips: nothing to compare the fakes with")
    if not (df["label"] == "fake").any():
        raise DatasetError(f"split '{split}' has no fake clips: nothing to detect")
    return df.reset_index(drop=True)


def _accepts_on_row(scorer) -> bool:
    """Whether ``scorer.score_many`` takes ``on_row`` (it reports each row as it finishes, see registry)."""
    import inspect

    try:
        return "on_row" in inspect.signature(scorer.score_many).parameters
    except (TypeError, ValueError):
        return False


def score_clips(clips: pd.DataFrame, scorer, trimmed_pass: bool = True, dataset: str = "dataset",
                on_row=None) -> pd.DataFrame:
    """Run ``scorer`` on every clip (raw, and trimmed when ``trimmed_pass``) -> results table for evaluate().

    ``on_row(row)``: called with each results-table row (manifest columns + the scorer's + ``trimmed``) as its
    clip finishes, when the scorer reports rows as they finish (``score_many(..., on_row=...)``), else with the
    pass's rows once the scorer returns them."""
    base = clips[[c for c in MANIFEST_COLUMNS if c in clips.columns]].copy()
    if "trimmed" in clips.columns:  # the manifest's pre-computed leading silence (seconds)
        base["leading_silence_s"] = clips["trimmed"].to_numpy()
    base["dataset"] = dataset
    base = base.reset_index(drop=True)
    paths = base["path"].astype(str).tolist()
    streams = on_row is not None and _accepts_on_row(scorer)
    parts = []
    for trim in ([False, True] if trimmed_pass else [False]):
        def finished(i: int, row: dict, trim=trim) -> None:
            # the manifest's path is kept (the scorer's may be spelled otherwise), the pass is what we asked for
            on_row({**base.iloc[i].to_dict(), **{k: v for k, v in row.items() if k != "path"}, "trimmed": trim})

        kwargs = {"on_row": finished} if streams else {}
        scored = scorer.score_many(paths, trim_leading_silence=trim, **kwargs)
        if len(scored) != len(paths) or list(scored["path"].astype(str)) != paths:
            raise DatasetError(f"scorer '{getattr(scorer, 'name', scorer)}' returned {len(scored)} row(s) for "
                               f"{len(paths)} clip(s) or changed their order; every clip needs one row")
        scored = scored.drop(columns=["path"]).reset_index(drop=True)
        scored["trimmed"] = trim  # the pass is what we asked for, whatever the scorer wrote
        if on_row is not None and not streams:
            for i, row in enumerate(scored.to_dict("records")):
                finished(i, row)
        parts.append(pd.concat([base, scored], axis=1))
    return pd.concat(parts, ignore_index=True)


def evaluate_model(model, data, out, split: str | None = "test", method: str = "avanomaly", bootstrap: int = 1000,
                   trimmed_pass: bool = True, cache=None, workers: int = 1, threshold: float | None = None,
                   seed: int = 0, dataset: str | None = None, progress: bool = True, engine=None) -> dict:
    """Read ``data`` (manifest CSV or FakeAVCeleb root), score ``split`` with ``method`` and write the report.

    ``seed`` seeds the bootstrap and, for a FakeAVCeleb root, its identity split (``read_manifest(data, seed)``).
    ``engine``: where the avanomaly scorer's per-file work runs (:class:`avanomaly.distributed.EngineSpec`).
    Each clip's row goes to ``out/detailed_results.csv`` as it finishes (:mod:`avanomaly.evaluation.detailed`);
    the finished report rewrites that file in input order.
    """
    from avanomaly.data import read_manifest
    from avanomaly.evaluation.detailed import DetailedStream

    clips = select_split(read_manifest(data, seed=seed), split)
    scorer = create_scorer(method, model=model, cache=cache, workers=workers, progress=progress,
                           engine=engine)
    name = dataset or Path(str(data)).name.removesuffix(".csv")
    base_columns = [*clips.columns, *(["leading_silence_s"] if "trimmed" in clips.columns else [])]
    with DetailedStream(out, base_columns) as stream:
        results = score_clips(clips, scorer, trimmed_pass=trimmed_pass, dataset=name, on_row=stream.append)
        extra = {"data": str(data), "split": split, **scorer.describe()}
        return evaluate(results, out, threshold=threshold, bootstrap=bootstrap, seed=seed, extra=extra)
