"""Per-category evaluation of per-clip scores: writes metrics.json, the CSVs, the plots, report.md and report.html.

Three parts, one module each: :mod:`~avanomaly.evaluation.compute` (the metrics of each pass, from a plain
DataFrame of per-clip results: columns in ``RESULT_COLUMNS``), :mod:`~avanomaly.evaluation.plots` (the figures)
and :mod:`~avanomaly.evaluation.render` (the report's sections and their Markdown / HTML templates). This module
runs them in order (:func:`evaluate`) and re-exports what callers import from it.
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path

import numpy as np
import pandas as pd

from avanomaly.errors import DatasetError
from avanomaly.evaluation import metrics as M
from avanomaly.evaluation.compute import (DETAILED_COLUMNS, DETAILED_OPTIONAL, FAKE_CATEGORIES,  # noqa: F401
                                          HONEST_NOTE, HONEST_PASS, PASS_NAMES, PUBLISHED_SUBCATEGORIES,
                                          RESULT_COLUMNS, Comparison, PassResult, evaluate_pass,
                                          normalise_results, subcategory_of, threshold_sweep)
from avanomaly.evaluation.detailed import DETAILED_FILE, detailed_frame
from avanomaly.evaluation.plots import make_plots
from avanomaly.evaluation.render import (build_sections, markdown_table, per_category_table,  # noqa: F401
                                         render_html, render_markdown)
from avanomaly.utils import atomic_write_json, atomic_write_text


def evaluate(results: pd.DataFrame, out_dir, threshold: float | None = None, bootstrap: int = 1000, seed: int = 0,
             fpr_points=M.DEFAULT_FPR_POINTS, title: str = "avanomaly evaluation report", plots: bool = True,
             extra: dict | None = None) -> dict:
    """Evaluate per-clip results and write the report folder. Returns the ``metrics.json`` content.

    ``results`` holds one row per clip and pass (``trimmed`` False / True). ``threshold`` overrides the
    calibrated threshold found in the rows. ``extra`` (model path, data path, ...) is stored in metrics.json.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = normalise_results(results)
    if df.empty:
        raise DatasetError("results table is empty: nothing to evaluate")
    passes: dict[str, PassResult] = {}
    sweeps = []
    for trimmed in sorted(set(df["trimmed"])):
        name = PASS_NAMES[bool(trimmed)]
        part = df[df["trimmed"] == trimmed]
        res = evaluate_pass(part, name, threshold=threshold, bootstrap=bootstrap, seed=seed, fpr_points=fpr_points)
        if plots:
            res.plots = make_plots(part, res, out / "plots")
        passes[name] = res
        sw = threshold_sweep(part)
        sw.insert(0, "pass", name)
        sweeps.append(sw)

    # replaces the rows streamed while scoring (evaluation.detailed): input order, pass by pass
    atomic_write_text(out / DETAILED_FILE, detailed_frame(df).to_csv(index=False))
    atomic_write_text(out / "threshold_sweep.csv", pd.concat(sweeps, ignore_index=True).to_csv(index=False))

    from avanomaly._version import __version__

    fpr_keys = [f"{p:g}" for p in fpr_points]
    payload = {
        "avanomaly_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "conventions": {"positive_class": "fake", "score": "higher = more fake",
                        "decision": "fake when score >= threshold", "ci_level": M.CI_LEVEL,
                        "bootstrap": bootstrap, "seed": seed, "fpr_points": list(fpr_points)},
        "honest_pass": HONEST_PASS if HONEST_PASS in passes else None,
        "summary": {n: r.summary for n, r in passes.items()},
        "passes": {n: {"threshold": r.threshold, "threshold_source": r.threshold_source, "n_clips": r.n_clips,
                       "n_real": r.n_real, "n_fake": r.n_fake, "n_failed": len(r.failures), "failures": r.failures,
                       "warnings": r.warnings,
                       "comparisons": [{"kind": c.kind, "name": c.name, "published": c.published,
                                        **c.report.to_dict()} for c in r.comparisons],
                       "operating_points": [vars(op) for op in r.operating_points],
                       "plots": {k: str(Path(p).relative_to(out)) for k, p in r.plots.items()}}
                   for n, r in passes.items()},
        **({"run": extra} if extra else {}),
    }
    atomic_write_json(out / "metrics.json", _clean(payload))
    sections = build_sections(passes, df, fpr_keys, bootstrap)
    atomic_write_text(out / "report.md", render_markdown(sections, title, out))
    atomic_write_text(out / "report.html", render_html(sections, title))
    return payload


def _clean(o):
    """NaN/inf -> None so metrics.json is strict JSON."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, np.integer):
        return int(o)
    return o
