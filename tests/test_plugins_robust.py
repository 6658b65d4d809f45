"""A broken third-party plugin is left out with a sentence that names it; symop and its other methods keep working.

Each kind of breakage the plugin audit found is here: a module that cannot be
imported, hooks that are not symop's, a ``symop_discretizations`` hook that
raises or returns the wrong thing, a method named like a built-in one,
option defaults that break their own rules, and failures inside ``accepts``,
``lower`` and ``Program.run`` of another package's method.  Plugins are
registered in memory (``make_manager(plugins=...)``) and installed as the
process-wide manager with :func:`installed`; import failures go through a
real entry point of a throwaway distribution on ``sys.path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import symop
import symop.cli as cli
import symop.plugins as plugins
from symop import matrix
from symop.catalogue import CLASSES
from symop.cli import main
from symop.errors import MethodError, SymopError
from symop.plugins import (Discretization, Option, PluginError, PluginOrigin, Program, catalogue, discretizations,
                           get_discretization, hookimpl, make_manager, plugin_problems)
from symop.solution import Grid, Solution

ROOT = Path(__file__).resolve().parent.parent
POISSON = str(ROOT / "examples" / "poisson.pde")


# ------------------------------------------------------------------ a working method to break
class ZeroProgram(Program):
    """Zeros on a 3 x 3 grid (or what ``result`` says)."""

    def __init__(self, problem, options, result=None, raises=None):
        self.problem, self.options, self.result, self.raises = problem, options, result, raises

    def run(self, device="cpu", progress=False):
        if self.raises is not None:
            raise self.raises
        if self.result is not None:
            return self.result
        axes = tuple(np.linspace(lo, hi, 3) for _, lo, hi in self.problem.domain.axes)
        return Solution(self.problem, "zero", dict(self.options), Grid(axes, self.problem.space.names),
                        {name: np.zeros((3,) * len(axes)) for name in self.problem.field_names}, device=device)


class Zero(Discretization):
    """A method whose stages can be told to fail: ``fail`` maps a stage to an exception or a returned value."""

    name = "zero"
    description = "zeros on a coarse grid (a test plugin)"
    options = (Option("n", int, 2, "cells", minimum=1),)

    def __init__(self, name: str = "zero", fail: dict | None = None, options=None):
        self.name, self.fail = name, dict(fail or {})
        if options is not None:
            self.options = options

    def _maybe(self, stage):
        what = self.fail.get(stage)
        if isinstance(what, BaseException):
            raise what
        return what

    def accepts(self, problem):
        return self._maybe("accepts") if "accepts" in self.fail else None

    def lower(self, problem, options):
        if "lower" in self.fail:
            return self._maybe("lower")
        run = self.fail.get("run")
        if isinstance(run, BaseException):
            return ZeroProgram(problem, options, raises=run)
        return ZeroProgram(problem, options, result=run)


def provider(*methods, hook=None):
    """A plugin (an instance) whose ``symop_discretizations`` returns ``methods``, or runs ``hook``."""

    class ThirdParty:
        @hookimpl
        def symop_discretizations(self):
            return hook() if hook is not None else list(methods)

    return ThirdParty()


@pytest.fixture
def installed(monkeypatch):
    """Make ``make_manager(plugins=...)`` of the given plugins (the installed ones too) symop's manager."""

    def install(*extra, entry_points: bool = True):
        pm = make_manager(load_entry_points=entry_points, plugins=extra)
        monkeypatch.setattr(plugins, "manager", lambda: pm)
        monkeypatch.setattr(cli, "manager", lambda: pm)
        return pm

    return install


def messages(pm) -> list[str]:
    return [p.message for p in plugin_problems(pm)]


