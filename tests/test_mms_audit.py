"""Manufactured-solution workflow, as a user meets it: files that `symop check` accepts and
sources verified independently, periodic directions, suites and studies that fail with sentences."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

import symop
from symop import bench
from symop.api import manufacture
from symop.converge import converge
from symop.errors import SymopError
from symop.mms import ManufactureError, check_exact, random_solution
from symop.writer import write_problem


def _cli(args, capsys):
    from symop.cli import main

    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _has(method: str) -> bool:
    try:
        from symop.plugins import discretizations

        return method in discretizations()
    except Exception:
        return False


# ------------------------------------------------------- indexed spaces (x[1..d])
BALL = """problem ball
param d = {d}
space x[1..d]
domain ball(dim: d, radius: {r})
field u
equation -lap(u) + u^2 = 0
boundary all: {bc}
"""
SOLUTION = "(1 - sum(i, 1, d, x[i]^2))*sin(x[1])"


def _independent(d: int, r: float):
    """Source and Robin data of SOLUTION, by SymPy on d plain symbols (the sum written out)."""
    xs = sp.symbols(f"y1:{d + 1}")
    u = (1 - sum(x ** 2 for x in xs)) * sp.sin(xs[0])
    source = -sum(sp.diff(u, x, 2) for x in xs) + u ** 2
    robin = sum(x / sp.Rational(r) * sp.diff(u, x) for x in xs) + u  # outward normal x/r on the sphere
    return xs, source, robin


def _at(expr, base, xs, point):
    """``expr`` (in x[k]) at ``point``, its sums carried out."""
    values = {base[k + 1]: point[k] for k in range(len(xs))}
    return complex(sp.N(expr.doit().xreplace(values), 20))


@pytest.mark.parametrize("d, r", [(10, 1), (12, 2)])
def test_indexed_sums_below_the_expansion_limit_write_a_valid_file(d, r):
    """8 ≤ d ≤ 64: sums stay `sum` nodes; their derivatives used to be written as KroneckerDelta,
    which `symop check` rejects.  The file must parse, and its source and Robin data match SymPy's."""
    problem = symop.parse(BALL.format(d=d, r=r, bc="dn(u) + u = 0"))
    made = manufacture(problem, _solution(problem))
    text = write_problem(made)
    assert "KroneckerDelta" not in text
    back = symop.parse(text)  # what `symop check` does
    assert check_exact(back) == {"u": 0}
    xs, source, robin = _independent(d, r)
    base = back.space.indexed
    rng = np.random.default_rng(0)
    point = rng.normal(size=d)
    point = point / np.linalg.norm(point) * r  # on the sphere, where the Robin data hold
    plain = dict(zip(xs, point))
    assert _at(back.equations[0].rhs, base, xs, point) == pytest.approx(complex(source.xreplace(plain)), rel=1e-12)
    bc = back.boundary[0]
    written = bc.rhs if not bc.rhs.has(*[f.function for f in back.fields]) else None
    assert written is not None
    assert _at(written, base, xs, point) == pytest.approx(complex(robin.xreplace(plain)), rel=1e-12)


def _solution(problem):
    from symop.api import parse_expression

    return {"u": parse_expression(problem, SOLUTION)}


def test_robin_on_a_ball_beyond_the_expansion_limit_writes_a_valid_file():
    """d = 100: dn on the sphere is taken radially with the sums kept, not as 100 KroneckerDelta sums."""
    problem = symop.parse(BALL.format(d=100, r=1, bc="dn(u) + u = 0"))
    made = manufacture(problem, _solution(problem))
    text = write_problem(made)
    assert "KroneckerDelta" not in text and len(text) < 2000
    back = symop.parse(text)
    xs, _, robin = _independent(100, 1)
    point = np.random.default_rng(1).normal(size=100)
    point /= np.linalg.norm(point)
    assert _at(back.boundary[0].rhs, back.space.indexed, xs, point) == pytest.approx(
        complex(robin.xreplace(dict(zip(xs, point)))), rel=1e-12)


# ------------------------------------------------------------- periodic directions
PERIODIC = """problem per
space x, y
domain box(x: [0, 2], y: [0, 1])
boundary periodic(x)
field u
equation -lap(u) + u = 0
boundary bottom: u = 0
boundary top: dn(u) = 0
"""


@pytest.mark.parametrize("solution, what", [("x*exp(y)", "the solution differs"),
                                            ("sin(pi*x/4)^2*exp(y)", "the solution differs"),
                                            ("cos(pi*x/2)*exp(y)", "the solution differs"),
                                            ("sin(pi*x/2)*exp(y)", "first derivative")])
def test_a_solution_that_does_not_repeat_in_a_periodic_direction_is_refused(solution, what):
    problem = symop.parse(PERIODIC)
    with pytest.raises(ManufactureError, match=what):
        manufacture(problem, {"u": solution})


def test_a_periodic_solution_is_accepted():
    problem = symop.parse(PERIODIC)
    made = manufacture(problem, {"u": "cos(pi*x)*exp(y) + sin(pi*x)^2"})
    assert check_exact(made) == {"u": 0}


