"""Index the FakeAVCeleb v1.2 dataset (or any tree in its layout) into manifest records.

Layout (see docs/data.md)::

    FakeAVCeleb_v1.2/
        meta_data.csv
        <category>/<ethnicity>/<men|women>/<idNNNNN>/<file>.mp4

``meta_data.csv`` is used when present (it carries the generation method); otherwise the method is
inferred from the file name. Files on disk but not in the CSV, and CSV rows whose file is missing, are
reported (returned in :class:`FakeAVCelebIndex` and emitted as :class:`DatasetWarning`), never dropped
silently: unlisted files are kept in the index (method inferred from the name), missing files are listed.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from avanomaly.errors import DatasetError
from avanomaly.io.scan import VIDEO_EXTENSIONS  # one list of video extensions

# --- dataset vocabulary -------------------------------------------------------------------------------
CATEGORY_LETTERS = {
    "A": "RealVideo-RealAudio",
    "B": "RealVideo-FakeAudio",
    "C": "FakeVideo-RealAudio",
    "D": "FakeVideo-FakeAudio",
}
CATEGORIES = tuple(CATEGORY_LETTERS.values())
REAL_CATEGORY = CATEGORY_LETTERS["A"]

#: (category, method) -> AVAD-style subcategory name
SUBCATEGORIES = {
    ("RealVideo-RealAudio", "real"): "RVRA",
    ("RealVideo-FakeAudio", "rtvc"): "RVFA",
    ("FakeVideo-RealAudio", "wav2lip"): "FVRA-WL",
    ("FakeVideo-RealAudio", "faceswap"): "FVRA-FS",
    ("FakeVideo-RealAudio", "fsgan"): "FVRA-GAN",
    ("FakeVideo-FakeAudio", "wav2lip"): "FVFA-WL",
    ("FakeVideo-FakeAudio", "faceswap-wav2lip"): "FVFA-FS",
    ("FakeVideo-FakeAudio", "fsgan-wav2lip"): "FVFA-GAN",
}
METHODS = {cat: tuple(m for (c, m) in SUBCATEGORIES if c == cat) for cat in CATEGORIES}
UNKNOWN_METHOD = "unknown"

GENDERS = ("men", "women")
#: canonical ethnicity names (the dataset's folder spelling); "Asian_East" etc. normalise onto these
ETHNICITIES = ("African", "Asian (East)", "Asian (South)", "Caucasian (American)", "Caucasian (European)")

#: meta_data.csv: nine header names (+ a trailing comma); rows carry a tenth field, the folder
META_CSV = "meta_data.csv"
META_COLUMNS = ("source", "target1", "target2", "method", "category", "type", "race", "gender", "path")
META_FIELDS_PER_ROW = len(META_COLUMNS) + 1

#: folder depth of a clip below the root: category / ethnicity / gender / identity / file
CLIP_DEPTH = 5
IDENTITY_PATTERN = re.compile(r"^id\d+$")
#: FSGAN file names: <n>_<source id>_<11-char YouTube id>_<target id>[_wavtolip]
FSGAN_PATTERN = re.compile(r"^\d+_id\d+_.{11}_id\d+(_wavtolip)?$")
#: how many examples a warning lists before "... and N more"
WARN_EXAMPLES = 5

INDEX_COLUMNS = ["path", "label", "category", "method", "identity", "subcategory", "ethnicity", "gender"]


class DatasetWarning(UserWarning):
    """Something in a dataset is inconsistent but usable (e.g. files missing from meta_data.csv)."""


@dataclass
class FakeAVCelebIndex:
    """Result of :func:`scan_fakeavceleb`.

    ``records``: one row per clip on disk (columns ``INDEX_COLUMNS``, absolute paths, sorted by path).
    ``missing_files``: meta_data.csv rows whose file is not on disk (expected paths).
    ``unlisted_files``: files on disk with no meta_data.csv row (kept in ``records``, method inferred).
    ``warnings``: every other message (method inconsistencies, stray files, ...).
    """

    root: Path
    records: pd.DataFrame
    used_csv: bool
    missing_files: list[str] = field(default_factory=list)
    unlisted_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def all_warnings(self) -> list[str]:
        out = list(self.warnings)
        if self.missing_files:
            out.append(_listing(f"{len(self.missing_files)} file(s) listed in {META_CSV} are missing on disk",
                                self.missing_files))
        if self.unlisted_files:
            out.append(_listing(f"{len(self.unlisted_files)} file(s) on disk are not listed in {META_CSV} "
                                "(kept; method inferred from the file name)", self.unlisted_files))
        return out


# --- name normalisation -------------------------------------------------------------------------------
_ETHNICITY_LOOKUP = {re.sub(r"[^a-z]", "", e.lower()): e for e in ETHNICITIES}


def normalize_ethnicity(name: str) -> str:
    """'Asian_East', 'Asian (East)', 'asian east' -> 'Asian (East)'. Unknown names are returned stripped."""
    key = re.sub(r"[^a-z]", "", str(name).lower())
    return _ETHNICITY_LOOKUP.get(key, str(name).strip())


def normalize_category(name: str) -> str | None:
    """'A' / 'RealVideo-RealAudio' / 'realvideo_realaudio' -> 'RealVideo-RealAudio'; None if unknown."""
    name = str(name).strip()
    if name.upper() in CATEGORY_LETTERS:
        return CATEGORY_LETTERS[name.upper()]
    key = re.sub(r"[^a-z]", "", name.lower())
    for cat in CATEGORIES:
        if re.sub(r"[^a-z]", "", cat.lower()) == key:
            return cat
    return None


def normalize_method(name: str) -> str:
    """Lower-case, '_' -> '-', and the dataset's 'wavtolip' spelling -> 'wav2lip'."""
    return str(name).strip().lower().replace("_", "-").replace("wavtolip", "wav2lip")


