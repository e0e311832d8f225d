"""The resumable ``score --csv`` file: one row per file, written as each file finishes (docs/scoring.md).

Rows are appended whole (one write of a complete CSV record, then flush + fsync), so a killed batch keeps every
finished row and never a half-written one: a run killed in the middle of a write leaves at most an unterminated
last line, which the next run drops (that file is scored again). A re-run with the same CSV skips the files
already scored there: same path, same size and modification time (a changed file is scored again), same
settings (model file content, aggregation, threshold, precision; other settings are refused, see
:class:`ResumeRefused`). Failed files are rows too (status "failed", reason, message) and are retried by a
re-run; their old row is replaced.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from avanomaly.errors import AvanomalyError, FileBusyError, shorten
from avanomaly.utils import CSV_LINE_END, CSV_LOCK_SUFFIX, AppendCSV, settings_hash

#: columns that identify the scored file's content and the scoring settings (used to resume)
RESUME_COLUMNS = ("file_size", "file_mtime_ns", "settings")
#: status of a row whose file was scored
STATUS_OK = "ok"
#: record terminator of the CSV rows (one write per row ends with it; the shared AppendCSV's)
LINE_END = CSV_LINE_END
#: suffix of the lock file beside a score CSV (one writer at a time)
LOCK_SUFFIX = CSV_LOCK_SUFFIX


class ResumeRefused(AvanomalyError):
    """The existing CSV cannot be continued (other columns, other settings); nothing was changed."""


def file_identity(path) -> tuple[str, str]:
    """(size, mtime in ns) of ``path`` as CSV strings; empty strings when it cannot be looked up."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return "", ""
    return str(st.st_size), str(st.st_mtime_ns)


def path_key(path) -> str:
    """The path as rows are matched: absolute and normalised (``./a.mp4`` and ``a.mp4`` are one file)."""
    return os.path.normpath(os.path.abspath(str(path)))


def scoring_settings(model_file, aggregation: dict, threshold, precision: str) -> str:
    """Short hash of what determines a file's row: the model file's content, aggregation, threshold, precision."""
    from avanomaly.utils import file_sha256

    try:
        model = file_sha256(model_file)
    except (OSError, TypeError, ValueError):
        model = str(model_file)
    return settings_hash({"model_sha256": model, "aggregation": aggregation, "threshold": threshold,
                          "precision": precision})


@dataclass
class ResumePlan:
    """What a run with an existing CSV does: score ``todo`` (in input order), skip ``skipped``."""

    todo: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # paths already scored with these settings
    retried: list[str] = field(default_factory=list)  # paths whose earlier row was a failure
    changed: list[str] = field(default_factory=list)  # paths whose file changed since their row
    dropped_partial: bool = False  # an unterminated last row (a run killed mid-write) was dropped

    def summary(self, csv_path) -> str:
        parts = [f"resuming {shorten(csv_path)}: {len(self.skipped)} file(s) already scored there are skipped "
                 f"(same path, size, modification time and settings)"]
        if self.retried:
            parts.append(f"{len(self.retried)} failed file(s) are tried again")
        if self.changed:
            parts.append(f"{len(self.changed)} changed file(s) are scored again")
        if self.dropped_partial:
            parts.append("an incomplete last row (the previous run was killed while writing it) was dropped")
        return "; ".join(parts)


