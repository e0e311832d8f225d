"""Identity-disjoint train / val / test splits.

FakeAVCeleb has no official split (DASH-Lab/FakeAVCeleb#1, #10). avanomaly uses a seeded,
identity-disjoint split: every clip of a source identity - its real clip and every fake made from it -
lands in the same split. The default fractions 0.628 / 0.07 / 0.302 give 314 / 35 / 151 of FakeAVCeleb's
500 identities, the proportions of the AVH-Align supervised split. The split is written to the manifest
(``split`` column), so a run is reproducible from the manifest alone.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from avanomaly.conventions import DEFAULT_SPLIT_FRACTIONS, DEFAULT_SPLIT_SEED
from avanomaly.errors import DatasetError

DEFAULT_FRACTIONS = DEFAULT_SPLIT_FRACTIONS
SPLIT_NAMES = ("train", "val", "test")
DEFAULT_SEED = DEFAULT_SPLIT_SEED
#: label of rows not assigned to any split (e.g. a manifest format without a split column)
UNASSIGNED = "unassigned"
#: tolerance on the sum of the fractions
_SUM_TOLERANCE = 1e-6


def parse_fractions(text: str) -> tuple[float, ...]:
    """'0.628,0.07,0.302' -> (0.628, 0.07, 0.302); validated like :func:`split_counts`."""
    try:
        values = tuple(float(v) for v in str(text).split(",") if v.strip())
    except ValueError as exc:
        raise DatasetError(f"split fractions {text!r}: not a comma-separated list of numbers") from exc
    _check_fractions(values, len(SPLIT_NAMES))
    return values


def _check_fractions(fractions: Sequence[float], n_names: int) -> None:
    if len(fractions) != n_names:
        raise DatasetError(f"split fractions {tuple(fractions)}: need {n_names} values (for {SPLIT_NAMES[:n_names]})")
    if any(not np.isfinite(f) or f < 0 for f in fractions):
        raise DatasetError(f"split fractions {tuple(fractions)}: must be finite and >= 0")
    if abs(sum(fractions) - 1.0) > _SUM_TOLERANCE:
        raise DatasetError(f"split fractions {tuple(fractions)}: must sum to 1 (sum is {sum(fractions):.6g})")


def split_counts(n: int, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> list[int]:
    """How many of ``n`` identities go to each split: floor, then the remainder by largest fractional
    part (ties to the earlier split); a split with a positive fraction gets at least one identity when
    ``n`` allows, taken from the largest split. 500 -> [314, 35, 151] with the defaults."""
    _check_fractions(fractions, len(fractions))
    exact = np.asarray(fractions, dtype=np.float64) * n
    counts = np.floor(exact + _SUM_TOLERANCE).astype(int)
    remainder = n - int(counts.sum())
    order = sorted(range(len(counts)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[:remainder]:
        counts[i] += 1
    wanted = [i for i, f in enumerate(fractions) if f > 0]
    if n >= len(wanted):
        for i in wanted:
            if counts[i] == 0:
                donor = int(np.argmax(counts))
                counts[donor] -= 1
                counts[i] += 1
    return [int(c) for c in counts]


def identity_split(
    df: pd.DataFrame,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = DEFAULT_SEED,
    names: Sequence[str] = SPLIT_NAMES,
    identity_column: str = "identity",
) -> pd.DataFrame:
    """Return a copy of ``df`` with a ``split`` column; all rows of one identity share a split.

    Identities are sorted, shuffled with ``numpy.random.default_rng(seed)`` and cut by
    :func:`split_counts`, so the same identities + seed always give the same split, independent of row
    order. Raises :class:`DatasetError` when the identity column is missing or has empty values.
    """
    if identity_column not in df.columns:
        raise DatasetError(f"cannot split: no {identity_column!r} column (columns: {list(df.columns)})")
    names = tuple(names)
    _check_fractions(tuple(fractions), len(names))
    ident = df[identity_column]
    empty = ident.isna() | (ident.astype(str).str.strip() == "")
    if empty.any():
        rows = list(df.index[empty][:5])
        raise DatasetError(f"cannot split: {int(empty.sum())} row(s) with empty {identity_column!r} (rows {rows})")
    identities = sorted(ident.astype(str).unique())
    order = np.random.default_rng(seed).permutation(len(identities))
    counts = split_counts(len(identities), fractions)
    assignment: dict[str, str] = {}
    start = 0
    for name, count in zip(names, counts):
        for j in order[start:start + count]:
            assignment[identities[j]] = name
        start += count
    out = df.copy()
    out["split"] = ident.astype(str).map(assignment)
    out.attrs.update(df.attrs)
    out.attrs["split_seed"] = seed
    out.attrs["split_fractions"] = tuple(float(f) for f in fractions)
    return out


def check_identity_disjoint(df: pd.DataFrame, identity_column: str = "identity") -> None:
    """Raise :class:`DatasetError` if any identity appears in more than one split (``UNASSIGNED`` rows ignored)."""
    for col in (identity_column, "split"):
        if col not in df.columns:
            raise DatasetError(f"cannot check splits: no {col!r} column")
    assigned = df[df["split"] != UNASSIGNED]
    per_identity = assigned.groupby(identity_column)["split"].nunique()
    leaking = per_identity[per_identity > 1]
    if len(leaking):
        examples = {i: sorted(assigned.loc[assigned[identity_column] == i, "split"].unique()) for i in leaking.index[:5]}
        raise DatasetError(f"{len(leaking)} identity(ies) appear in several splits, e.g. {examples}")
