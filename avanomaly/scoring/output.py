"""How ``avanomaly score`` writes its results: the CSV columns and rows (also what ``--csv`` resumes from) and
the terminal table. The JSON document is each result's ``to_dict()`` (schema in docs/scoring.md)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from avanomaly.errors import MAX_MESSAGE_CHARS, shorten

#: columns of the CSV / table output
CSV_COLUMNS = ("path", "status", "score", "percentile", "verdict", "abstain", "threshold", "av_offset_frames",
               "av_offset_confidence", "face_rate", "duration", "warnings", "reason", "message",
               "file_size", "file_mtime_ns", "settings")


def csv_row(res) -> dict:
    """The CSV row of a result (``file_size`` / ``file_mtime_ns`` identify the file's content for resuming)."""
    from avanomaly.scoring.resume import file_identity

    d = res.to_dict()
    row = {k: d.get(k) for k in CSV_COLUMNS}
    row["warnings"] = "; ".join(d.get("warnings", []))
    row["abstain"] = " ".join(d.get("abstain", []))
    if row["message"] is not None:
        row["message"] = shorten(row["message"], MAX_MESSAGE_CHARS)
    row["file_size"], row["file_mtime_ns"] = file_identity(res.path) if res.path else ("", "")
    return row


def csv_record(row: dict) -> str:
    """One CSV line of a ``csv_row`` (columns CSV_COLUMNS)."""
    buf = io.StringIO()
    csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n").writerow(row)
    return buf.getvalue()


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def result_name(path, missing: str) -> str:
    """The file name shown for a result (``missing`` when it has no path: an array or a failed lookup)."""
    return shorten(Path(path).name) if path else missing


def render_table(results) -> str:
    """The terminal table of ``avanomaly score``: one line per result."""
    head = ("file", "score", "pctile", "verdict", "AV offset", "conf", "face rate", "notes")
    rows = []
    for r in results:
        if not r.ok:
            rows.append((result_name(r.path, "?"), "-", "-", "FAILED", "-", "-", "-", shorten(r.reason)))
            continue
        rows.append((result_name(r.path, "<array>"), f"{r.score:.4f}", _fmt(r.percentile, ".1f"),
                     r.verdict or "n/a", f"{r.av_offset_frames:+d}", f"{r.av_offset_confidence:.2f}",
                     f"{r.face_rate:.2f}", f"{len(r.warnings)} warning(s)" if r.warnings else ""))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [head, *rows]]
    return "\n".join(lines)
