"""No built-in plugin reaches into another: shared building blocks are core.

Every module under ``plugins/`` is read with :mod:`ast` (never imported), and
every ``import`` counts, those inside functions and under ``if TYPE_CHECKING:``
included.  A plugin may import its own modules and ``symop``; from another
built-in plugin it may import only the names that plugin declares public in
its package's ``__all__`` (``from symop_fd import Name``), and today none
declares any.  What two methods share lives in core packages with a public
API: grids and stencils in :mod:`symop.discrete`, networks and derivative
engines in :mod:`symop.nn`; those packages import no plugin.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins"
CORE = ("symop.discrete", "symop.nn")


def plugin_packages(root: Path) -> dict[str, Path]:
    """Every plugin package under ``root`` (a directory with ``__init__.py``), by name."""
    return {p.name: p for p in sorted(root.iterdir()) if (p / "__init__.py").is_file()}


def public_names(package: Path) -> frozenset[str]:
    """The literal ``__all__`` of a package's ``__init__.py`` (empty when it declares none)."""
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def violations(root: Path) -> list[str]:
    """Every import of another plugin's module or non-public name, as ``path:line: sentence``."""
    packages = plugin_packages(root)
    public = {name: public_names(path) for name, path in packages.items()}
    bad = []
    for own, package in packages.items():
        for path in sorted(package.rglob("*.py")):
            where = path.relative_to(root.parent)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        top = alias.name.split(".")[0]
                        if top in packages and top != own:
                            bad.append(f"{where}:{node.lineno}: `import {alias.name}` reaches into the plugin "
                                       f"{top}; import only the names in its __all__, or move the shared code to core.")
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    top = node.module.split(".")[0]
                    if top not in packages or top == own:
                        continue
                    names = [a.name for a in node.names]
                    private = [n for n in names if n not in public[top]]
                    if node.module != top or private:
                        shown = ", ".join(private or names)
                        bad.append(f"{where}:{node.lineno}: `from {node.module} import {shown}` reaches into the "
                                   f"plugin {top}, whose public names are "
                                   f"{', '.join(sorted(public[top])) or 'none'}; move the shared code to core.")
    return bad


def test_builtin_plugins_are_there():
    assert {"symop_fd", "symop_fem", "symop_pinn", "symop_pino", "symop_hypino"} <= set(plugin_packages(PLUGINS))


def test_no_plugin_imports_another_plugins_private_names():
    bad = violations(PLUGINS)
    assert not bad, "imports across plugins:\n" + "\n".join(bad)


def test_the_walk_catches_a_function_level_import_and_allows_public_names(tmp_path):
    """A throwaway tree: a deep import inside a function is caught, a name in ``__all__`` is not."""
    root = tmp_path / "plugins"
    (root / "symop_a").mkdir(parents=True)
    (root / "symop_b").mkdir()
    (root / "symop_a" / "__init__.py").write_text('__all__ = ["Grid"]\nfrom .grid import Grid\n')
    (root / "symop_a" / "grid.py").write_text("class Grid: ...\n\ndef _helper(): ...\n")
    (root / "symop_b" / "__init__.py").write_text("")
    (root / "symop_b" / "method.py").write_text(
        "from symop_a import Grid\nfrom . import other\n\ndef f():\n    from symop_a.grid import _helper\n"
        "    import symop_a.grid\n    from symop_a import _helper\n")
    bad = violations(root)
    assert [line.split(": ", 1)[0] for line in bad] == ["plugins/symop_b/method.py:5", "plugins/symop_b/method.py:6",
                                                        "plugins/symop_b/method.py:7"]
    assert "from symop_a.grid import _helper" in bad[0] and "public names are Grid" in bad[0]


@pytest.mark.parametrize("name", CORE)
def test_core_packages_declare_a_documented_api(name):
    """Each shared package says what it offers, and every public name exists and is documented."""
    module = __import__(name, fromlist=["__all__"])
    assert module.__doc__ and len(module.__doc__.strip()) > 80
    assert module.__all__ and len(set(module.__all__)) == len(module.__all__)
    for public in module.__all__:
        obj = getattr(module, public)
        if inspect.ismodule(obj):  # a public sub-module lists its own names
            assert obj.__name__.startswith(name + ".") and obj.__doc__ and obj.__all__, public
            members = [getattr(obj, n) for n in obj.__all__]
        else:
            members = [obj]
        for member in members:
            if inspect.isfunction(member) or inspect.isclass(member):
                assert inspect.getdoc(member), f"{name}.{public}: {member.__qualname__} has no docstring"


def test_core_packages_load_no_plugin():
    """Importing the shared packages imports no module of a built-in plugin (checked in a fresh interpreter)."""
    plugins = sorted(plugin_packages(PLUGINS))
    code = ("import sys\n" + "".join(f"import {name}\n" for name in CORE)
            + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {plugins!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout
