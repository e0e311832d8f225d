"""Per-category metrics of per-clip scores, pass by pass (raw / trimmed): the computing part of the report.

Everything here works from a plain DataFrame of per-clip results (one row per clip and pass), so it is
independent of how the scores were produced. Columns (see :data:`RESULT_COLUMNS`):

``path, label, category, method, subcategory, identity, split, dataset, score, verdict, threshold,
offset, confidence, face_rate, trimmed, trimmed_seconds, status, error`` and optionally ``nll`` and
``times`` (per-frame NLL curve and its frame times in seconds, as lists).

``trimmed`` tells the pass: ``False`` = raw clip, ``True`` = leading silence trimmed before scoring.
``status`` is ``"ok"`` or ``"failed"``; failed clips are listed and counted, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from avanomaly.data.fakeavceleb import CATEGORIES, REAL_CATEGORY
from avanomaly.data.fakeavceleb import subcategory_of  # the one (category, method) -> sub-category ('' if none)
from avanomaly.errors import DatasetError
from avanomaly.evaluation import metrics as M

FAKE_CATEGORIES = tuple(c for c in CATEGORIES if c != REAL_CATEGORY)
#: sub-categories used by published real-only detectors (AVAD, AVH-Align, ...), in their order.
#: FVRA-FS / FVRA-GAN exist in FakeAVCeleb but are unused by the papers.
PUBLISHED_SUBCATEGORIES = ("RVFA", "FVRA-WL", "FVFA-WL", "FVFA-FS", "FVFA-GAN")
RESULT_COLUMNS = ("path", "label", "category", "method", "subcategory", "identity", "split", "dataset", "score",
                  "verdict", "threshold", "offset", "confidence", "face_rate", "trimmed", "trimmed_seconds",
                  "status", "error")
DETAILED_COLUMNS = ("path", "category", "method", "subcategory", "identity", "label", "split", "dataset", "score",
                    "verdict", "threshold", "offset", "confidence", "face_rate", "trimmed", "trimmed_seconds",
                    "status", "error")
#: written to detailed_results.csv when present (the manifest's leading silence, the scorer's warnings)
DETAILED_OPTIONAL = ("leading_silence_s", "warnings")
PASS_NAMES = {False: "raw", True: "trimmed"}
HONEST_PASS = "trimmed"
HONEST_NOTE = ("FakeAVCeleb fakes start with a short silence that alone separates them from the real clips "
               "(AVH-Align, arXiv 2412.00175). The **trimmed** numbers (leading silence removed before scoring) "
               "are the honest ones; the raw numbers are shown only for comparison with published work.")


@dataclass
class Comparison:
    kind: str  # "category" | "method" | "subcategory" | "pooled"
    name: str
    report: M.BinaryReport
    published: bool = True  # False for sub-categories that published real-only detectors leave out


@dataclass
class PassResult:
    name: str  # "raw" | "trimmed"
    threshold: float | None
    threshold_source: str
    n_clips: int
    n_real: int  # real clips scored successfully
    n_fake: int = 0  # fake clips scored successfully
    failures: list = field(default_factory=list)  # [{"path", "label", "category", "error"}]
    comparisons: list = field(default_factory=list)
    operating_points: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)  # dataset -> DeepfakeBench-style line
    warnings: list = field(default_factory=list)
    plots: dict = field(default_factory=dict)  # plot name -> Path


# ----------------------------------------------------------------------------------------------- inputs
def normalise_results(df: pd.DataFrame) -> pd.DataFrame:
    """Check the required columns and fill the optional ones (subcategory, status, trimmed, ...)."""
    required = ("path", "label", "category", "score")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DatasetError(f"results table lacks column(s) {missing}; it has {list(df.columns)}")
    df = df.copy()
    df["label"] = df["label"].astype(str).str.lower()
    bad = sorted(set(df["label"]) - {"real", "fake"})
    if bad:
        raise DatasetError(f"results: label must be 'real' or 'fake', found {bad[:5]}")
    defaults = {"method": "", "identity": "", "split": "", "dataset": "dataset", "verdict": "", "threshold": np.nan,
                "offset": np.nan, "confidence": np.nan, "face_rate": np.nan, "trimmed": False,
                "trimmed_seconds": np.nan, "status": "ok", "error": ""}
    for col, value in defaults.items():
        if col not in df.columns:
            df[col] = value
    df["method"] = df["method"].fillna("").astype(str)
    df["dataset"] = df["dataset"].fillna("dataset").astype(str)
    if "subcategory" not in df.columns:
        df["subcategory"] = ""
    sub = df["subcategory"].fillna("").astype(str)
    derived = [subcategory_of(c, m) for c, m in zip(df["category"], df["method"])]
    df["subcategory"] = [s if s else d for s, d in zip(sub, derived)]
    df["trimmed"] = df["trimmed"].astype(bool)
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    df["status"] = df["status"].fillna("ok").astype(str)
    df["error"] = df["error"].fillna("").astype(str)
    nan_ok = (df["status"] == "ok") & ~np.isfinite(df["score"].to_numpy(dtype=float))
    df.loc[nan_ok, "status"] = "failed"
    df.loc[nan_ok, "error"] = "score is NaN/inf"
    return df


# ------------------------------------------------------------------------------------------- computing
def _pick_threshold(part: pd.DataFrame, threshold: float | None) -> tuple[float | None, str, list]:
    if threshold is not None:
        return float(threshold), "given on the command line / by the caller", []
    values = pd.to_numeric(part["threshold"], errors="coerce").dropna()
    if values.empty:
        return None, "the model has no calibrated threshold", []
    counts = values.round(12).value_counts()
    warn = []
    if len(counts) > 1:
        warn.append(f"clips carry {len(counts)} different thresholds; using the most common {counts.index[0]:.6g}")
    return float(counts.index[0]), "the model's calibrated threshold (held-out real clips)", warn


def _groups(ok: pd.DataFrame) -> list[tuple[str, str, pd.Series, bool]]:
    fakes = ok[ok["label"] == "fake"]
    groups = []
    for cat in [c for c in FAKE_CATEGORIES if c in set(fakes["category"])] + sorted(
            set(fakes["category"]) - set(FAKE_CATEGORIES)):
        groups.append(("category", cat, fakes["category"] == cat, True))
    for meth in sorted(set(fakes["method"]) - {""}):  # a manifest without methods has no method groups
        groups.append(("method", meth, fakes["method"] == meth, True))
    subs = set(fakes["subcategory"])
    for sub in [s for s in PUBLISHED_SUBCATEGORIES if s in subs]:
        groups.append(("subcategory", sub, fakes["subcategory"] == sub, True))
    for sub in sorted(subs - set(PUBLISHED_SUBCATEGORIES) - {""}):  # '': outside FakeAVCeleb's taxonomy
        groups.append(("subcategory", sub, fakes["subcategory"] == sub, False))
    groups.append(("pooled", "all fakes", pd.Series(True, index=fakes.index), True))
    return [(k, n, m.reindex(fakes.index, fill_value=False), p) for k, n, m, p in groups]


def evaluate_pass(df: pd.DataFrame, name: str, threshold: float | None = None, bootstrap: int = 1000,
                  seed: int = 0, fpr_points=M.DEFAULT_FPR_POINTS) -> PassResult:
    """All comparisons for one pass (rows of one ``trimmed`` value)."""
    thr, source, warnings = _pick_threshold(df, threshold)
    failed = df[df["status"] != "ok"]
    ok = df[df["status"] == "ok"]
    reals = ok[ok["label"] == "real"]
    fakes = ok[ok["label"] == "fake"]
    res = PassResult(name=name, threshold=thr, threshold_source=source, n_clips=len(df), n_real=len(reals),
                     n_fake=len(fakes), warnings=warnings,
                     failures=[{"path": r.path, "label": r.label, "category": r.category, "error": r.error}
                               for r in failed.itertuples()])
    if reals.empty:
        res.warnings.append("no successfully scored real clips: no comparison can be made")
    if fakes.empty:
        res.warnings.append("no successfully scored fake clips: no comparison can be made")
    for kind, gname, mask, published in _groups(ok):
        sel = fakes[mask]
        y = np.r_[np.zeros(len(reals), int), np.ones(len(sel), int)]
        s = np.r_[reals["score"].to_numpy(float), sel["score"].to_numpy(float)]
        rep = M.binary_report(y, s, threshold=thr, bootstrap=bootstrap, seed=seed, fpr_points=fpr_points)
        res.comparisons.append(Comparison(kind, gname, rep, published))
    y_all = (ok["label"] == "fake").to_numpy(int)
    s_all = ok["score"].to_numpy(float)
    res.operating_points = M.operating_points(y_all, s_all, calibrated=thr)
    for dataset, part in ok.groupby("dataset", sort=True):
        y = (part["label"] == "fake").to_numpy(int)
        s = part["score"].to_numpy(float)
        e, e_thr = M.eer(y, s)
        acc_thr = thr if thr is not None else e_thr
        acc = M.at_threshold(y, s, acc_thr).accuracy if acc_thr is not None and len(y) else None
        auc = M.roc_auc(y, s)
        res.summary[str(dataset)] = {"acc": acc, "acc_threshold": acc_thr,
                                     "acc_threshold_kind": "calibrated" if thr is not None else "eer",
                                     "auc": auc, "eer": e, "ap": M.average_precision(y, s), "video_auc": auc,
                                     "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum())}
    return res


def threshold_sweep(df: pd.DataFrame, max_points: int = M.MAX_SWEEP_POINTS) -> pd.DataFrame:
    """Sweep table of one pass: threshold, FPR, TPR (all fakes) and TPR per fake category."""
    ok = df[df["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=["threshold", "fpr", "tpr"])
    y = (ok["label"] == "fake").to_numpy(int)
    s = ok["score"].to_numpy(float)
    t = M.sweep_thresholds(s, max_points=max_points)
    fpr, tpr = M.rates_at(y, s, t)
    out = {"threshold": t, "fpr": fpr, "tpr": tpr}
    reals = ok["label"] == "real"
    for cat in sorted(set(ok.loc[~reals, "category"])):
        part = ok[reals | (ok["category"] == cat)]
        out[f"tpr_{cat}"] = M.rates_at((part["label"] == "fake").to_numpy(int), part["score"].to_numpy(float), t)[1]
    return pd.DataFrame(out)
