"""The import layers of the ``symop`` package, and no import cycles.

Every module under ``symop/`` is read with :mod:`ast` (never imported); every
``import`` counts, those inside functions included, except the ones under
``if TYPE_CHECKING:``, which never run.  The tests fail on

1. a cycle between modules (``a`` imports ``b`` ... imports ``a``), hidden
   behind a function-level import or not;
2. a module importing a module of a higher layer;
3. a module importing a built-in plugin (a package of ``plugins/``);
4. a module that belongs to no layer (add it to :data:`LAYERS`).

The layers, lowest first; a module may import its own layer and the ones
below it.  ``DESIGN.md`` lists the pipeline language → model → codegen →
plugins → front ends.  In imports the language sits *on* the model: its
builder constructs the model's dataclasses (``Problem``, domains), while the
model never reads text — manufactured solutions included, which take SymPy
expressions.  So the order, as the code is:

0. foundation: ``symop.errors``, ``symop.lazy`` (packages that import their
   submodules on first use) and ``symop.threads`` (torch's intra-op threads
   around small CPU work);
1. model: ``symop.model`` (problem, domains, mesh, analysis, operators,
   family) and ``symop.mms`` (manufactured solutions are symbolic model work);
2. language: ``symop.lang`` (grammar, converter, builder, one-line expressions)
   and ``symop.writer`` (prints a problem back in the language);
3. codegen: ``symop.codegen`` (SymPy → torch source);
4. engines and the plugin interface: ``symop.plugins`` (hookspecs,
   ``Discretization``/``Program``), ``symop.contract`` (what a method
   declares: orders, refinement), ``symop.solution``, ``symop.output``,
   ``symop.integrate`` (time schemes), ``symop.training``,
   ``symop.resources``, ``symop.devices``, ``symop.provenance``, and the shared numerical homes ``symop.discrete``,
   ``symop.nn`` and ``symop.interpolate`` (with ``symop.evaluation``, which
   evaluates a solution through it), and ``symop.wellposed`` (what a classical
   solver checks before it solves: one solution, finite data);
5. front ends: ``symop`` itself (its lazy ``__init__``), ``symop.__main__``,
   ``symop.api``, ``symop.cli`` and its sub-commands (``symop.mms_cli``,
   ``symop.bench``, ``symop.converge``), ``symop.display``, the conformance
   catalogue and matrix (``symop.catalogue``, ``symop.matrix``), sweeps on Dask
   workers (``symop.sweep``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "symop"
PLUGINS = ROOT / "plugins"

#: module name or package prefix -> layer (the longest matching prefix wins)
LAYERS: dict[str, int] = {
    "symop.errors": 0,
    "symop.lazy": 0,
    "symop.threads": 0,
    "symop.model": 1,
    "symop.mms": 1,
    "symop.lang": 2,
    "symop.writer": 2,
    "symop.codegen": 3,
    "symop.plugins": 4,
    "symop.contract": 4,
    "symop.solution": 4,
    "symop.output": 4,
    "symop.integrate": 4,
    "symop.training": 4,
    "symop.trackers": 4,
    "symop.resources": 4,
    "symop.devices": 4,
    "symop.provenance": 4,
    "symop.discrete": 4,
    "symop.nn": 4,
    "symop.interpolate": 4,
    "symop.evaluation": 4,
    "symop.wellposed": 4,
    "symop": 5,
    "symop.__main__": 5,
    "symop.api": 5,
    "symop.cli": 5,
    "symop.mms_cli": 5,
    "symop.bench": 5,
    "symop.converge": 5,
    "symop.display": 5,
    "symop.catalogue": 5,
    "symop.matrix": 5,
    "symop.sweep": 5,
}
NAMES = ("foundation", "model", "language", "codegen", "engines and plugin interface", "front ends")


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package directory ``package``, by dotted name (packages by their own name)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import/ImportFrom node, at any depth, except under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imports(name: str, path: Path, known: set[str]) -> dict[str, int]:
    """The modules ``name`` imports (top-level names, whether in ``known`` or not) -> first line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    out: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        out.setdefault(target, line)

    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                # `import a.b.c` runs a.b.c; the longest known prefix is the module it names
                parts = alias.name.split(".")
                while len(parts) > 1 and ".".join(parts) not in known:
                    parts.pop()
                add(".".join(parts), node.lineno)
            continue
        if node.level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            add(sub if sub in known else module, node.lineno)
    return out