def infer_method(category: str, filename: str) -> str:
    """Generation method from a FakeAVCeleb file name (used when meta_data.csv is absent or lacks the file).

    - RealVideo-RealAudio -> ``real``; RealVideo-FakeAudio -> ``rtvc``;
    - name contains ``faceswap`` -> ``faceswap`` (C) / ``faceswap-wav2lip`` (D);
    - name contains ``fsgan`` or is ``<n>_<id>_<YouTube id>_<id>[_wavtolip]`` -> ``fsgan`` (C) /
      ``fsgan-wav2lip`` (D);
    - name contains ``wavtolip`` / ``wav2lip`` -> ``wav2lip``;
    - otherwise ``unknown``.
    """
    if category == CATEGORY_LETTERS["A"]:
        return "real"
    if category == CATEGORY_LETTERS["B"]:
        return "rtvc"
    stem = Path(filename).stem
    low = stem.lower()
    suffix = "-wav2lip" if category == CATEGORY_LETTERS["D"] else ""
    if "faceswap" in low:
        return "faceswap" + suffix
    if "fsgan" in low or FSGAN_PATTERN.match(stem):
        return "fsgan" + suffix
    if "wavtolip" in low or "wav2lip" in low:
        return "wav2lip"
    return UNKNOWN_METHOD


def label_of(category: str) -> str:
    return "real" if category == REAL_CATEGORY else "fake"


def subcategory_of(category: str, method: str) -> str:
    """AVAD-style subcategory ('RVRA', 'FVFA-WL', ...) of a (category, method) pair; every RealVideo-RealAudio clip
    is RVRA. A pair outside FakeAVCeleb's taxonomy (``SUBCATEGORIES``: its eight) has none: ''. Category letters
    and method spellings are normalised first ('C', 'Wav2Lip' -> FakeVideo-RealAudio, wav2lip)."""
    category = normalize_category(category) or str(category)
    if category == REAL_CATEGORY:
        return SUBCATEGORIES[(REAL_CATEGORY, "real")]
    return SUBCATEGORIES.get((category, normalize_method(method)), "")


# --- root discovery ---------------------------------------------------------------------------------
def _looks_like_root(path: Path) -> bool:
    if (path / META_CSV).is_file():
        return True
    try:
        return any(p.is_dir() and normalize_category(p.name) for p in path.iterdir())
    except OSError:
        return False


def find_root(root) -> Path:
    """The FakeAVCeleb root: ``root`` itself, or its ``FakeAVCeleb_v1.2`` (or single dataset) sub-folder."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: FakeAVCeleb root does not exist")
    if not root.is_dir():
        raise DatasetError(f"{root}: FakeAVCeleb root is not a folder")
    if _looks_like_root(root):
        return root
    try:
        candidates = [p for p in sorted(root.iterdir()) if p.is_dir() and _looks_like_root(p)]
    except OSError as exc:
        raise DatasetError(f"{root}: cannot list folder ({exc})") from exc
    preferred = [p for p in candidates if p.name.lower().startswith("fakeavceleb")]
    if len(preferred) == 1:
        return preferred[0]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise DatasetError(f"{root}: several dataset folders found ({[p.name for p in candidates]}); pass one of them")
    raise DatasetError(
        f"{root}: not a FakeAVCeleb root: no {META_CSV} and no category folder ({', '.join(CATEGORIES)})"
    )


def is_fakeavceleb_root(path) -> bool:
    try:
        find_root(path)
        return True
    except DatasetError:
        return False


# --- disk walk --------------------------------------------------------------------------------------
def _key(category: str, ethnicity: str, gender: str, identity: str, filename: str) -> tuple:
    return (category, normalize_ethnicity(ethnicity), gender.strip().lower(), identity.strip(), filename.strip())


def _walk_disk(root: Path, messages: list[str]) -> dict[tuple, Path]:
    """Map normalised key -> file path for every video in the layout. Raises on unknown category folders."""
    found: dict[tuple, Path] = {}
    unknown_dirs = []
    stray: list[str] = []
    unreadable: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            if entry.suffix.lower() in VIDEO_EXTENSIONS:
                stray.append(str(entry))
            continue
        category = normalize_category(entry.name)
        if category is None:
            unknown_dirs.append(entry.name)
            continue
        for dirpath, dirnames, filenames in os.walk(entry, onerror=lambda e: unreadable.append(f"{e.filename}: {e.strerror}")):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = Path(dirpath) / name
                if path.suffix.lower() not in VIDEO_EXTENSIONS:
                    stray.append(str(path))
                    continue
                rel = path.relative_to(root).parts
                if len(rel) != CLIP_DEPTH:
                    stray.append(str(path))
                    continue
                _, ethnicity, gender, identity, filename = rel
                if not os.access(path, os.R_OK):
                    unreadable.append(f"{path}: permission denied")
                    continue
                found[_key(category, ethnicity, gender, identity, filename)] = path
    if unknown_dirs:
        raise DatasetError(
            f"{root}: unknown category folder(s) {unknown_dirs}; expected {', '.join(CATEGORIES)}"
        )
    if unreadable:
        raise DatasetError(_listing(f"{root}: {len(unreadable)} unreadable file(s)/folder(s)", unreadable))
    if stray:
        messages.append(_listing(
            f"{len(stray)} file(s) ignored: not a video or not at <category>/<ethnicity>/<gender>/<id>/<file>",
            stray))
    return found


# --- meta_data.csv ----------------------------------------------------------------------------------
@dataclass
class _MetaRow:
    line: int
    source: str
    target1: str
    target2: str
    method: str
    category: str
    ethnicity: str
    gender: str
    filename: str
    folder: str


def read_meta_csv(csv_path) -> list[_MetaRow]:
    """Parse FakeAVCeleb's ``meta_data.csv`` (9 header names + trailing comma, 10 fields per row)."""
    csv_path = Path(csv_path)
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{csv_path}: cannot read ({exc})") from exc
    if not rows:
        raise DatasetError(f"{csv_path}: empty file (expected header {','.join(META_COLUMNS)},)")
    header = [h.strip() for h in rows[0]]
    names = header[: len(META_COLUMNS)]
    extra = header[len(META_COLUMNS):]
    if tuple(names) != META_COLUMNS or len(extra) > 1:
        raise DatasetError(
            f"{csv_path}: malformed header {header}; expected {','.join(META_COLUMNS)}, (nine names, optionally "
            "a tenth for the folder)"
        )
    out = []
    bad = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != META_FIELDS_PER_ROW:
            bad.append(f"line {line}: {len(row)} fields")
            continue
        cells = [c.strip() for c in row]
        source, t1, t2, method, letter, typ, race, gender, filename, folder = cells
        category = normalize_category(typ) or normalize_category(letter)
        if category is None:
            bad.append(f"line {line}: unknown category {letter!r}/{typ!r}")
            continue
        if normalize_category(letter) not in (None, category):
            bad.append(f"line {line}: category letter {letter!r} disagrees with type {typ!r}")
            continue
        if not filename or not folder:
            bad.append(f"line {line}: empty file name or folder")
            continue
        out.append(_MetaRow(line, source, t1, t2, normalize_method(method), category, race, gender, filename, folder))
    if bad:
        raise DatasetError(_listing(
            f"{csv_path}: {len(bad)} malformed row(s) (expected {META_FIELDS_PER_ROW} fields: "
            f"{','.join(META_COLUMNS)},<folder>)", bad))
    return out


def _folder_parts(folder: str) -> list[str]:
    """Split the CSV's folder ('FakeAVCeleb/<category>/<eth>/<gender>/<id>') and drop the dataset prefix,
    which stands for the root given by the user."""
    parts = [p for p in re.split(r"[\\/]+", folder.strip()) if p and p != "."]
    if parts and normalize_category(parts[0]) is None:
        parts = parts[1:]
    return parts


