"""The package's layers (issue 15): which part of avanomaly may import which, read from the source with ``ast``.

Every ``import`` / ``from ... import`` counts, at module level and inside functions (a lazy import is still a
dependency), and so does a string constant naming an avanomaly module (``importlib.import_module`` targets such
as the CLI's command table). A module belongs to its top-level part: ``avanomaly.models.sync`` -> ``models``,
``avanomaly.utils`` -> ``utils``; ``avanomaly/__init__.py`` is the facade ``avanomaly``.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import avanomaly

PACKAGE_DIR = Path(avanomaly.__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name
FACADE = PACKAGE  # avanomaly/__init__.py: the public names (Detector, load_clip), above everything but the CLI

# Bottom layer: plain helpers every part may use, which import no other part (bar each other, acyclically).
BOTTOM = {"_version", "conventions", "errors", "utils"}
# The allowed imports of each part. Reading down the table, each part uses only parts listed above it: decoding
# (io) knows nothing of faces; preprocessing (preprocess) knows decoding; the networks (models) take tensors and know
# no file, cache or dataset; data (manifests, splits, synthetic benchmark) may preprocess; scoring loads a model file
# and preprocesses; training exports model files for scoring; evaluation and the service score but never train (a
# report must not need the trainer); the CLI and the facade sit on top. No part may import the facade (it imports
# scoring): the version lives in the bottom module ``_version``.
ALLOWED: dict[str, set[str]] = {
    "_version": set(),
    "conventions": set(),
    "errors": set(),
    "utils": {"errors"},
    "io": BOTTOM,
    "preprocess": BOTTOM | {"io"},
    "models": BOTTOM,
    "data": BOTTOM | {"io", "preprocess"},
    "scoring": BOTTOM | {"io", "preprocess", "models", "data"},
    "training": BOTTOM | {"io", "preprocess", "models", "data", "scoring"},
    "evaluation": BOTTOM | {"io", "preprocess", "models", "data", "scoring"},
    "serve": BOTTOM | {"io", "preprocess", "models", "data", "scoring"},
    FACADE: BOTTOM | {"io", "scoring"},
    "cli": BOTTOM | {"io", "preprocess", "models", "data", "scoring", "training", "evaluation", "serve"},
    "__main__": {"cli"},
}
#: a string constant that names a module, optionally with ``:attribute`` (as importlib targets are written)
MODULE_STRING = re.compile(rf"^{PACKAGE}(\.\w+)+(:\w+)?$")


def _part(dotted: str) -> str | None:
    """The part a dotted name within the package belongs to (None outside the package)."""
    names = dotted.split(".")
    if names[0] != PACKAGE:
        return None
    if len(names) == 1:
        return FACADE
    first = names[1]
    if (PACKAGE_DIR / first).is_dir() or (PACKAGE_DIR / f"{first}.py").is_file():
        return first
    return FACADE  # an attribute of the facade (``from avanomaly import __version__``)


def _exists(dotted: str) -> bool:
    path = PACKAGE_DIR.parent.joinpath(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def _module_name(path: Path) -> tuple[str, bool]:
    rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    names = list(rel.parts)
    is_package = names[-1] == "__init__"
    return ".".join(names[:-1] if is_package else names), is_package


def _imported(tree: ast.AST, module: str, is_package: bool):
    """(line, dotted name) of everything ``tree`` imports, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:  # ``from avanomaly import data`` imports the part ``data``
                yield node.lineno, f"{source}.{alias.name}" if source == PACKAGE else source
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.match(node.value):
            name = node.value.split(":")[0]
            if _exists(name):  # an optional plugin that is not there (``avanomaly.baselines``) is no dependency
                yield node.lineno, name


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[tuple[str, str], list[str]]:
    """{(importing part, imported part): ["file:line -> name", ...]} between different parts."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        module, is_package = _module_name(path)
        src = _part(module)
        for line, name in _imported(ast.parse(path.read_text(), filename=str(path)), module, is_package):
            dst = _part(name)
            where = f"{path.relative_to(package_dir.parent)}:{line} -> {name}"
            if dst is not None and dst != src and where not in edges.get((src, dst), ()):
                edges.setdefault((src, dst), []).append(where)
    return edges


def edges_on_cycles(arrows) -> set[tuple[str, str]]:
    """The arrows (a, b) of a directed graph that lie on a cycle: those where a can be reached again from b."""
    arrows = set(arrows)
    succ: dict[str, set[str]] = {}
    for a, b in arrows:
        succ.setdefault(a, set()).add(b)

    def reaches(start, goal) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(succ.get(node, ()))
        return False

    return {(a, b) for a, b in arrows if reaches(b, a)}


def test_cycle_finder_and_graph_reader_see_what_they_should():
    """The checker itself: a cycle is found, a DAG passes; function-level, relative, ``from avanomaly import x``
    and importlib-string imports are all read."""
    assert edges_on_cycles([("a", "b"), ("b", "c"), ("c", "a"), ("a", "d"), ("d", "e"), ("e", "d")]) == {
        ("a", "b"), ("b", "c"), ("c", "a"), ("d", "e"), ("e", "d")}
    assert edges_on_cycles([("a", "b"), ("b", "c"), ("a", "c")]) == set()
    tree = ast.parse("def f():\n    from avanomaly.training.config import load_config\n"
                     "from .. import scoring\nfrom avanomaly import data, __version__\n"
                     "M = {'x': 'avanomaly.serve.app:create_app', 'y': 'avanomaly.not_there'}\n"
                     "'''docstring naming avanomaly.evaluation in a sentence'''\n")
    parts = {_part(name) for _line, name in _imported(tree, f"{PACKAGE}.models.registry", False)}
    assert parts == {"training", "scoring", "data", FACADE, "serve"}


def test_allowed_table_is_acyclic_and_covers_every_part():
    assert edges_on_cycles((a, b) for a, allowed in ALLOWED.items() for b in allowed) == set()
    parts = {_part(_module_name(p)[0]) for p in PACKAGE_DIR.rglob("*.py")}
    assert parts == set(ALLOWED), "a new part of the package: place it in ALLOWED"


def test_no_import_cycle_between_parts():
    edges = import_graph()
    on_cycles = sorted(edges_on_cycles(edges))
    assert not on_cycles, "imports on a cycle between parts:\n" + "\n".join(
        f"{a} -> {b}: " + "; ".join(edges[(a, b)]) for a, b in on_cycles)


def test_every_import_follows_the_layers():
    wrong = [where for (src, dst), places in sorted(import_graph().items()) if dst not in ALLOWED[src]
             for where in places]
    assert not wrong, "imports against the layers (see ALLOWED):\n" + "\n".join(wrong)


@pytest.mark.parametrize("first", ["avanomaly.models.registry", "avanomaly.models.checkpoint"])
def test_model_registry_imports_none_of_its_clients(first):
    """models/registry.py is generic: the modules that register (sync, ar, backbones, temporal) import it, never
    the other way round; avanomaly/models/__init__.py imports them, so every lookup sees them whatever was imported
    first."""
    path = PACKAGE_DIR / "models" / "registry.py"
    names = [name for _line, name in _imported(ast.parse(path.read_text()), f"{PACKAGE}.models.registry", False)]
    assert not [n for n in names if n.startswith(f"{PACKAGE}.models")], names
    code = (f"import json, {first}\n"
            "from avanomaly.models.registry import create_model, list_backbones, list_models, list_temporal\n"
            "print(json.dumps([list_models(), list_temporal(), list_backbones('visual'), "
            "type(create_model('ar', in_features=3, n_offsets=3)).__name__]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    models, temporal, visual, built = json.loads(proc.stdout)
    assert {"sync", "ar"} <= set(models) and "transformer" in temporal and visual and built == "ARModel"


def test_calibration_does_not_import_the_model_file():
    """scoring/modelfile.py reads and writes calibrations (``write_calibration``); scoring/calibration.py is the
    maths and its record, and must not import the model file back (the circle of issue 24)."""
    path = PACKAGE_DIR / "scoring" / "calibration.py"
    names = [name for _line, name in _imported(ast.parse(path.read_text()), f"{PACKAGE}.scoring.calibration", False)]
    assert not [n for n in names if n.startswith(f"{PACKAGE}.scoring.modelfile")], names