class ScoreCSV:
    """Append-as-you-go score CSV with resume. ``open(paths)`` -> ResumePlan, then ``append(row)`` per file.
    The writing (whole rows, flush + fsync, one writer at a time) is :class:`avanomaly.utils.AppendCSV`'s."""

    def __init__(self, path, columns, settings: str, resume: bool = True):
        self.path = Path(path)
        self.columns = tuple(columns)
        self.settings = settings
        self.resume = resume
        self._out = AppendCSV(self.path, self.columns)

    def _acquire_lock(self) -> None:
        """One writer per CSV: the AppendCSV's exclusive lock on ``<csv>.lock``, held until ``close``."""
        try:
            self._out.lock()
        except FileBusyError as exc:
            raise ResumeRefused(f"{shorten(self.path)} is being written by another avanomaly score run; wait for it "
                                "or choose another --csv") from exc

    def _read_existing(self) -> tuple[list[dict], bool]:
        """Rows of the existing file and whether an unterminated last row was dropped."""
        try:
            with open(self.path, encoding="utf-8", newline="") as fh:
                text = fh.read()
        except FileNotFoundError:
            return [], False
        except (OSError, UnicodeDecodeError) as exc:
            raise ResumeRefused(f"{shorten(self.path)}: cannot read the existing CSV to resume it ({shorten(exc)}); "
                                "pass --overwrite to replace it or choose another --csv") from exc
        if not text:
            return [], False
        partial = not text.endswith(LINE_END)
        if partial:  # the run was killed mid-write: the last record is incomplete
            text = text[:text.rfind(LINE_END) + 1] if LINE_END in text else ""
        # a row may quote a path of any length (one over PATH_MAX fails, and is recorded, like any other file):
        # the csv module's field limit is raised to this file's size while it is read
        limit = csv.field_size_limit()
        csv.field_size_limit(max(limit, len(text)))
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            header = tuple(reader.fieldnames or ())
            if header and header != self.columns:
                raise ResumeRefused(
                    f"{shorten(self.path)} exists and is not a score CSV with the columns of this version "
                    f"(it has {shorten(list(header))}); pass --overwrite to replace it or choose another --csv")
            rows = []
            for row in reader:
                if None in row or any(v is None for v in row.values()):  # too many / too few fields: not ours
                    raise ResumeRefused(f"{shorten(self.path)}: row {reader.line_num} does not have the "
                                        f"{len(self.columns)} columns of the header; pass --overwrite to replace "
                                        "the file or choose another --csv")
                rows.append(row)
        except csv.Error as exc:
            raise ResumeRefused(f"{shorten(self.path)}: not a readable CSV ({shorten(exc)}); pass --overwrite to "
                                "replace it or choose another --csv") from exc
        finally:
            csv.field_size_limit(limit)
        other = sorted({r["settings"] for r in rows} - {self.settings})
        if other:
            raise ResumeRefused(
                f"{shorten(self.path)} was written with other scoring settings (model file, aggregation, "
                "threshold or precision); its rows cannot be mixed with this run's. Pass --overwrite to start "
                "it again, or choose another --csv")
        return rows, partial

    def open(self, paths) -> ResumePlan:
        """Read the existing file (when resuming), decide what to score, rewrite it only when rows must go
        (atomically), and open it for appending. ``paths`` are this run's inputs, in order."""
        plan = ResumePlan()
        self._acquire_lock()
        try:
            rows, plan.dropped_partial = self._read_existing() if self.resume else ([], False)
        except ResumeRefused:
            self.close()
            raise
        latest = {path_key(r["path"]): r for r in rows}  # the last row of a path counts
        redo, seen = set(), set()
        for p in paths:
            key = path_key(p)
            if key in seen:  # "a.mp4" and "./a.mp4": one file, one row
                continue
            seen.add(key)
            row = latest.get(key)
            if row is None:
                plan.todo.append(p)
            elif row["status"] != STATUS_OK:
                plan.todo.append(p)
                plan.retried.append(p)
                redo.add(key)
            elif (row["file_size"], row["file_mtime_ns"]) != file_identity(p):
                plan.todo.append(p)
                plan.changed.append(p)
                redo.add(key)
            else:
                plan.skipped.append(p)
        keep = None
        if not rows or redo or plan.dropped_partial or len(latest) != len(rows):
            # a clean file: header + the rows kept, one per path (the last), written atomically
            keep = [r for k, r in latest.items() if k not in redo]
        self._out.start(keep)
        return plan

    def append(self, row: dict) -> None:
        """Write one complete row (with this run's settings), flush and fsync it."""
        self._out.append({**row, "settings": self.settings})

    def close(self) -> None:
        self._out.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
