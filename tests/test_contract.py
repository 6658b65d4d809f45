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