def graph(package: Path) -> dict[str, dict[str, int]]:
    """Module -> {imported module of the same package -> line}."""
    mods = modules(package)
    known = set(mods)
    top = package.name
    return {name: {t: line for t, line in imports(name, path, known).items()
                   if t == top or t.startswith(top + ".")}
            for name, path in mods.items()}


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a self-import), each as a cycle path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, {}):
                found.append(_cycle_path(sorted(comp), edges))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _cycle_path(comp: list[str], edges: dict[str, dict[str, int]]) -> list[str]:
    """One closed path through the component, from its first module back to it."""
    members = set(comp)
    start = comp[0]
    parents = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, {})):
            if w == start:
                path = [v]
                while parents[path[-1]] is not None:
                    path.append(parents[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in parents:
                parents[w] = v
                queue.append(w)
    return comp  # pragma: no cover - a component always closes


def layer(name: str) -> int | None:
    """The layer of module ``name``: that of its longest prefix in :data:`LAYERS` (``symop`` itself only exactly)."""
    if name == "symop":
        return LAYERS[name]
    parts = name.split(".")
    while len(parts) > 1:
        key = ".".join(parts)
        if key in LAYERS:
            return LAYERS[key]
        parts.pop()
    return None


def _describe(path: list[str], edges: dict[str, dict[str, int]]) -> str:
    steps = [f"{a} (line {edges[a][b]})" for a, b in zip(path, path[1:])]
    return " -> ".join(steps + [path[-1]])


EDGES = graph(PACKAGE)


def test_the_walk_sees_function_level_imports():
    """The walk is worth something: it finds imports inside functions and skips TYPE_CHECKING ones."""
    assert "symop.api" in EDGES["symop.cli"]  # cli imports the api inside its commands
    assert "symop.model.domains" not in EDGES["symop.model.mesh"]  # only under TYPE_CHECKING
    assert len(EDGES) > 40


def test_no_import_cycles():
    found = cycles(EDGES)
    assert not found, "import cycles:\n" + "\n".join(_describe(c, EDGES) for c in found)


def test_every_module_has_a_layer():
    missing = sorted(m for m in EDGES if layer(m) is None)
    assert not missing, "modules without a layer (add them to LAYERS in tests/test_layers.py): " + ", ".join(missing)


def test_no_lower_layer_imports_a_higher_one():
    bad = []
    for module, targets in sorted(EDGES.items()):
        own = layer(module)
        for target, line in sorted(targets.items()):
            other = layer(target)
            if own is not None and other is not None and other > own:
                bad.append(f"{module} (layer {own}, {NAMES[own]}) imports {target} "
                           f"(layer {other}, {NAMES[other]}) at line {line}")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_symop_never_imports_a_builtin_plugin():
    plugins = {p.name for p in PLUGINS.iterdir() if (p / "__init__.py").exists()}
    assert {"symop_fd", "symop_fem", "symop_pinn", "symop_pino", "symop_hypino"} <= plugins
    mods = modules(PACKAGE)
    bad = []
    for name, path in mods.items():
        for target, line in imports(name, path, set(mods)).items():
            if target.split(".")[0] in plugins:
                bad.append(f"{name} imports the plugin module {target} at line {line}")
    assert not bad, "\n".join(bad)


def test_model_reads_no_text_and_knows_no_plugin_manager():
    """Manufactured solutions and the model are symbolic: no parser, no plugin manager."""
    for module, targets in EDGES.items():
        if layer(module) == LAYERS["symop.model"]:
            assert not any(t.startswith("symop.lang") or t == "symop.plugins" for t in targets), (module, targets)


def test_the_checks_catch_a_hidden_cycle_and_a_layer_breach(tmp_path):
    """A function-level cycle in a throwaway package is found, and so is an upward import."""
    pkg = tmp_path / "symop"
    (pkg / "model").mkdir(parents=True)
    (pkg / "lang").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model" / "__init__.py").write_text("")
    (pkg / "lang" / "__init__.py").write_text("")
    (pkg / "model" / "family.py").write_text("def draw():\n    from symop.lang import builder\n    return builder\n")
    (pkg / "lang" / "builder.py").write_text("from typing import TYPE_CHECKING\nfrom ..model import family\n"
                                             "if TYPE_CHECKING:\n    from symop.api import x\n")
    edges = graph(pkg)
    assert edges["symop.lang.builder"] == {"symop.model.family": 2}
    found = cycles(edges)
    assert found == [["symop.lang.builder", "symop.model.family", "symop.lang.builder"]]
    assert layer("symop.model.family") < layer("symop.lang.builder")  # family -> builder goes up a layer


@pytest.mark.parametrize("module", ["symop.mms", "symop.model.domains", "symop.model.mesh", "symop.lang.builder"])
def test_the_once_hidden_cycles_stay_broken(module):
    """``lang/builder -> model/family -> mms -> lang/builder`` and ``domains <-> mesh`` were cycles."""
    reach, todo = set(), [module]
    while todo:
        v = todo.pop()
        for w in EDGES.get(v, {}):
            if w not in reach:
                reach.add(w)
                todo.append(w)
    assert module not in reach
