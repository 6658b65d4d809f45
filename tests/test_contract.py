"""What methods and plugins declare: time schemes from the registry, orders and
refinement, sub-commands from a hook, operator names that do not collide."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from symop.plugins import Command, PluginError, commands, hookimpl, make_manager, operators

# ---------------------------------------------------------------- time schemes


@pytest.fixture
def test_scheme():
    """An implicit theta scheme (theta = 3/4, order 1) added to the registry for one test."""
    from symop.integrate import Scheme, ThetaMethod, register_scheme, unregister_scheme

    scheme = register_scheme(Scheme("theta-three-quarters", "implicit", 1,
                                    lambda linear, source: ThetaMethod(linear, source, theta=0.75),
                                    "a test scheme", theta=0.75, imex="imex-euler"))
    yield scheme
    unregister_scheme(scheme.name)


def _choices(method: str, option: str):
    from symop.plugins import discretizations

    (opt,) = [o for o in discretizations()[method].options if o.name == option]
    return opt.choices


def test_a_registered_scheme_is_offered_by_fd_and_fem(test_scheme):
    import symop

    assert test_scheme.name in _choices("fd", "scheme")
    assert test_scheme.name in _choices("fem", "scheme")
    problem = symop.parse("space x\ntime t in [0, 0.1]\ndomain interval(x: [0, 1])\nfield u\n"
                          "equation dt(u) = d(u, x, 2)\nboundary all: u = 0\ninitial u = sin(pi*x)\n"
                          "exact u = exp(-pi^2*t)*sin(pi*x)\n")
    fd = symop.solve(problem, "fd", n=16, scheme=test_scheme.name, dt=0.002)
    fem = symop.solve(problem, "fem", n=16, scheme=test_scheme.name, dt=0.002)
    for sol in (fd, fem):
        assert sol.errors()["u"]["rel_l2"] < 0.05


def test_a_scheme_leaves_the_options_when_unregistered(test_scheme):
    from symop.integrate import unregister_scheme

    unregister_scheme(test_scheme.name)
    assert test_scheme.name not in _choices("fd", "scheme")
    assert test_scheme.name not in _choices("fem", "scheme")


def test_fem_offers_the_implicit_schemes_and_fd_all():
    from symop.integrate import scheme_names

    assert tuple(_choices("fem", "scheme")) == scheme_names("implicit") == ("backward-euler", "crank-nicolson")
    assert tuple(_choices("fd", "scheme")) == scheme_names()
    assert tuple(_choices("fd", "split")) == tuple(_choices("fem", "split")) == ("none", "lie", "strang")


# ---------------------------------------------------------------- operators


def _ops(*names):
    from symop.lang.expressions import OperatorSpec

    class Ops:
        @hookimpl
        def symop_operators(self):
            return [OperatorSpec(n, 1, lambda args, scope: 2 * args[0], "a test operator") for n in names]

    return Ops


def test_an_operator_named_like_a_builtin_is_refused_naming_both():
    pm = make_manager(load_entry_points=False, plugins=[_ops("lap")()])
    with pytest.raises(PluginError) as err:
        operators(pm)
    assert str(err.value) == ("the plugin `Ops` adds an operator `lap`, which collides with the built-in operator "
                              "`lap` (Laplacian); the plugin must give its operator another name.")
    pm = make_manager(load_entry_points=False, plugins=[_ops("sin")()])
    with pytest.raises(PluginError, match="the plugin `Ops` adds an operator `sin`, which collides with the built-in "
                                          "function `sin`"):
        operators(pm)


def test_two_plugins_adding_one_operator_are_named_in_the_error():
    pm = make_manager(load_entry_points=False)
    pm.register(_ops("twice")(), name="first_ops")
    pm.register(_ops("twice", "thrice")(), name="second_ops")
    with pytest.raises(PluginError) as err:
        operators(pm)
    message = str(err.value)
    assert "the plugins `" in message and "first_ops" in message and "second_ops" in message
    assert "both add an operator named `twice`" in message
    pm.unregister(name="first_ops")
    assert sorted(operators(pm)) == ["thrice", "twice"]


# ---------------------------------------------------------------- commands

COMMAND_PLUGIN = '''
"""A third-party plugin that adds the sub-command `symop hello`."""
from symop.plugins import Command, hookimpl


def arguments(parser):
    parser.add_argument("name", help="whom to greet")
    parser.add_argument("--times", type=int, default=1, help="how often")


def run(args):
    for _ in range(args.times):
        print(f"hello, {args.name}")
    return 3


@hookimpl
def symop_commands():
    return [Command("hello", "greet someone (a test plugin)", arguments, run)]
'''

CLASHING_PLUGIN = '''
from symop.plugins import Command, hookimpl


@hookimpl
def symop_commands():
    return [Command("run", "another run", lambda parser: None, lambda args: 0)]
'''


def _install(root: Path, module: str, text: str) -> Path:
    """A temporary installed package: the module plus its dist-info with a `symop` entry point."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(text)
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[symop]\n{module} = {module}\n")
    (info / "RECORD").write_text("")
    return root


