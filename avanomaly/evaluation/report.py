"""Per-category evaluation of per-clip scores: metrics.json, CSVs, plots, report.md and report.html.

Everything here works from a plain DataFrame of per-clip results (one row per clip and pass), so it is
independent of how the scores were produced. Columns (see :data:`RESULT_COLUMNS`):

``path, label, category, method, subcategory, identity, split, dataset, score, verdict, threshold,
offset, confidence, face_rate, trimmed, trimmed_seconds, status, error`` and optionally ``nll`` and
``times`` (per-frame NLL curve and its frame times in seconds, as lists).

``trimmed`` tells the pass: ``False`` = raw clip, ``True`` = leading silence trimmed before scoring.
``status`` is ``"ok"`` or ``"failed"``; failed clips are listed and counted, never silently dropped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from avanomaly.data.fakeavceleb import CATEGORIES, REAL_CATEGORY
from avanomaly.data.fakeavceleb import subcategory_of  # the one (category, method) -> sub-category ('' if none)
from avanomaly.errors import DatasetError
from avanomaly.evaluation import metrics as M
from avanomaly.utils import atomic_write_json, atomic_write_text

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
PLOT_DPI = 90
HIST_BINS = 40


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


# ------------------------------------------------------------------------------------------------ plots
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI, bbox_inches="tight")  # keeps legends placed outside the axes
    _plt().close(fig)
    return path


#: one colour per category on every figure (matplotlib tab10 entries)
CATEGORY_COLOURS = {REAL_CATEGORY: "tab:blue", "RealVideo-FakeAudio": "tab:orange", "FakeVideo-RealAudio": "tab:green",
                    "FakeVideo-FakeAudio": "tab:red"}


def _colour(cat: str):
    return CATEGORY_COLOURS.get(cat)


def _by_category(ok: pd.DataFrame):
    reals = ok[ok["label"] == "real"]
    for cat in sorted(set(ok.loc[ok["label"] == "fake", "category"])):
        yield cat, reals, ok[(ok["label"] == "fake") & (ok["category"] == cat)]


def make_plots(df: pd.DataFrame, res: PassResult, out_dir: Path) -> dict:
    """ROC, precision-recall, score histograms, threshold-vs-rate curves, per-frame NLL examples."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    ok = df[df["status"] == "ok"]
    plots = {}
    pairs = list(_by_category(ok))
    if not pairs or ok[ok["label"] == "real"].empty:
        return plots
    tag = res.name

    fig, ax = plt.subplots(figsize=(6, 5))
    for cat, reals, fakes in pairs:
        y = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
        s = np.r_[reals["score"], fakes["score"]]
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, c=_colour(cat), label=f"{cat} (AUC {M.roc_auc(y, s):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=1)
    ax.set(xlabel="false positive rate (reals called fake)", ylabel="true positive rate (fakes caught)",
           title=f"ROC per category ({tag})", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    plots["roc"] = _save(fig, out_dir / f"roc_{tag}.png")

    fig, ax = plt.subplots(figsize=(6, 5))
    for cat, reals, fakes in pairs:
        y = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
        s = np.r_[reals["score"], fakes["score"]]
        p, r, _ = precision_recall_curve(y, s)
        ax.step(r, p, where="post", c=_colour(cat), label=f"{cat} (AP {M.average_precision(y, s):.3f})")
    ax.set(xlabel="recall (fakes caught)", ylabel="precision", title=f"Precision-recall per category ({tag})",
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left", fontsize=8)
    plots["pr"] = _save(fig, out_dir / f"pr_{tag}.png")

    fig, ax = plt.subplots(figsize=(9, 4.5))
    lo, hi = float(ok["score"].min()), float(ok["score"].max())
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, HIST_BINS + 1)
    for cat in [REAL_CATEGORY] + [c for c, _, _ in pairs if c != REAL_CATEGORY]:
        part = ok[ok["category"] == cat] if cat != REAL_CATEGORY else ok[ok["label"] == "real"]
        if len(part):
            ax.hist(part["score"], bins=bins, histtype="step", lw=1.5, density=True, color=_colour(cat),
                    label=f"{cat} (n={len(part)})")
    styles = {"calibrated": "-", "eer": "--", "best_f1": ":"}
    for op in res.operating_points:
        if op.threshold is not None:
            ax.axvline(op.threshold, c="k", ls=styles.get(op.name, "-."), lw=1, label=f"{op.name} threshold")
    ax.set(xlabel="anomaly score (higher = more fake)", ylabel="density", title=f"Score distributions ({tag})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plots["hist"] = _save(fig, out_dir / f"hist_{tag}.png")

    sweep = threshold_sweep(df)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(sweep["threshold"], sweep["fpr"], c="k", lw=2, label="FPR (reals called fake)")
    for col in [c for c in sweep.columns if c.startswith("tpr_")]:
        ax.plot(sweep["threshold"], sweep[col], c=_colour(col[4:]), label=f"TPR {col[4:]}")
    if res.threshold is not None:
        ax.axvline(res.threshold, c="r", ls="--", lw=1, label="calibrated threshold")
    ax.set(xlabel="threshold (score >= threshold is fake)", ylabel="rate", title=f"Rates vs threshold ({tag})",
           ylim=(0, 1.01))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plots["rates"] = _save(fig, out_dir / f"rates_{tag}.png")

    if "nll" in ok.columns:
        has_curve = ok["nll"].map(lambda v: v is not None and not (isinstance(v, float) and math.isnan(v))
                                  and len(v) > 0)
        curves = ok[has_curve]
        cats = [c for c in [REAL_CATEGORY, *sorted(set(curves["category"]) - {REAL_CATEGORY})]
                if c in set(curves["category"])]
        if cats:
            fig, axes = plt.subplots(len(cats), 1, figsize=(10, 2.2 * len(cats)), squeeze=False)
            for ax, cat in zip(axes[:, 0], cats):
                part = curves[curves["category"] == cat].sort_values("score")
                for row, label in ((part.iloc[-1], "most anomalous"), (part.iloc[0], "least anomalous")):
                    nll = np.asarray(row["nll"], float)
                    times = row.get("times") if "times" in part.columns else None
                    x = np.asarray(times, float) if times is not None and len(times) == len(nll) else np.arange(len(nll))
                    ax.plot(x, nll, lw=1, c="tab:red" if label.startswith("most") else "tab:blue",
                            label=f"{label}: {Path(str(row['path'])).name} (score {row['score']:.5g})")
                ax.set_title(cat, fontsize=9)
                ax.set_ylabel("NLL")
                ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            axes[-1, 0].set_xlabel("time (s)")
            fig.suptitle(f"Per-frame NLL, most / least anomalous clip per category ({tag})", fontsize=10)
            plots["nll"] = _save(fig, out_dir / f"nll_{tag}.png")
    return plots


# ---------------------------------------------------------------------------------------- report model
def _f(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{v:.{digits}f}"


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _ci(ci) -> str:
    return "" if not ci else f" [{ci[0]:.3f}, {ci[1]:.3f}]"


@dataclass
class Table:
    headers: list
    rows: list
    caption: str = ""


@dataclass
class Section:
    title: str
    paragraphs: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    images: list = field(default_factory=list)  # (caption, Path)


KIND_TITLES = {"category": "Real vs each FakeAVCeleb category", "method": "Real vs each generation method",
               "subcategory": "Real vs the sub-categories of published real-only detectors",
               "pooled": "Real vs all fakes pooled"}


def _side_by_side(passes: dict) -> Table:
    names = list(passes)
    first = passes[names[0]]
    headers = ["comparison", "n real", "n fake"]
    for metric in ("AUC", "AP", "EER", "TPR@5%FPR"):
        headers += [f"{metric} {n}" for n in names]
    rows = []
    index = {n: {(c.kind, c.name): c.report for c in passes[n].comparisons} for n in names}
    for comp in first.comparisons:
        label = comp.name if comp.kind != "subcategory" or comp.published else f"{comp.name} (not in papers)"
        row = [f"{comp.kind}: {label}", comp.report.n_real, comp.report.n_fake]
        reps = [index[n].get((comp.kind, comp.name)) for n in names]
        row += [_f(r.auc) if r else "–" for r in reps]
        row += [_f(r.ap) if r else "–" for r in reps]
        row += [_pct(r.eer) if r else "–" for r in reps]
        row += [_pct(r.tpr_at_fpr.get("0.05", {}).get("tpr")) if r else "–" for r in reps]
        rows.append(row)
    return Table(headers, rows, "Raw vs trimmed, side by side (trimmed = honest)")


def _detail_table(res: PassResult, kind: str, fpr_keys) -> Table:
    headers = ["fakes", "n real", "n fake", "AUC [95% CI]", "AP [95% CI]", "EER", "EER thr"]
    headers += [f"TPR@{float(k):.0%}FPR" for k in fpr_keys]
    with_thr = res.threshold is not None
    if with_thr:
        headers += ["acc", "precision", "recall", "F1"]
    rows = []
    for c in res.comparisons:
        if c.kind != kind:
            continue
        r = c.report
        t = r.at_threshold or {}
        name = c.name if c.published else f"{c.name} (not in papers)"
        rows.append([name, r.n_real, r.n_fake, _f(r.auc) + _ci(r.auc_ci), _f(r.ap) + _ci(r.ap_ci), _pct(r.eer),
                     _f(r.eer_threshold, 4)] + [_pct(r.tpr_at_fpr.get(k, {}).get("tpr")) for k in fpr_keys]
                    + ([_f(t.get("accuracy")), _f(t.get("precision")), _f(t.get("recall")), _f(t.get("f1"))]
                       if with_thr else []))
    return Table(headers, rows)


def build_sections(passes: dict, df: pd.DataFrame, fpr_keys, bootstrap: int) -> list:
    secs = []
    intro = Section("Protocol")
    ok_pass = passes[list(passes)[0]]
    intro.paragraphs += [
        f"Clips evaluated: {ok_pass.n_clips} per pass ({ok_pass.n_real} real scored). Score convention: "
        "higher = more fake; fake is the positive class; a clip is called fake when score >= threshold.",
        "The model was trained on real clips only; real test clips come from identities not seen in training. "
        "Every comparison uses all scored real test clips against one group of fakes.",
        f"Confidence intervals: stratified percentile bootstrap, {bootstrap} resamples (0 = none).",
    ]
    if len(passes) > 1:
        intro.paragraphs.append(HONEST_NOTE)
    else:
        intro.paragraphs.append(f"Only the {list(passes)[0]} pass was run. " + HONEST_NOTE)
    secs.append(intro)

    summ = Section("Summary (DeepfakeBench style, video level)")
    rows = []
    for pname, res in passes.items():
        for ds, line in res.summary.items():
            rows.append([ds, pname, _f(line["acc"]), _f(line["auc"]), _pct(line["eer"]), _f(line["ap"]),
                         _f(line["video_auc"]), line["n_real"], line["n_fake"]])
    summ.tables.append(Table(["dataset", "pass", "acc", "AUC", "EER", "AP", "video AUC", "n real", "n fake"], rows))
    kind = ok_pass.summary and next(iter(ok_pass.summary.values()))["acc_threshold_kind"]
    why = "the model's calibrated threshold" if kind == "calibrated" else \
        "the EER threshold of the test scores (the model has no calibrated threshold)"
    summ.paragraphs.append(f"acc is measured at {why}; video AUC equals AUC (one score per clip).")
    secs.append(summ)

    if len(passes) > 1:
        secs.append(Section("Raw vs trimmed", tables=[_side_by_side(passes)], paragraphs=[
            "Same clips, scored twice: as they are (raw) and with the leading silence trimmed. "
            "Read the **trimmed** columns; a large raw-minus-trimmed gap means the raw score used the silence."]))

    for pname, res in passes.items():
        sec = Section(f"Pass: {pname}" + (" (honest numbers)" if pname == HONEST_PASS else ""))
        if res.threshold is None:
            sec.paragraphs.append("No decision threshold: the model is uncalibrated (run `avanomaly calibrate` or "
                                  "pass --threshold), so accuracy / precision / recall / F1 are left out.")
        else:
            sec.paragraphs.append(f"Threshold for acc / precision / recall / F1: {res.threshold:.6g}, "
                                  f"{res.threshold_source}.")
        sec.paragraphs += [f"Warning: {w}" for w in res.warnings]
        for kind in ("category", "method", "subcategory", "pooled"):
            t = _detail_table(res, kind, fpr_keys)
            if t.rows:
                t.caption = KIND_TITLES[kind]
                sec.tables.append(t)
        ops = [[op.name, _f(op.threshold, 4), _pct(op.fpr), _pct(op.tpr), _f(op.precision), _f(op.f1), op.note]
               for op in res.operating_points]
        sec.tables.append(Table(["threshold", "value", "FPR (cost)", "TPR", "precision", "F1", "how chosen"], ops,
                                "Operating points (all fakes pooled)"))
        if res.failures:
            sec.tables.append(Table(["path", "category", "error"],
                                    [[f["path"], f["category"], f["error"]] for f in res.failures],
                                    f"{len(res.failures)} clip(s) failed to score and are excluded from the metrics"))
        else:
            sec.paragraphs.append("Every clip was scored (no failures).")
        captions = {"roc": "ROC per category", "pr": "Precision-recall per category",
                    "hist": "Score histograms with thresholds", "rates": "FPR / TPR vs threshold",
                    "nll": "Per-frame NLL of the most and least anomalous clip per category"}
        sec.images = [(captions[k], p) for k, p in res.plots.items()]
        secs.append(sec)
    return secs


# --------------------------------------------------------------------------------------------- renderers
def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers, rows) -> list[str]:
    """Lines of a Markdown table (cells escaped)."""
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return lines + ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]


def render_markdown(sections, title: str, out_dir: Path) -> str:
    lines = [f"# {title}", ""]
    for sec in sections:
        lines += [f"## {sec.title}", ""]
        for p in sec.paragraphs:
            lines += [p, ""]
        for t in sec.tables:
            if t.caption:
                lines += [f"**{t.caption}**", ""]
            lines += markdown_table(t.headers, t.rows)
            lines.append("")
        for caption, path in sec.images:
            lines += [f"![{caption}]({Path(path).relative_to(out_dir).as_posix()})", ""]
    return "\n".join(lines)


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1150px;color:#222;
line-height:1.45;padding:0 1em}
h1{border-bottom:2px solid #444;padding-bottom:.2em} h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#eef1f5;text-align:center} td.text{text-align:left;white-space:normal}
td small{color:#666}
tr:nth-child(even) td{background:#fafafa}
caption{caption-side:top;text-align:left;font-weight:bold;padding:.3em 0}
.note{background:#fff8e1;border-left:4px solid #f0ad4e;padding:.5em 1em}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figcaption{font-size:13px;color:#555}
img{max-width:100%;border:1px solid #ddd}
.scroll{overflow-x:auto}
"""


def _inline_md(text: str) -> str:
    out = html.escape(text)
    parts = out.split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


_NUMERIC = re.compile(r"^[-+–0-9.,%e\[\] ]*$")
_WITH_CI = re.compile(r"^(\S+) (\[[^\]]+\])$")


def _html_cell(value) -> str:
    text = str(value)
    m = _WITH_CI.match(text)
    if m:  # "0.896 [0.729, 0.998]" -> value over a small CI line (keeps tables narrow)
        return f"<td>{html.escape(m.group(1))}<br><small>{html.escape(m.group(2))}</small></td>"
    cls = "" if _NUMERIC.match(text) else ' class="text"'
    return f"<td{cls}>{html.escape(text)}</td>"


def render_html(sections, title: str) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for sec in sections:
        body.append(f"<h2>{html.escape(sec.title)}</h2>")
        for p in sec.paragraphs:
            cls = ' class="note"' if p == HONEST_NOTE or p.startswith("Warning") else ""
            body.append(f"<p{cls}>{_inline_md(p)}</p>")
        for t in sec.tables:
            body.append('<div class="scroll"><table>')
            if t.caption:
                body.append(f"<caption>{html.escape(t.caption)}</caption>")
            body.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in t.headers) + "</tr>")
            for row in t.rows:
                body.append("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>")
            body.append("</table></div>")
        for caption, path in sec.images:
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


# ------------------------------------------------------------------------------------------------- main
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

    detailed = df[[c for c in DETAILED_COLUMNS + DETAILED_OPTIONAL if c in df.columns]]
    atomic_write_text(out / "detailed_results.csv", detailed.to_csv(index=False))
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


def per_category_table(metrics: dict, kind: str = "category") -> str:
    """Short text table (for the CLI): AUC / AP / EER per comparison of ``kind``, one column per pass."""
    passes = metrics["passes"]
    names = list(passes)
    header = f"{'fakes':<24}" + "".join(f"{'AUC ' + n:>13}{'AP ' + n:>13}{'EER ' + n:>13}" for n in names)
    lines = [header, "-" * len(header)]
    first = passes[names[0]]["comparisons"]
    index = {n: {(c["kind"], c["name"]): c for c in passes[n]["comparisons"]} for n in names}
    for c in first:
        if c["kind"] not in (kind, "pooled"):
            continue
        cells = ""
        for n in names:
            r = index[n].get((c["kind"], c["name"]), {})
            cells += f"{_f(r.get('auc')):>13}{_f(r.get('ap')):>13}{_pct(r.get('eer')):>13}"
        lines.append(f"{c['name'][:24]:<24}{cells}")
    return "\n".join(lines)