def _repeats(expr, x, lo, hi, orders=2):
    for _ in range(orders):
        jump = complex(sp.N((expr.subs(x, hi) - expr.subs(x, lo)).subs(sp.Symbol("y"), sp.Rational(3, 7)), 30))
        if abs(jump) > 1e-12:
            return False
        expr = sp.diff(expr, x)
    return True


@pytest.mark.parametrize("seed", range(6))
def test_random_solutions_repeat_in_periodic_directions(seed):
    problem = symop.parse(PERIODIC)
    x = problem.space.coords[0]
    sol = random_solution(problem, seed)["u"]
    assert _repeats(sol, x, 0, 2)
    assert check_exact(manufacture(problem, {"u": sol})) == {"u": 0}


@pytest.mark.skipif(not _has("fd"), reason="the fd method is not installed")
def test_random_periodic_problem_run_by_fd_converges(tmp_path, capsys):
    """`symop mms --random` on a periodic file, then `symop converge`: the order is fd's 2 (it was
    no order at all, with O(1) errors, when the random solution did not repeat)."""
    src = tmp_path / "per.pde"
    src.write_text(PERIODIC)
    made = tmp_path / "made.pde"
    rc, out, err = _cli(["mms", str(src), "--random", "--seed", "1", "-o", str(made)], capsys)
    assert rc == 0, err
    study = converge(symop.load(made), "fd", levels=3, options={"n": 16})
    assert study.levels[-1].rel_l2 < 1e-2
    assert study.observed_order == pytest.approx(2.0, abs=0.2)


def test_negative_wave_number_is_a_sentence(tmp_path, capsys):
    src = tmp_path / "per.pde"
    src.write_text(PERIODIC)
    with pytest.raises(ManufactureError, match="wave number"):
        random_solution(symop.parse(PERIODIC), 0, max_frequency=-1)
    rc, out, err = _cli(["mms", str(src), "--random", "--max-frequency", "-1"], capsys)
    assert rc == 1 and "wave number" in err and "internal error" not in err


# ------------------------------------------------------------------ bench
@pytest.mark.parametrize("args, message", [
    (["--dims", "3"], "1D or 2D"),
    (["--dims", "a"], "--dims takes"),
    (["--bound", "-1"], "--bound"),
    (["--set", "n=abc"], "whole number"),
    (["--set", "n=0"], "whole number"),
])
def test_bench_generate_refuses_nonsense(tmp_path, capsys, args, message):
    out = tmp_path / "suite"
    rc, _, err = _cli(["bench", "generate", "poisson", "--count", "1", "-o", str(out), *args], capsys)
    assert rc == 1 and message in err and "internal error" not in err
    assert not (out / "suite.json").exists()


@pytest.mark.parametrize("content, message", [
    ("{}", "no list `problems`"),
    ("[1, 2]", "not an object"),
    ('{"problems": [{"file": "a.pde"}]}', "needs a `file` and a `name`"),
    ('{"problems": [], "options": {"n": "abc"}}', "whole number"),
    ('{"problems": [{"file": "a.pde", "name": "a", "bound": "x"}]}', "bound"),
])
def test_bench_run_on_a_malformed_suite_is_a_sentence(tmp_path, capsys, content, message):
    (tmp_path / "suite.json").write_text(content)
    with pytest.raises(SymopError, match=message):
        bench.load_suite(tmp_path)
    rc, _, err = _cli(["bench", "run", str(tmp_path), "-m", "fem", "-q"], capsys)
    assert rc == 1 and message in err and "internal error" not in err


# ---------------------------------------------------------------- converge
NONLINEAR = """problem nl
space x
domain interval(x: [0, 1])
field u
equation -d(u, x, 2) + u^3 = 0
boundary all: u = 0
"""


@pytest.mark.skipif(not _has("fem"), reason="the fem method is not installed")
def test_a_study_whose_every_level_fails_is_an_error_not_a_table(tmp_path, capsys):
    """Newton capped at two iterations fails at every level, each with its own message: that is no
    study (exit 1), where it used to print a table of failures and a legendless plot with exit 0."""
    made = tmp_path / "nl.pde"
    made.write_text(write_problem(manufacture(symop.parse(NONLINEAR), {"u": "3*sin(pi*x) + x*(1 - x)"})))
    rc, out, err = _cli(["converge", str(made), "-m", "fem", "--levels", "2", "--set", "n=4",
                         "--set", "maxit=2", "-q", "-o", str(tmp_path / "out")], capsys)
    assert rc == 1 and "failed at every level" in err, (out, err)
    assert "Newton" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not _has("fem"), reason="the fem method is not installed")
def test_study_options_are_typed(tmp_path, capsys):
    made = tmp_path / "nl.pde"
    made.write_text(write_problem(manufacture(symop.parse(NONLINEAR), {"u": "sin(pi*x)"})))
    rc, out, err = _cli(["converge", str(made), "-m", "fem", "--levels", "2", "--set", "n=4",
                         "--set", "maxit=20", "-q", "--json"], capsys)
    assert rc == 0, err
    data = json.loads(out[out.index("{"):])
    assert data["levels"][0]["options"]["maxit"] == 20
    assert [lv["options"]["n"] for lv in data["levels"]] == [4, 8]