def _symop(args, path: Path, cwd: Path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(path) + os.pathsep + env.get("PYTHONPATH", "")
    code = "import sys; from symop.cli import main; sys.argv[0] = 'symop'; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_a_plugin_command_appears_in_help_and_runs(tmp_path):
    site = _install(tmp_path / "site", "symop_hello_plugin", COMMAND_PLUGIN)
    listing = _symop(["--help"], site, tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "greet someone (a test plugin)" in listing.stdout
    lines = listing.stdout.splitlines()
    names = [line.split()[0] for line in lines if line.startswith("    ") and not line.startswith("     ")]
    assert names[:9] == ["check", "show", "plugins", "run", "train", "mms", "converge", "compare", "bench"]
    assert names[9:] == ["hello"]
    proc = _symop(["hello", "world", "--times", "2"], site, tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "hello, world\nhello, world\n"


def test_a_command_clashing_with_a_builtin_one_is_a_sentence(tmp_path):
    site = _install(tmp_path / "site", "symop_clash_plugin", CLASHING_PLUGIN)
    proc = _symop(["check", str(Path(__file__).parent.parent / "examples" / "poisson.pde")], site, tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "the plugins `symop.cli` and `symop_clash_plugin` both add a command named `run`" in proc.stderr


def test_core_commands_come_through_the_hook():
    from symop.cli import command_table

    pm = make_manager(load_entry_points=False)
    table = command_table(pm)
    assert list(table) == ["check", "show", "plugins", "run", "train", "mms", "converge", "compare", "bench"]
    assert all(isinstance(c, Command) for c in table.values())
    assert commands(pm) == table


# ---------------------------------------------------------------- orders and refinement


def test_builtin_methods_declare_their_orders():
    from symop.plugins import Accuracy, discretizations

    methods = discretizations()
    fd, fem = methods["fd"], methods["fem"]
    assert fd.declared_accuracy({}) == Accuracy(space=2, time=4)
    assert fd.declared_accuracy({"order": 4, "scheme": "crank-nicolson"}) == Accuracy(space=4, time=2)
    assert fd.declared_accuracy({"scheme": "rk4", "split": "lie"}).time == 1
    assert fd.declared_accuracy({"scheme": "euler", "split": "strang"}).time == 1
    assert fd.declared_accuracy({"scheme": "ssprk3", "split": "strang"}).time == 2
    assert fem.declared_accuracy({"degree": 1}) == Accuracy(space=2, time=2)
    assert fem.declared_accuracy({"degree": 2, "scheme": "backward-euler"}) == Accuracy(space=3, time=1)
    assert fem.declared_accuracy({"split": "lie"}).time == 1
    for name in ("pinn", "pino", "hypino"):
        if name in methods:
            assert methods[name].declared_accuracy({}) is None
    assert Accuracy(space=2, time=1).order("both") == 1 and Accuracy(space=2, time=1).order("both", steady=True) == 2


def test_builtin_methods_declare_how_they_refine():
    import symop

    from symop.plugins import discretizations

    box = symop.parse("space x, y\ndomain box(x: [0, 2], y: [0, 1])\nfield u\nequation -lap(u) = 1\n"
                      "boundary all: u = 0\n")
    disk = symop.parse("space x, y\ndomain disk(center: (0, 0), radius: 1)\nfield u\nequation -lap(u) = 1\n"
                       "boundary all: u = 0\n")
    methods = discretizations()
    fd, fem = methods["fd"], methods["fem"]
    assert fd.refine(box, {}, 2) == {"n": 32}
    assert fem.refine(box, {}, 1) == {"n": 16}
    assert fem.refine(disk, {}, 1) == {"h": 2 / 8 / 2}
    assert fem.refine(box, {"h": 0.5}, 1) == {"h": 0.25}
    assert fem.resolution(disk, 16) == {"h": 2 / 16} and fem.resolution(box, 16) == {"n": 16}
    assert methods["pinn"].refine(box, {"steps": 10}, 1) == {"steps": 20}
    assert methods["pinn"].resolution(box, 16) == {}


ORDER_PLUGIN_TEXT = "space x\ndomain interval(x: [0, 2])\nfield u\nequation -d(u, x, 2) = 1\nboundary all: u = 0\n" \
                    "exact u = x*(2 - x)/2\n"


def _order_plugin(order: float | None):
    """A method whose error is exactly (1/m)^3 for its option `m` (a name no study could guess)."""
    import numpy as np

    from symop.plugins import Accuracy, Discretization, Option, Program, Refinement
    from symop.solution import Grid, Solution

    class Cubed(Program):
        def __init__(self, problem, options):
            self.problem, self.options = problem, options

        def run(self, device="cpu", progress=False):
            m = self.options["m"]
            axes = tuple(np.linspace(lo, hi, 33) for _, lo, hi in self.problem.domain.axes)
            grid = Grid(axes, self.problem.space.names)
            probe = Solution(self.problem, "cubed", dict(self.options), grid, {}, time=None)
            fields = {"u": probe.exact_values("u") * (1 + (1 / m) ** 3)}
            return Solution(self.problem, "cubed", dict(self.options), grid, fields)

    class CubedMethod(Discretization):
        name = "cubed"
        description = "error (1/m)^3 (a test plugin)"
        options = (Option("m", int, 4, "resolution"),)
        refinement = Refinement(cells="m", coarse=4)

        def accuracy(self, options):
            return None if order is None else Accuracy(space=order)

        def lower(self, problem, options):
            return Cubed(problem, options)

    class Plugin:
        @hookimpl
        def symop_discretizations(self):
            return [CubedMethod()]

    return Plugin()


@pytest.fixture
def cubed():
    """Register the `cubed` test method with the process-wide plugin manager for one test."""
    from symop.plugins import manager

    registered = []

    def register(order):
        plugin = _order_plugin(order)
        manager().register(plugin, name="cubed-test")
        registered.append(plugin)

    yield register
    for plugin in registered:
        manager().unregister(plugin)


def test_converge_refines_as_the_method_declares(cubed):
    import symop
    from symop.converge import converge

    cubed(3)
    study = converge(symop.parse(ORDER_PLUGIN_TEXT), "cubed", levels=3)
    assert [lv.options["m"] for lv in study.levels] == [4, 8, 16]
    assert [lv.h for lv in study.levels] == [0.5, 0.25, 0.125]
    assert study.orders == pytest.approx([3.0, 3.0], abs=1e-6)
    assert study.declared_order == 3
    assert '"declared_order": 3' in study.to_json()


def test_bench_uses_the_declared_resolution_and_order(cubed, tmp_path):
    from symop import bench

    cubed(3)
    bench.generate("poisson", 2, 0, tmp_path, domains=["box"], dims=[1], options={"n": 8})
    summary = bench.run(tmp_path, "cubed", expect_order=3)
    assert summary["passed"] == 2, summary["results"]
    for row in summary["results"]:
        assert row["options"] == {"m": 8}
        assert row["order"] == pytest.approx(3.0, abs=1e-6)


def test_bench_checks_no_order_for_a_method_that_declares_none(cubed, tmp_path):
    from symop import bench

    cubed(None)
    bench.generate("poisson", 1, 0, tmp_path, domains=["box"], dims=[1], options={"n": 8})
    summary = bench.run(tmp_path, "cubed", expect_order=3)
    (row,) = summary["results"]
    assert "order" not in row and row["status"] == "pass"
