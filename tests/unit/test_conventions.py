"""The frame rate and sample rate are written once, in avanomaly/conventions.py (issue 24: PreprocessConfig and the
synthetic benchmark re-declared them)."""

from __future__ import annotations

import re
from pathlib import Path

import avanomaly

PACKAGE = Path(avanomaly.__file__).resolve().parent
#: modules allowed to write the numbers: the definition, and the test-clip writer whose callers pick any rate
ALLOWED = {"conventions.py", "io/testing.py"}
LITERALS = re.compile(r"\b(fps|FPS|sample_rate|SAMPLE_RATE)\b\s*(:\s*[\w. |]+)?=\s*(25|16000|16_000)\b(?!\.\d)")


def test_rates_are_not_redeclared():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in ALLOWED:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if LITERALS.search(line.split("#", 1)[0]):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "import FPS / SAMPLE_RATE from avanomaly.conventions instead:\n" + "\n".join(found)