# ------------------------------------------------------------------ 1. a module that cannot be imported
@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on ``sys.path`` with a distribution ``symop-broken`` whose entry point ``broken`` is a module
    that imports a module that is not installed."""
    (tmp_path / "symop_broken_plugin.py").write_text("import a_dependency_that_is_not_installed\n")
    info = tmp_path / "symop_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: symop-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[symop]\nbroken = symop_broken_plugin\n")
    (info / "RECORD").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


IMPORT_FAILURE = ("the plugin `broken` (symop_broken_plugin) could not be loaded: No module named "
                  "'a_dependency_that_is_not_installed'.")


def test_a_plugin_that_cannot_be_imported_is_left_out_with_a_sentence(site):
    pm = make_manager()
    assert {"fd", "fem", "pinn"} <= set(discretizations(pm))
    assert messages(pm) == [IMPORT_FAILURE]
    with pytest.raises(PluginError) as err:
        get_discretization("broken", pm)
    assert str(err.value) == IMPORT_FAILURE
    with pytest.raises(MethodError, match=r"there is no method `nope`; .* The plugin `broken` was left out: "
                                          r"`symop plugins` says why\."):
        get_discretization("nope", pm)


def test_a_plugin_that_cannot_be_imported_leaves_the_command_line_working(site):
    env = dict(os.environ, PYTHONPATH=str(site) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def symop_cli(*args):
        return subprocess.run([sys.executable, "-m", "symop", *args], capture_output=True, text=True, env=env,
                              cwd=ROOT)

    listing = symop_cli("plugins")
    assert listing.returncode == 0, listing.stderr
    assert f"warning: {IMPORT_FAILURE}" in listing.stderr and "Traceback" not in listing.stderr
    assert "fd" in listing.stdout
    assert symop_cli("--version").returncode == 0
    run = symop_cli("run", "examples/poisson.pde", "-m", "fd", "--set", "n=8", "-q")
    assert run.returncode == 0 and "solved with fd" in run.stdout, run.stderr
    refused = symop_cli("run", "examples/poisson.pde", "-m", "broken")
    assert refused.returncode == 1 and refused.stderr.strip() == IMPORT_FAILURE


# ------------------------------------------------------------------ 2. hooks that are not symop's
def test_a_misnamed_hook_is_left_out_naming_the_closest_hook():
    class Typo:
        @hookimpl
        def symop_discretizations(self):
            return [Zero("typo")]

        @hookimpl
        def symop_discretisations(self):
            return [Zero("typo")]

    pm = make_manager(load_entry_points=False, plugins=[Typo(), provider(Zero())])
    assert list(discretizations(pm)) == ["zero"]
    assert messages(pm) == [f"the plugin `Typo` ({__name__}.{Typo.__qualname__}) could not be loaded: its hook "
                            "`symop_discretisations` is not one of symop's hooks (did you mean "
                            "`symop_discretizations`?)."]
    assert not any(isinstance(p, Typo) for p in pm.get_plugins())  # nothing half-registered


def test_a_hook_with_arguments_the_spec_lacks_is_left_out():
    class Args:
        @hookimpl(specname="symop_discretizations")
        def methods(self, problem):
            return [Zero("args")]

    pm = make_manager(load_entry_points=False, plugins=[Args(), provider(Zero())])
    assert list(discretizations(pm)) == ["zero"]
    [message] = messages(pm)
    assert message.endswith("could not be loaded: its hook `methods` (for `symop_discretizations`) takes the "
                            "argument `problem`, which symop does not pass (it passes none).")
    assert not any(isinstance(p, Args) for p in pm.get_plugins())


def test_hooks_written_as_methods_of_a_class_in_a_module_are_explained():
    """The tutorial's old form: a class with @hookimpl methods inside the module the entry point names."""
    module = types.ModuleType("my_package.plugin")
    exec("from symop.plugins import hookimpl\n"
         "class MyPlugin:\n"
         "    @hookimpl\n"
         "    def symop_discretizations(self):\n"
         "        return []\n", module.__dict__)
    pm = make_manager(load_entry_points=False)
    assert not pm.add(module, PluginOrigin("mymethod", "my_package.plugin", "my-package"))
    assert messages(pm) == [
        "the plugin `mymethod` (my_package.plugin) could not be loaded: its hooks (`symop_discretizations`) are "
        "methods of the class `MyPlugin`, and pluggy registers the module itself, whose own functions carry no "
        "hook; make them module-level functions, or announce an instance (`PLUGIN = MyPlugin()`, entry point "
        "`my_package.plugin:PLUGIN`)."]


# ------------------------------------------------------------------ 3. a hook that raises or returns the wrong thing
def _raise():
    raise RuntimeError("boom in the hook")


@pytest.mark.parametrize("hook, says", [
    (_raise, "failed in its hook `symop_discretizations`: RuntimeError: boom in the hook; its methods are left out."),
    (lambda: "zero", "is left out: its hook `symop_discretizations` returned a str, not a list of Discretization "
                     "instances."),
    (lambda: Zero("single"), "is left out: its hook `symop_discretizations` returned a Zero, not a list of "
                             "Discretization instances; return `[Zero()]`."),
    (lambda: [object()], "is left out: its hook `symop_discretizations` returned an object, not a Discretization."),
    (lambda: [Zero], "is left out: its hook `symop_discretizations` returned the class `Zero`, not an instance of "
                     "it; return `Zero()`."),
], ids=["raises", "str", "single", "object", "class"])
def test_a_hook_that_raises_or_returns_the_wrong_type_leaves_the_others_working(hook, says):
    broken = provider(hook=hook)
    pm = make_manager(load_entry_points=False, plugins=[broken, provider(Zero("fine"))])
    assert list(discretizations(pm)) == ["fine"]
    [message] = messages(pm)
    assert f"`ThirdParty` ({__name__}.provider.<locals>.ThirdParty)" in message and message.endswith(says)
    with pytest.raises(PluginError, match="ThirdParty"):
        get_discretization("ThirdParty", pm)


def test_a_method_class_that_cannot_be_instantiated_is_a_failing_hook():
    class Abstract(Discretization):
        name = "abstract"

    pm = make_manager(load_entry_points=False, plugins=[provider(hook=lambda: [Abstract()])])
    assert discretizations(pm) == {}
    assert "TypeError: Can't instantiate abstract class Abstract" in messages(pm)[0]


# ------------------------------------------------------------------ 4. names
def test_a_plugin_method_named_like_a_builtin_one_is_left_out_and_the_builtin_keeps_it(installed):
    pm = installed(provider(Zero("fd"), Zero("mine")))
    table = discretizations(pm)
    assert type(table["fd"]).__module__.startswith("symop_fd") and "mine" in table
    [message] = messages(pm)
    assert message == (f"the plugin `ThirdParty` ({__name__}.provider.<locals>.ThirdParty) adds a method `fd`, which "
                       "is the name of a built-in method; the built-in one keeps the name, and the plugin's is left "
                       "out until the plugin renames it.")
    sol = symop.solve(POISSON, "fd", n=4)
    assert sol.method == "fd" and sol.fields["u"].shape == (5, 5)


def test_two_plugins_adding_one_method_name_both_lose_it_and_are_named():
    pm = make_manager(load_entry_points=False)
    pm.add(provider(Zero("same"), Zero("other")), PluginOrigin("first", "first.plugin", "first"))
    pm.add(provider(Zero("same")), PluginOrigin("second", "second.plugin", "second"))
    assert list(discretizations(pm)) == ["other"]
    [message] = messages(pm)
    assert "`first` (first.plugin)" in message and "`second` (second.plugin)" in message
    assert "both add a method named `same`; one of them must rename it, and until then none of them" in message
    with pytest.raises(PluginError, match="both add a method named `same`"):
        get_discretization("same", pm)


def test_one_plugin_adding_a_method_name_twice_is_named():
    pm = make_manager(load_entry_points=False, plugins=[provider(Zero("twice"), Zero("twice"), Zero("once"))])
    assert list(discretizations(pm)) == ["once"]
    assert "adds 2 methods named `twice`; each needs its own name" in messages(pm)[0]


# ------------------------------------------------------------------ 5. declarations
@pytest.mark.parametrize("options, says", [
    ((Option("n", int, "many", "cells"),),
     "the default of its option `n` breaks the option's own rules: the option `n` of method `bad` takes int "
     "values, not `many`."),
    ((Option("n", int, 0, "cells", minimum=1),),
     "the default of its option `n` breaks the option's own rules: the option `n` of method `bad` must be at "
     "least 1, not 0."),
    ((Option("scheme", str, "nope", "scheme", choices=("a", "b")),),
     "the default of its option `scheme` breaks the option's own rules: the option `scheme` of method `bad` must "
     "be one of a, b, not `nope`."),
    (("n",), "its options hold 'n', a str, not an Option."),
    ((Option("n", int, 8, "cells"), Option("n", int, 9, "cells again")), "it declares the option `n` twice."),
    ((Option("n", "int", 8, "cells"),), "its option `n` has the type 'int', which is no Python type such as int."),
], ids=["type", "range", "choice", "not-an-option", "twice", "type-name"])
def test_a_method_whose_declarations_break_the_rules_is_left_out(installed, capsys, options, says):
    pm = installed(provider(Zero("bad", options=options), Zero("good")))
    assert "good" in discretizations(pm) and "bad" not in discretizations(pm)
    expected = f"the method `bad` (plugin {__name__}.provider.<locals>.ThirdParty) is left out: {says}"
    assert messages(pm) == [expected]
    assert main(["plugins"]) == 0  # the listing works, and says what was left out
    out = capsys.readouterr()
    assert f"warning: {expected}" in out.err and "good" in out.out
    assert main(["run", POISSON, "-m", "bad"]) == 1
    assert capsys.readouterr().err.strip() == expected


def test_a_method_without_a_name_is_left_out():
    pm = make_manager(load_entry_points=False, plugins=[provider(Zero(""), Zero("good"))])
    assert list(discretizations(pm)) == ["good"]
    assert "its class `Zero` gives it the name ''; a method needs a name of one word" in messages(pm)[0]


def test_every_builtin_method_passes_the_checks():
    found = catalogue()
    assert {"fd", "fem", "pinn", "pino", "hypino", "insr"} <= set(found.methods)
    assert all(found.origins[m].builtin for m in ("fd", "fem", "pinn", "pino", "hypino", "insr"))
    assert not [p for p in found.problems if p.plugin.builtin]


# ------------------------------------------------------------------ 6. failures while a method runs
STAGES = [
    ({"accepts": KeyError("boom in accepts")}, "failed in accepts: KeyError: 'boom in accepts'."),
    ({"accepts": 42}, "failed in accepts: accepts returned int, not None or a reason (a str)."),
    ({"lower": RuntimeError("boom in lower")}, "failed in lower: RuntimeError: boom in lower."),
    ({"lower": NotImplementedError("generate a Program here")},
     "failed in lower: not implemented by the plugin (generate a Program here)."),
    ({"lower": 42}, "failed in lower: lower returned int, not a Program."),
    ({"lower": None}, "failed in lower: lower returned None, not a Program."),
    ({"run": ValueError("boom in run")}, "failed in run: ValueError: boom in run."),
    ({"run": {"u": 1.0}}, "failed in run: run returned dict, not a Solution."),
]


@pytest.mark.parametrize("fail, says", STAGES, ids=[f"{next(iter(f))}-{type(next(iter(f.values()))).__name__}"
                                                    for f, _ in STAGES])
def test_a_failure_inside_a_plugin_method_blames_the_plugin_and_names_the_stage(installed, capsys, fail, says):
    installed(provider(Zero("broken", fail)))
    expected = f"the method `broken` (plugin {__name__}.provider.<locals>.ThirdParty) {says}"
    with pytest.raises(PluginError) as err:
        symop.solve(POISSON, "broken")
    assert str(err.value) == expected
    assert main(["run", POISSON, "-m", "broken"]) == 1
    stderr = capsys.readouterr().err
    assert stderr.strip() == expected and "internal error" not in stderr
    assert main(["run", POISSON, "-m", "fd", "--set", "n=4", "-q"]) == 0  # the others are unaffected


