"""What the ``avanomaly`` commands share: exit codes, the usage-failure exception, reading the inputs a command is
given (files, folders, manifest CSVs) and the stderr checks of progress output.

Every ``*/commands.py`` imports this module, never another command module; it imports only the bottom layer and
``avanomaly.io`` (lazily), so ``avanomaly <command> --help`` stays free of torch.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from avanomaly.errors import MAX_MESSAGE_CHARS, DatasetError, shorten

EXIT_OK = 0
#: a usage or model problem (click's own usage errors exit 2 too)
EXIT_USAGE = 2
#: some files of a batch failed (their rows / lines say why)
EXIT_SOME_FAILED = 3
#: exit code of an interrupted batch (128 + SIGINT, the shell's convention)
EXIT_INTERRUPTED = 128 + signal.SIGINT
#: exit status after SIGTERM (128 + 15, as a shell reports a process killed by it)
EXIT_TERMINATED = 128 + signal.SIGTERM

#: the column of a manifest CSV that names the files
MANIFEST_PATH_COLUMN = "path"


class UsageFailure(click.ClickException):
    """A usage or model problem: exit code 2. The message is cut to MAX_MESSAGE_CHARS (it may quote user data)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str):
        super().__init__(shorten(message, MAX_MESSAGE_CHARS))


def stderr_is_tty() -> bool:
    """Whether stderr is a terminal (a progress bar is drawn only then)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def manifest_paths(csv_path: Path) -> list[str]:
    """The ``path`` column of a manifest CSV, relative paths resolved against the CSV's folder."""
    import pandas as pd

    try:
        df = pd.read_csv(csv_path)
    except Exception as exc:  # noqa: BLE001
        raise DatasetError(f"{shorten(csv_path)}: cannot read manifest CSV ({shorten(exc)})") from exc
    if MANIFEST_PATH_COLUMN not in df.columns:
        raise DatasetError(f"{shorten(csv_path)}: manifest has no '{MANIFEST_PATH_COLUMN}' column "
                           f"(columns: {shorten(list(df.columns))})")
    out = []
    for value in df[MANIFEST_PATH_COLUMN].astype(str):
        p = Path(value)
        out.append(str(p if p.is_absolute() else csv_path.parent / p))
    return out


def scan_for_inputs(inputs, manifests=()):
    """Files as given, folders searched recursively for video extensions, ``.csv`` files read as manifests ->
    :class:`avanomaly.io.scan.ScanResult` (``paths`` in order without duplicates; ``skipped``: every path a folder
    search passed over, with its reason). Paths that do not exist or cannot be looked up (too long, a link loop)
    are kept: they fail on their own with a reason."""
    from avanomaly.io.scan import ScanResult, path_problem, scan_inputs

    out = ScanResult()
    for m in manifests:
        out.paths += manifest_paths(Path(m))
    for item in inputs:
        p = Path(item)
        if path_problem(p) is None and p.suffix.lower() == ".csv" and p.is_file():
            out.paths += manifest_paths(p)
            continue
        found = scan_inputs([p])
        out.paths += found.paths
        out.skipped += found.skipped
    out.paths = list(dict.fromkeys(out.paths))
    return out


def expand_inputs(inputs, manifests=()) -> list[str]:
    """The paths of :func:`scan_for_inputs`."""
    return scan_for_inputs(inputs, manifests).paths


def echo_skipped(skipped) -> None:
    """List on stderr every path a folder search passed over, with its reason."""
    if not skipped:
        return
    click.echo(f"{len(skipped)} path(s) in the given folders not read:", err=True)
    for path, reason in skipped:
        click.echo(f"  {shorten(path)}: {reason}", err=True)
