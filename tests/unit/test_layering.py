"""The package's layers (issue 15): which part of avanomaly may import which, read from the source with ``ast``;
and no import circle between any two modules of the package (issue 24).

Every ``import`` / ``from ... import`` counts, at module level and inside functions (a lazy import is still a
dependency), and so does a string constant naming an avanomaly module (``importlib.import_module`` targets such
as the CLI's command table). A module belongs to its top-level part: ``avanomaly.models.sync`` -> ``models``,
``avanomaly.utils`` -> ``utils``; ``avanomaly/__init__.py`` is the facade ``avanomaly``.

Between modules the same imports count (module-level and function-level alike: a lazy import closes a circle as
soon as its function runs); ``from avanomaly.x import y`` is an arrow to the module ``avanomaly.x.y`` when ``y`` is
one, else to ``avanomaly.x`` (its ``__init__``). The parent packages Python runs on the way to a module (importing
``avanomaly.x.y`` runs ``avanomaly/x/__init__.py``) are not arrows: a package's ``__init__`` importing its own
submodules is no circle unless a submodule imports the ``__init__``'s names back.
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
# scoring): the version lives in the bottom module ``_version``. ``cli_common`` holds what the ``*/commands.py``
# modules share (exit codes, UsageFailure, reading files / folders / manifests): a command module imports it, never
# another command module.
ALLOWED: dict[str, set[str]] = {
    "_version": set(),
    "conventions": set(),
    "errors": set(),
    "utils": {"errors"},
    # the engine adapter (issue 25): maps a function over items on a cluster; knows no feature, model or file
    "distributed": BOTTOM,
    "io": BOTTOM,
    "cli_common": BOTTOM | {"io"},
    "preprocess": BOTTOM | {"io", "cli_common", "distributed"},
    "models": BOTTOM,
    # post-processing (anomalib's model / post-processing / metrics split): the model file, the aggregation of frame
    # scores, the score terms and their fusion, calibration, its basis, the out-of-domain and abstain rules; below
    # both training and scoring, it takes the models' records (models/checkpoint.py) and nothing that preprocesses
    "postprocess": BOTTOM | {"models"},
    "data": BOTTOM | {"io", "cli_common", "preprocess", "distributed"},
    "scoring": BOTTOM | {"io", "cli_common", "preprocess", "models", "postprocess", "data", "distributed"},
    # training writes its model file and calibration through postprocess and never imports scoring
    "training": BOTTOM | {"io", "cli_common", "preprocess", "models", "postprocess", "data", "distributed"},
    "evaluation": BOTTOM | {"io", "cli_common", "preprocess", "models", "postprocess", "data", "scoring",
                            "distributed"},
    "serve": BOTTOM | {"io", "cli_common", "preprocess", "models", "postprocess", "data", "scoring"},
    FACADE: BOTTOM | {"io", "scoring"},
    "cli": BOTTOM | {"io", "cli_common", "preprocess", "models", "postprocess", "data", "scoring", "training",
                     "evaluation", "serve", "distributed"},
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


#: module-level import circles still allowed, each as the pair of modules whose two direct arrows are left out
ALLOWED_MODULE_CYCLES: set[frozenset] = set()


def _modules(package_dir: Path) -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is_package)} of every module of the package in ``package_dir``."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent).with_suffix("")
        names = list(rel.parts)
        is_package = names[-1] == "__init__"
        out[".".join(names[:-1] if is_package else names)] = (path, is_package)
    return out


def _imported_modules(tree: ast.AST, module: str, is_package: bool, modules) -> list[tuple[int, str]]:
    """(line, module) of every module of ``modules`` that ``tree`` imports, at any depth (see the docstring)."""

    def resolve(dotted: str) -> str | None:  # the module itself, else the nearest package above it
        names = dotted.split(".")
        while names and ".".join(names) not in modules:
            names.pop()
        return ".".join(names) or None

    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.match(node.value):
            targets = [node.value.split(":")[0]]
        found += [(node.lineno, m) for m in map(resolve, targets) if m is not None and m != module]
    return found


def module_graph(package_dir: Path = PACKAGE_DIR) -> dict[tuple[str, str], list[str]]:
    """{(importing module, imported module): ["file:line", ...]} within the package in ``package_dir``."""
    modules = _modules(package_dir)
    edges: dict[tuple[str, str], list[str]] = {}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, target in _imported_modules(tree, module, is_package, modules):
            edges.setdefault((module, target), []).append(f"{path.relative_to(package_dir.parent)}:{line}")
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


def test_module_graph_sees_lazy_and_from_package_imports(tmp_path):
    """The module-level reader: a circle closed by a function-level ``from pkg import module`` is found, as is one
    through a package ``__init__`` whose names a submodule imports back; a submodule importing a sibling is not."""
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(f"def f():\n    from {PACKAGE} import b\n")
    (pkg / "b.py").write_text(f"import {PACKAGE}.a\n")
    (pkg / "sub" / "__init__.py").write_text("def make():\n    from .impl import X\n    return X\n")
    (pkg / "sub" / "impl.py").write_text(f"from {PACKAGE}.sub import make\nfrom {PACKAGE}.sub.util import Y\nX = 1\n")
    (pkg / "sub" / "util.py").write_text("Y = 2\n")
    edges = module_graph(pkg)
    a, b, sub, impl, util = (f"{PACKAGE}.{m}" for m in ("a", "b", "sub", "sub.impl", "sub.util"))
    assert set(edges) == {(a, b), (b, a), (sub, impl), (impl, sub), (impl, util)}
    assert edges_on_cycles(edges) == {(a, b), (b, a), (sub, impl), (impl, sub)}


def test_no_import_circle_between_modules():
    """No two modules of avanomaly import each other, directly or round a longer loop (lazy imports included)."""
    edges = module_graph()
    arrows = {e for e in edges if frozenset(e) not in ALLOWED_MODULE_CYCLES}
    on_cycles = sorted(edges_on_cycles(arrows))
    assert not on_cycles, "import circles between modules:\n" + "\n".join(
        f"{a} -> {b}: " + "; ".join(edges[(a, b)]) for a, b in on_cycles)


def test_command_modules_import_no_other_command_module():
    """What the ``*/commands.py`` share lives in avanomaly/cli_common.py, not in one of them."""
    edges = module_graph()
    wrong = [f"{a} -> {b}: {'; '.join(w)}" for (a, b), w in sorted(edges.items())
             if a.endswith(".commands") and b.endswith(".commands")]
    assert not wrong, "\n".join(wrong)


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
    """postprocess/modelfile.py reads and writes calibrations (``write_calibration``); postprocess/calibration.py is
    the maths and its record, and must not import the model file back (the circle of issue 24)."""
    path = PACKAGE_DIR / "postprocess" / "calibration.py"
    names = [name for _line, name in _imported(ast.parse(path.read_text()), f"{PACKAGE}.postprocess.calibration",
                                               False)]
    assert not [n for n in names if n.startswith(f"{PACKAGE}.postprocess.modelfile")], names


@pytest.mark.parametrize("part, not_allowed", [("training", "scoring"), ("scoring", "training"),
                                               ("postprocess", "scoring"), ("postprocess", "training"),
                                               ("postprocess", "preprocess")])
def test_training_and_scoring_meet_only_in_postprocess(part, not_allowed):
    """Training and scoring never import each other (issue 24): what both need (the model file, calibration, the
    score terms) is in postprocess, which imports neither of them, nor preprocessing. Read from the source, not from
    ALLOWED alone, so a lazy import inside a function is caught too."""
    assert not_allowed not in ALLOWED[part]
    edges = import_graph().get((part, not_allowed), [])
    assert not edges, f"{part} imports {not_allowed}:\n" + "\n".join(edges)
