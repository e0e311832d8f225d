"""``detailed_results.csv`` of ``avanomaly evaluate``: one row per clip and pass, streamed as each clip finishes.

While the clips are scored, each finished row (clip and pass; a clip read from the ``--cache`` finishes at once)
is appended to the file through the shared crash-safe writer (:class:`avanomaly.utils.AppendCSV`: one whole
row per write, flushed and fsynced, one writer per file), so a killed evaluation leaves a valid CSV of the clips
it finished. Its rows are in the order they finished and its columns are :func:`stream_columns`. At the end
:func:`avanomaly.evaluation.report.evaluate` replaces the file (atomically) by the table in input order, pass by
pass, with the columns of :func:`detailed_frame`: the same file as an evaluation that streamed nothing.

A rerun starts the file again: its clips are read back from the ``--cache`` (and written first) and only the
missing ones are scored, so no row is written twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from avanomaly.evaluation.compute import DETAILED_COLUMNS, DETAILED_OPTIONAL, normalise_results

#: the file's name in the report folder
DETAILED_FILE = "detailed_results.csv"


def detailed_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``detailed_results.csv`` of a normalised results table (the optional ones when present)."""
    return df[[c for c in DETAILED_COLUMNS + DETAILED_OPTIONAL if c in df.columns]]


def stream_columns(base_columns) -> tuple[str, ...]:
    """Columns of the streamed file: every detailed column, the optional ones whatever the scorer returns (the
    final file keeps those present, :func:`detailed_frame`). ``base_columns``: the results' columns known before
    scoring (manifest columns, ``leading_silence_s``)."""
    return DETAILED_COLUMNS + tuple(c for c in DETAILED_OPTIONAL if c in base_columns or c == "warnings")


def _cell(v):
    """A value as the final CSV writes it: NaN / None blank."""
    if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


class DetailedStream:
    """``detailed_results.csv`` while the clips are scored: ``open()``, ``append(row)`` per finished clip and pass
    (a results-table row: manifest columns + scorer columns + ``trimmed``), ``close()``. The lock is held until
    ``close``, so two evaluations never write one report folder at once."""

    def __init__(self, out_dir, base_columns):
        from avanomaly.utils import AppendCSV

        self.path = Path(out_dir) / DETAILED_FILE
        self.columns = stream_columns(base_columns)
        self._out = AppendCSV(self.path, self.columns)

    def open(self) -> "DetailedStream":
        """Lock the file and start it again (header only); DatasetError when another evaluation writes it."""
        from avanomaly.errors import DatasetError, FileBusyError

        try:
            self._out.lock()
        except FileBusyError as exc:
            raise DatasetError(f"{self.path} is being written by another avanomaly evaluate run; wait for it or "
                               "choose another --out") from exc
        self._out.start([])
        return self

    def append(self, row: dict) -> None:
        """Write one finished clip's row (normalised as the final table is: sub-category, status, error)."""
        norm = normalise_results(pd.DataFrame([row]))
        self._out.append({c: _cell(v) for c, v in norm.iloc[0].items() if c in self.columns})

    def close(self) -> None:
        self._out.close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