# --- main entry points ------------------------------------------------------------------------------
def scan_fakeavceleb(root, use_csv: bool = True, warn: bool = True) -> FakeAVCelebIndex:
    """Index a FakeAVCeleb(-layout) tree; see the module docstring. ``root`` may be the v1.2 folder or its
    parent. Raises :class:`DatasetError` for a missing root, malformed meta_data.csv, unknown category
    folders and unreadable files."""
    root = find_root(root)
    messages: list[str] = []
    disk = _walk_disk(root, messages)
    csv_path = root / META_CSV
    used_csv = use_csv and csv_path.is_file()
    records = []
    missing: list[str] = []
    seen: set[tuple] = set()
    if used_csv:
        duplicates = []
        mismatched = []
        for row in read_meta_csv(csv_path):
            parts = _folder_parts(row.folder)
            if len(parts) != CLIP_DEPTH - 1:
                raise DatasetError(
                    f"{csv_path}: line {row.line}: folder {row.folder!r} is not "
                    "<dataset>/<category>/<ethnicity>/<gender>/<id>"
                )
            fcat, feth, fgender, fid = parts
            if normalize_category(fcat) != row.category:
                raise DatasetError(f"{csv_path}: line {row.line}: folder {row.folder!r} is not in category {row.category}")
            key = _key(row.category, feth, fgender, fid, row.filename)
            if key in seen:
                duplicates.append(f"line {row.line}: {row.folder}/{row.filename}")
                continue
            seen.add(key)
            expected = root.joinpath(*parts, row.filename)
            path = disk.get(key)
            if path is None:
                missing.append(str(expected))
                continue
            allowed = METHODS[row.category]
            method = row.method
            if method not in allowed:
                mismatched.append(f"line {row.line}: method {row.method!r} not one of {allowed} for {row.category}")
            if row.source and row.source != fid:
                mismatched.append(f"line {row.line}: source {row.source!r} differs from folder identity {fid!r} "
                                  "(the folder identity is used)")
            records.append(_record(path, row.category, method, fid, feth, fgender))
        if duplicates:
            messages.append(_listing(f"{len(duplicates)} duplicate row(s) in {csv_path} (first kept)", duplicates))
        if mismatched:
            messages.append(_listing(f"{len(mismatched)} inconsistent row(s) in {csv_path}", mismatched))
    unlisted = []
    unknown = []
    for key, path in sorted(disk.items(), key=lambda kv: str(kv[1])):
        if key in seen:
            continue
        category, ethnicity, gender, identity, filename = key
        method = infer_method(category, filename)
        if method == UNKNOWN_METHOD:
            unknown.append(str(path))
        if used_csv:
            unlisted.append(str(path))
        records.append(_record(path, category, method, identity, ethnicity, gender))
    if unknown:
        messages.append(_listing(f"{len(unknown)} file name(s) match no known method pattern "
                                 f"(method '{UNKNOWN_METHOD}', no subcategory)", unknown))
    bad_ids = sorted({r["identity"] for r in records if not IDENTITY_PATTERN.match(r["identity"])})
    if bad_ids:
        messages.append(_listing(f"{len(bad_ids)} identity folder(s) not named idNNNNN", bad_ids))
    df = pd.DataFrame.from_records(records, columns=INDEX_COLUMNS)
    df = df.sort_values("path", kind="stable").reset_index(drop=True)
    index = FakeAVCelebIndex(root=root, records=df, used_csv=used_csv, missing_files=sorted(missing),
                             unlisted_files=unlisted, warnings=messages)
    if warn:
        for msg in index.all_warnings():
            warnings.warn(f"{root}: {msg}", DatasetWarning, stacklevel=2)
    return index


def index_fakeavceleb(root, use_csv: bool = True, warn: bool = True) -> pd.DataFrame:
    """FakeAVCeleb(-layout) tree -> DataFrame with ``INDEX_COLUMNS`` (no ``split``; see
    :func:`avanomaly.data.splits.identity_split`). The mismatch report is in ``df.attrs``:
    ``missing_files``, ``unlisted_files``, ``warnings`` (all lists of str) and ``root``."""
    idx = scan_fakeavceleb(root, use_csv=use_csv, warn=warn)
    df = idx.records
    df.attrs.update(root=str(idx.root), missing_files=idx.missing_files, unlisted_files=idx.unlisted_files,
                    warnings=idx.all_warnings(), used_csv=idx.used_csv)
    return df


def _record(path: Path, category: str, method: str, identity: str, ethnicity: str, gender: str) -> dict:
    return {
        "path": os.path.abspath(path),
        "label": label_of(category),
        "category": category,
        "method": method,
        "identity": identity,
        "subcategory": subcategory_of(category, method),
        "ethnicity": normalize_ethnicity(ethnicity),
        "gender": gender.strip().lower(),
    }


def _listing(head: str, items: list[str]) -> str:
    shown = "; ".join(items[:WARN_EXAMPLES])
    more = f"; ... and {len(items) - WARN_EXAMPLES} more" if len(items) > WARN_EXAMPLES else ""
    return f"{head}: {shown}{more}"
