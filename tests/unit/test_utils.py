"""Helpers of avanomaly.utils used by every command: shorten() for user data in messages, path_too_long()."""

from __future__ import annotations

import pytest

from avanomaly.errors import MediaError
from avanomaly.errors import MAX_QUOTED_CHARS, shorten
from avanomaly.utils import name_max, path_too_long

#: how many times the limit a long test text is
LONG_FACTOR = 50


def test_shorten_keeps_short_text_and_cuts_long_text_keeping_both_ends():
    assert shorten("abc") == "abc"
    exact = "e" * MAX_QUOTED_CHARS
    assert shorten(exact) == exact
    text = "HEAD" + "m" * (LONG_FACTOR * MAX_QUOTED_CHARS) + "TAIL.mp4"
    short = shorten(text)
    assert short.startswith("HEAD") and short.endswith("TAIL.mp4")  # a path's file name survives
    kept = len(short) - len(short[short.index("...["):short.index("]...") + 4])
    assert kept == MAX_QUOTED_CHARS
    left_out = len(text) - MAX_QUOTED_CHARS
    assert f"[{left_out} characters left out]" in short
    assert len(shorten(text, limit=10)) < len(short)
    with pytest.raises(ValueError):
        shorten("x", limit=0)


def test_media_error_quotes_a_huge_path_short_and_keeps_it_whole():
    huge = "p" * (LONG_FACTOR * MAX_QUOTED_CHARS)
    exc = MediaError(huge, "bad")
    assert exc.path == huge and len(str(exc)) < 2 * MAX_QUOTED_CHARS and str(exc).endswith(": bad")


def test_path_too_long_names_the_limit(tmp_path):
    ok = tmp_path / "a.mp4"
    assert path_too_long(ok) is None  # missing but a legal name: not a length problem
    limit = name_max(tmp_path)
    assert path_too_long(tmp_path / ("n" * limit)) is None
    why = path_too_long(tmp_path / ("n" * (limit + 1)))
    assert why is not None and f"{limit + 1} bytes" in why and "NAME_MAX" in why
    assert path_too_long(str(tmp_path) + "/x\0y") is None  # a NUL byte is another problem


def test_require_module_imports_or_names_the_extra(monkeypatch):
    from avanomaly.errors import MissingDependencyError
    from avanomaly.utils import require_module

    assert require_module("json", "x", "a test").dumps([]) == "[]"
    monkeypatch.setitem(__import__("sys").modules, "json", None)  # an import of it now fails
    with pytest.raises(MissingDependencyError, match=r"the option needs the 'json' package: pip install "
                                                     r"'avanomaly\[someextra\]'"):
        require_module("json", "someextra", "the option")
