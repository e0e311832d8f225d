"""The generic manifest: one CSV row per clip, the hand-off between the data layer and everything else.

Columns: ``path,label,category,method,identity,split`` (required) and optionally
``subcategory,ethnicity,gender,trimmed``; other columns are kept as they are. See docs/data.md.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from avanomaly.data.fakeavceleb import (
    CATEGORIES,
    REAL_CATEGORY,
    index_fakeavceleb,
    is_fakeavceleb_root,
    subcategory_of,
)
from avanomaly.data.splits import DEFAULT_FRACTIONS, DEFAULT_SEED, UNASSIGNED, identity_split
from avanomaly.errors import DatasetError, shorten
from avanomaly.io.scan import VIDEO_EXTENSIONS, scan_inputs
from avanomaly.utils import atomic_write_text

REQUIRED_COLUMNS = ("path", "label", "category", "method", "identity", "split")
OPTIONAL_COLUMNS = ("subcategory", "ethnicity", "gender", "trimmed")
#: the shared real-av development set's manifest format (../shared/data/real-av/manifest.csv)
REAL_AV_COLUMNS = ("path", "label", "category", "method", "source")
#: 'bad' = a deliberately unusable input (no audio, corrupt), kept so callers can test failure handling
LABELS = ("real", "fake", "bad")
#: file name looked for when read_manifest is given a folder that is not a FakeAVCeleb root
MANIFEST_NAME = "manifest.csv"
#: method written by `index folder` when none is given
DEFAULT_FOLDER_METHOD = {"real": "real", "fake": "unknown"}
DEFAULT_FOLDER_CATEGORY = {"real": REAL_CATEGORY}


def real_mask(df: pd.DataFrame):
    """The one rule for "which rows are real" (training, calibration): ``label`` is ``real`` (any case) where the
    column exists, and ``category`` is RealVideo-RealAudio (or empty) where that column exists -> bool array.
    A manifest with neither column has no real row."""
    import numpy as np

    if "label" not in df.columns and "category" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    is_real = np.ones(len(df), dtype=bool)
    if "label" in df.columns:
        is_real &= df["label"].astype(str).str.lower().eq("real").to_numpy()
    if "category" in df.columns:
        cat = df["category"].fillna("").astype(str)
        is_real &= (cat.eq(REAL_CATEGORY) | cat.eq("nan") | cat.eq("")).to_numpy()
    return is_real


def read_manifest(path_or_root, seed: int = DEFAULT_SEED, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                  warn: bool = True) -> pd.DataFrame:
    """Load clips as a DataFrame with at least ``REQUIRED_COLUMNS`` (absolute paths, all columns str except
    ``trimmed`` (float seconds)).

    ``path_or_root`` is one of:

    - a manifest CSV with ``REQUIRED_COLUMNS`` (relative paths are resolved against the CSV's folder);
    - the shared real-av format ``path,label,category,method,source``: ``identity`` is the ``source``
      (so a derived fake shares its original's identity) and ``split`` is ``'unassigned'``; rows labelled
      ``bad`` are kept (filter them yourself);
    - a FakeAVCeleb(-layout) root: indexed on the fly and split with :func:`identity_split` (``seed``,
      ``fractions``);
    - a folder holding a ``manifest.csv``.
    """
    p = Path(path_or_root).expanduser()
    if not p.exists():
        raise DatasetError(f"{p}: manifest or dataset root does not exist")
    if p.is_dir():
        if is_fakeavceleb_root(p):
            return identity_split(index_fakeavceleb(p, warn=warn), fractions=fractions, seed=seed)
        if (p / MANIFEST_NAME).is_file():
            return read_manifest(p / MANIFEST_NAME)
        raise DatasetError(f"{p}: folder is neither a FakeAVCeleb root nor holds a {MANIFEST_NAME}")
    return _read_csv(p)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{shorten(path)}: cannot read manifest CSV ({shorten(exc)})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    cols = set(df.columns)
    if set(REQUIRED_COLUMNS) <= cols:
        pass
    elif set(REAL_AV_COLUMNS) <= cols:
        df = df.copy()
        df["identity"] = df["source"]
        df["split"] = UNASSIGNED
    else:
        missing = [c for c in REQUIRED_COLUMNS if c not in cols]
        raise DatasetError(
            f"{shorten(path)}: not a manifest: missing column(s) {missing}; found {shorten(list(df.columns))}; "
            f"expected {','.join(REQUIRED_COLUMNS)} (or the real-av format {','.join(REAL_AV_COLUMNS)})"
        )
    df.attrs["manifest"] = str(path)
    return validate_manifest(_resolve_paths(df, path.parent), source=str(path))


def _resolve_paths(df: pd.DataFrame, base: Path) -> pd.DataFrame:
    df = df.copy()
    df["path"] = [os.path.normpath(p if os.path.isabs(p) else os.path.join(os.path.abspath(base), p))
                  for p in df["path"].astype(str).str.strip()]
    return df


def validate_manifest(df: pd.DataFrame, source: str = "manifest") -> pd.DataFrame:
    """Check columns and values; fill ``subcategory`` when absent; return the (copied) frame.

    Raises :class:`DatasetError` naming ``source``, the problem and example rows (1-based data rows).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(f"{shorten(source)}: missing column(s) {missing}; found {shorten(list(df.columns))}")
    df = df.copy()
    for col in REQUIRED_COLUMNS:
        df[col] = df[col].fillna("").astype(str).str.strip()
    for col in ("path", "label", "identity", "split"):
        empty = df[col] == ""
        if empty.any():
            raise DatasetError(f"{source}: empty {col!r} in {int(empty.sum())} row(s), e.g. rows {_rows(empty)}")
    bad_label = ~df["label"].isin(LABELS)
    if bad_label.any():
        got = shorten(sorted(df.loc[bad_label, "label"].unique()))
        raise DatasetError(f"{source}: label must be one of {LABELS}; got {got} in rows {_rows(bad_label)}")
    dup = df["path"].duplicated()
    if dup.any():
        raise DatasetError(f"{source}: {int(dup.sum())} duplicate path(s), "
                           f"e.g. {shorten(list(df.loc[dup, 'path'][:3]))}")
    if "subcategory" not in df.columns:
        df["subcategory"] = [subcategory_of(c, m) for c, m in zip(df["category"], df["method"])]
    if "trimmed" in df.columns:
        trimmed = pd.to_numeric(df["trimmed"].replace("", float("nan")), errors="coerce")
        given = df["trimmed"].astype(str).str.strip() != ""
        bad = given & ~(np.isfinite(trimmed) & (trimmed >= 0))  # not a number, NaN, inf or negative
        if bad.any():
            raise DatasetError(f"{source}: 'trimmed' must be seconds (a finite number >= 0); bad rows {_rows(bad)}")
        df["trimmed"] = trimmed
    ordered = list(REQUIRED_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in df.columns]
    return df[ordered + [c for c in df.columns if c not in ordered]]


def _rows(mask: pd.Series) -> list[int]:
    return [int(i) + 1 for i in mask.to_numpy().nonzero()[0][:5]]


def write_manifest(df: pd.DataFrame, path) -> Path:
    """Validate and write ``df`` as a manifest CSV, atomically. Paths inside the manifest's folder are
    written relative to it (so the folder can be moved), others stay absolute."""
    path = Path(path).expanduser()
    df = validate_manifest(df, source=str(path))
    base = os.path.abspath(path.parent)
    out = df.copy()
    out["path"] = [_relative_if_inside(p, base) for p in out["path"]]
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    atomic_write_text(path, buf.getvalue())
    return path


def _relative_if_inside(p: str, base: str) -> str:
    ap = os.path.abspath(p)
    try:
        if os.path.commonpath([ap, base]) == base:
            return os.path.relpath(ap, base)
    except ValueError:  # different drives on Windows
        pass
    return ap


def index_folder(root, label: str = "real", category: str | None = None, method: str | None = None,
                 identity: str = "auto") -> pd.DataFrame:
    """Every video under ``root`` (recursive; extensions ``VIDEO_EXTENSIONS``) as manifest rows (no split).

    ``identity``: ``'parent'`` = the file's folder relative to ``root``, ``'file'`` = the file stem,
    ``'auto'`` = parent when the file is in a sub-folder, else the file stem.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: folder does not exist")
    if label not in ("real", "fake"):
        raise DatasetError(f"label must be 'real' or 'fake', got {label!r}")
    if identity not in ("auto", "parent", "file"):
        raise DatasetError(f"identity must be auto, parent or file, got {identity!r}")
    category = category or DEFAULT_FOLDER_CATEGORY.get(label)
    if category is None:
        raise DatasetError(f"--category is required for label 'fake' (one of {', '.join(CATEGORIES)})")
    method = method or DEFAULT_FOLDER_METHOD[label]
    rows = []
    for name in scan_inputs([root]).paths:  # the one folder search (hidden files/folders and links to folders skipped)
        fpath = Path(name)
        rel_parent = fpath.parent.relative_to(root).as_posix()
        if identity == "file" or (identity == "auto" and rel_parent == "."):
            ident = fpath.stem
        else:
            ident = rel_parent if rel_parent != "." else root.name
        rows.append({"path": os.path.abspath(fpath), "label": label, "category": category, "method": method,
                     "identity": ident, "subcategory": subcategory_of(category, method)})
    if not rows:
        raise DatasetError(f"{root}: no video files ({', '.join(VIDEO_EXTENSIONS)}) found")
    return pd.DataFrame(rows).sort_values("path", kind="stable").reset_index(drop=True)


def summarize(df: pd.DataFrame) -> str:
    """Counts per category and per category / method (columns: splits + total), as plain text for the CLI."""
    lines = [f"{len(df)} clip(s), {df['identity'].nunique()} identity(ies)"]
    has_split = "split" in df.columns
    if has_split:
        ids = df.groupby("split")["identity"].nunique()
        lines.append("identities per split: " + ", ".join(f"{k}={v}" for k, v in ids.items()))
    for keys in (["category"], ["category", "method"]):
        if has_split:
            table = df.groupby(keys + ["split"]).size().unstack(fill_value=0)
            table["total"] = table.sum(axis=1)
        else:
            table = df.groupby(keys).size().to_frame("clips")
        lines += ["", f"clips per {' / '.join(keys)}" + (" and split" if has_split else "") + ":", table.to_string()]
    return "\n".join(lines)
