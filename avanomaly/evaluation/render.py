"""The report's text: what it says (sections of paragraphs, tables and figures, built from the passes) and how it
is written, as Markdown and as one self-contained HTML file, through the Jinja2 templates in ``templates/``."""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from avanomaly.evaluation.compute import HONEST_NOTE, HONEST_PASS, PassResult

TEMPLATES = Path(__file__).with_name("templates")


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


def _is_note(paragraph: str) -> bool:
    """Paragraphs the HTML report highlights: the honest-pass note and warnings."""
    return paragraph == HONEST_NOTE or paragraph.startswith("Warning")


@lru_cache(maxsize=None)
def _environment():
    """The templates' Jinja2 environment. No autoescape: the HTML template escapes every text through ``esc``
    (``html.escape``) and the cells through ``html_cell``; the Markdown one writes text as it is."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters.update(esc=lambda v: html.escape(str(v)), inline_md=_inline_md, html_cell=_html_cell,
                       relative_to=lambda path, root: Path(path).relative_to(root).as_posix(),
                       png_base64=lambda path: base64.b64encode(Path(path).read_bytes()).decode("ascii"))
    env.tests["note"] = _is_note
    env.globals["markdown_table"] = markdown_table
    return env


def render_markdown(sections, title: str, out_dir: Path) -> str:
    """report.md: the sections as Markdown, figures linked relative to ``out_dir``."""
    text = _environment().get_template("report.md.j2").render(sections=sections, title=title, out_dir=Path(out_dir))
    return text[:-1] if text.endswith("\n\n") else text  # one newline at the end, after the last blank line


def render_html(sections, title: str) -> str:
    """report.html: one self-contained page (style inline, figures embedded as base64 PNG)."""
    css = "\n" + (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return _environment().get_template("report.html.j2").render(sections=sections, title=title, css=css)


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
