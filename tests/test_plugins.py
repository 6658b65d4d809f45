"""Plugins register through the `symop` entry-point group, exactly as a third party's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import symop
from symop.errors import MethodError, OptionError
from symop.plugins import Option, make_manager, resolve_options

PLUGIN_MODULE = '''
"""A throwaway third-party method: it returns the exact solution on a grid."""
from __future__ import annotations

import numpy as np

from symop.plugins import Discretization, Option, Program, hookimpl
from symop.solution import Grid, Solution


class ExactProgram(Program):
    def __init__(self, problem, options):
        self.problem, self.options = problem, options
        self.source = "def echo(x):\\n    return exact(x)\\n"

    def run(self, device="cpu", progress=False):
        n = self.options["n"]
        axes = tuple(np.linspace(lo, hi, n + 1) for _, lo, hi in self.problem.domain.axes)
        grid = Grid(axes, self.problem.space.names)
        probe = Solution(self.problem, "echo", dict(self.options), grid, {}, time=None)
        fields = {name: probe.exact_values(name) + self.options["offset"] for name in self.problem.field_names}
        return Solution(self.problem, "echo", dict(self.options), grid, fields, device=device,
                        info={"note": "exact values"})


class Echo(Discretization):
    name = "echo"
    description = "returns the exact solution (a test plugin)"
    options = (Option("n", int, 8, "cells per axis"), Option("offset", float, 0.0, "added to every value"))

    def accepts(self, problem):
        if problem.domain.kind not in ("box", "interval"):
            return f"echo needs a box domain; this problem has a {problem.domain.kind}"
        return None

    def lower(self, problem, options):
        return ExactProgram(problem, options)


@hookimpl
def symop_discretizations():
    return [Echo()]
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """A temporary installed package: a module plus its dist-info with the entry point."""
    root = tmp_path_factory.mktemp("site")
    (root / "symop_echo_plugin.py").write_text(PLUGIN_MODULE)
    info = root / "symop_echo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: symop-echo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[symop]\necho = symop_echo_plugin\n")
    (info / "RECORD").write_text("")
    return root


def run_cli(args, plugin_path: Path, cwd: Path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(plugin_path) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "symop.cli", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_third_party_plugin_runs_through_the_command_line(plugin_path, tmp_path):
    example = Path(__file__).parent.parent / "examples" / "poisson.pde"
    listing = run_cli(["plugins"], plugin_path, tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "echo" in listing.stdout and "returns the exact solution" in listing.stdout
    out = tmp_path / "out"
    proc = run_cli(["run", str(example), "--method", "echo", "--set", "n=4", "--set", "offset=0.5",
                    "-o", str(out), "--quiet"], plugin_path, tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "echo"
    assert summary["options"]["n"] == 4
    assert abs(summary["errors"]["u"]["max"] - 0.5) < 1e-12
    refused = run_cli(["run", str(example.parent / "disk_poisson.pde"), "--method", "echo"], plugin_path, tmp_path)
    assert refused.returncode == 1
    assert "echo needs a box domain; this problem has a disk." in refused.stderr
    assert "Traceback" not in refused.stderr


def test_unknown_method_and_option_read_as_sentences(plugin_path, tmp_path):
    example = Path(__file__).parent.parent / "examples" / "poisson.pde"
    proc = run_cli(["run", str(example), "--method", "ech"], plugin_path, tmp_path)
    assert proc.returncode == 1 and "there is no method `ech`" in proc.stderr and "Did you mean `echo`?" in proc.stderr
    proc = run_cli(["run", str(example), "--method", "echo", "--set", "nn=3"], plugin_path, tmp_path)
    assert proc.returncode == 1 and "has no option `nn`" in proc.stderr
    proc = run_cli(["run", str(example), "--method", "echo", "--set", "n=abc"], plugin_path, tmp_path)
    assert proc.returncode == 1 and "takes int values, not `abc`" in proc.stderr


def test_a_plugin_can_add_a_language_operator():
    from symop.lang.expressions import OperatorSpec
    from symop.plugins import hookimpl

    class Ops:
        @hookimpl
        def symop_operators(self):
            return [OperatorSpec("twice", 1, lambda args, scope: 2 * args[0], "two times its argument")]

    pm = make_manager(load_entry_points=False, plugins=[Ops()])
    from symop.lang.builder import parse
    from symop.plugins import operators

    p = parse("space x\ndomain interval(x: [0, 1])\nfield u\nequation -d(u, x, 2) = twice(x)\nboundary all: u = 0\n",
              operators=operators(pm))
    import sympy as sp

    assert p.equations[0].rhs == 2 * sp.Symbol("x", real=True)


def test_misspelt_hook_argument_is_rejected_at_registration():
    """pluggy refuses the hook; symop leaves the plugin out with a sentence instead of failing as a whole."""
    from symop.plugins import discretizations, hookimpl, plugin_problems

    class Bad:
        @hookimpl
        def symop_discretizations(self, problme):
            return []

    pm = make_manager(load_entry_points=False, plugins=[Bad()])
    assert not any(isinstance(p, Bad) for p in pm.get_plugins()) and discretizations(pm) == {}
    [problem] = plugin_problems(pm)
    assert problem.message.endswith("could not be loaded: its hook `symop_discretizations` takes the argument "
                                    "`problme`, which symop does not pass (it passes none).")


def test_options_are_typed_and_checked():
    declared = (Option("n", int, 8, "cells"), Option("split", str, "none", "splitting", ("none", "lie", "strang")),
                Option("compile", bool, False, "torch.compile"))
    assert resolve_options("fd", declared, {"n": "16", "split": "lie", "compile": "yes"}) == {
        "n": 16, "split": "lie", "compile": True}
    with pytest.raises(OptionError, match="must be one of none, lie, strang"):
        resolve_options("fd", declared, {"split": "strong"})
    with pytest.raises(OptionError, match="takes int values"):
        resolve_options("fd", declared, {"n": "1.5"})


def test_an_option_given_where_it_would_not_act_is_refused():
    """``only_with``: a value given for an option whose condition fails is refused with a sentence; its default,
    or the option where the condition holds, is taken."""
    from symop.plugins import OnlyWith

    declared = (Option("scheme", str, "rk4", "scheme", ("rk4", "theta")),
                Option("theta", float, 0.5, "implicitness", only_with=OnlyWith("scheme", ("theta",))),
                Option("fourier", int, 0, "features"),
                Option("sigma", float, 1.0, "spread", only_with=OnlyWith("fourier", (0,), exclude=True)))
    with pytest.raises(OptionError, match=r"`theta` acts only with scheme theta, and this run has scheme rk4: "
                                          r"change scheme, or leave theta out\."):
        resolve_options("m", declared, {"theta": 1.0})
    with pytest.raises(OptionError, match="`sigma` acts only with fourier other than 0"):
        resolve_options("m", declared, {"sigma": 2.0})
    assert resolve_options("m", declared, {"theta": 0.5, "sigma": 1.0})["theta"] == 0.5  # the defaults: harmless
    assert resolve_options("m", declared, {"scheme": "theta", "theta": 1.0, "fourier": 4, "sigma": 2.0}) == {
        "scheme": "theta", "theta": 1.0, "fourier": 4, "sigma": 2.0}



def test_plugins_method_says_when_an_option_acts():
    from symop.cli import method_text
    from symop.plugins import get_discretization

    text = " ".join(method_text(get_discretization("pinn"), width=1000).split())
    assert "standard deviation of the Fourier frequencies (acts only with fourier other than 0)" in text
    assert "(acts only with optimizer kfac)" in text and "(acts only with estimator stde)" in text


def test_no_method_and_no_solve_line_is_a_sentence():
    p = symop.parse("space x\ndomain interval(x: [0, 1])\nfield u\nequation -d(u, x, 2) = 1\nboundary all: u = 0\n")
    with pytest.raises(MethodError, match="no method given and the file has no `solve` line"):
        symop.solve(p)


def test_symop_never_imports_a_builtin_plugin():
    root = Path(__file__).parent.parent / "symop"
    for path in root.rglob("*.py"):
        text = path.read_text()
        for name in ("symop_fd", "symop_fem", "symop_pinn"):
            assert f"import {name}" not in text and f"from {name}" not in text, f"{path} imports {name}"


@pytest.mark.parametrize("method, given", [("fd", {"scheme": "euler"}), ("fd", {"dt": 0.1}), ("fd", {"save": 3}),
                                           ("fd", {"split": "lie"}), ("fem", {"scheme": "backward-euler"}),
                                           ("fem", {"dt": 0.1})])
def test_time_options_are_refused_for_a_steady_problem(method, given):
    """A time scheme, step or snapshot count on a problem without time would be dropped: refused with a sentence,
    and taken on a time-dependent one."""
    name = next(iter(given))
    with pytest.raises(OptionError, match=rf"`{name}` acts only on a time-dependent problem, and `poisson` "
                                          rf"is steady \(it has no time\): leave {name} out\."):
        symop.lower(symop.load("examples/poisson.pde"), method, **given)
    symop.lower(symop.load("examples/heat.pde"), method, **given)
    from symop.cli import method_text
    from symop.plugins import get_discretization

    assert "(time-dependent problems only)" in method_text(get_discretization(method), width=1000)
