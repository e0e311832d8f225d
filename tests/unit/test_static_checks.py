"""Names that do not exist only fail when their line runs: a closure over an except block's ``exc`` (the CLI's
unavailable-command message) and an ``av.error`` in a rarely taken except clause (the decoder's seek fallback)
both shipped that way. pyflakes finds that class of bug without running anything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("avanomaly", "scripts", "benchmarks", "research", "tests")


def _python_files():
    return sorted(p for d in FOLDERS for p in (REPO / d).rglob("*.py"))


def test_no_undefined_names():
    pyflakes_checker = pytest.importorskip("pyflakes.checker", reason="pyflakes is in the dev extra (make venv)")
    from pyflakes import messages

    serious = (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)
    found = []
    files = _python_files()
    assert len(files) > 50  # the folders were found
    for path in files:
        src = path.read_text(encoding="utf-8")
        checker = pyflakes_checker.Checker(ast.parse(src, filename=str(path)), filename=str(path))
        found += [f"{path.relative_to(REPO)}:{m.lineno}: {m.message % m.message_args}"
                  for m in checker.messages if isinstance(m, serious)]
    assert not found, "\n".join(found)