def test_a_plugin_failure_outside_the_guarded_stages_is_blamed_on_the_plugin(installed, capsys):
    """``converge`` on the command line: a failure in the plugin's ``accepts`` names the plugin and the stage."""
    installed(provider(Zero("broken", {"accepts": KeyError("boom in accepts")})))
    assert main(["converge", str(ROOT / "examples" / "heat.pde"), "--method", "broken", "--levels", "2"]) == 1
    err = capsys.readouterr().err
    assert (f"the method `broken` (plugin {__name__}.provider.<locals>.ThirdParty) failed in accepts: "
            "KeyError: 'boom in accepts'.") in err
    assert "internal error" not in err


def test_a_builtin_methods_unexpected_error_stays_an_internal_error(monkeypatch, capsys):
    fd = type(get_discretization("fd"))

    def lower(self, problem, options):
        raise RuntimeError("a gap in fd")

    monkeypatch.setattr(fd, "lower", lower)
    assert main(["run", POISSON, "-m", "fd"]) == 1
    err = capsys.readouterr().err
    assert "internal error RuntimeError: a gap in fd" in err and "gap in symop's checks" in err


# ------------------------------------------------------------------ 7. the matrix
def test_the_matrix_marks_a_failing_accepts_and_says_what_a_plugin_tick_means(installed):
    installed(provider(Zero("broken", {"accepts": KeyError("boom in accepts")}), Zero("zero")))
    table = matrix.build(classes=CLASSES[:2])
    cell = table.cell("broken", CLASSES[0].name)
    assert cell.failed and not cell.accepted and "failed in accepts: KeyError: 'boom in accepts'" in cell.reason
    assert table.cell("zero", CLASSES[0].name).accepted and table.cell("fd", CLASSES[0].name).accepted
    assert set(table.third_party) == {"broken", "zero"}
    text = " ".join(matrix.text(table).split())
    assert "for broken, zero, of other packages, ✓ means only that accepts returned None" in text
    assert "!k failed to answer" in text
    md = matrix.markdown(table)
    assert "`broken`†" in md and "`fd` |" in md and "| !1 |" in md
    assert "† a method of another installed package: its ✓ means only that its `accepts` returned None" in md
    assert table.to_json()["classes"][CLASSES[0].name]["cells"]["broken"].startswith("error: the method `broken`")


def test_the_matrix_of_a_method_that_is_not_there_is_a_sentence(installed):
    installed(provider(Zero("zero")))
    with pytest.raises(MethodError, match="there is no method `zer`"):
        matrix.build(["zer"], classes=CLASSES[:1])


# ------------------------------------------------------------------ 8. converge's refusal ends a sentence
def test_converge_refusal_ends_with_a_full_stop_as_run_does(installed, capsys):
    installed(provider(Zero("picky", {"accepts": "picky solves nothing"})))
    heat = str(ROOT / "examples" / "heat.pde")
    assert main(["converge", heat, "--method", "picky", "--levels", "2"]) == 1
    assert capsys.readouterr().err.strip() == "picky cannot solve heat: picky solves nothing."
    assert main(["run", heat, "--method", "picky"]) == 1
    assert capsys.readouterr().err.strip() == "picky solves nothing."


def test_plugin_errors_are_symop_errors():
    assert issubclass(PluginError, SymopError)


def test_converge_and_bench_from_python_blame_a_plugin_whose_accepts_fails(installed, tmp_path):
    """converge and bench ask ``accepts`` themselves, before any solve: from Python too, another package's
    failure there is a PluginError naming the method, its plugin and the stage (it was the plugin's own
    KeyError, or a result row that read as an error of the problem)."""
    from symop import bench
    from symop.converge import converge

    installed(provider(Zero("broken", {"accepts": KeyError("boom in accepts")})))
    expected = (f"the method `broken` (plugin {__name__}.provider.<locals>.ThirdParty) failed in accepts: "
                "KeyError: 'boom in accepts'.")
    with pytest.raises(PluginError) as err:
        converge(str(ROOT / "examples" / "heat.pde"), "broken", levels=2)
    assert str(err.value) == expected
    bench.generate("poisson", 1, 0, tmp_path / "suite", domains=["box"])
    rows = bench.run(tmp_path / "suite", "broken")["results"]
    assert rows[0]["status"] == "error" and expected in rows[0]["reason"]
