"""Convergence studies: `symop mms` then `symop converge --method fd --expect-order 2`."""

from __future__ import annotations

import json

import pytest

import symop
from symop.converge import Level, Study, converge


def _has_fd() -> bool:
    try:
        from symop.plugins import discretizations

        return "fd" in discretizations()
    except Exception:
        return False


needs_fd = pytest.mark.skipif(not _has_fd(), reason="the fd method is not installed")


def _cli(args, capsys):
    from symop.cli import main

    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_study_orders_json_and_plot(tmp_path):
    levels = [Level({"n": 8 * 2**k}, 1 / (8 * 2**k), None, 1e-2 / 4**k, 2e-2 / 4**k, 0.1) for k in range(3)]
    st = Study("p", "fd", "space", levels)
    assert st.orders == pytest.approx([2.0, 2.0])
    assert st.observed_order == pytest.approx(2.0)
    data = json.loads(st.to_json(tmp_path / "c.json"))
    assert data["orders"] == pytest.approx([2.0, 2.0]) and len(data["levels"]) == 3
    assert st.plot(tmp_path / "c.png").stat().st_size > 1000


POISSON_1D = """problem p1
space x
domain interval(x: [0, 1])
field u
equation -d(u, x, 2) + u = 0
boundary left: u = 0
boundary right: dn(u) + u = 0
"""

HEAT_2D = """problem h2
space x, y
time t in [0, 0.2]
domain box(x: [0, 1], y: [0, 1])
param kappa = 0.5
field u
equation dt(u) = kappa*lap(u)
boundary left, right: u = 0
boundary bottom, top: dn(u) = 0
initial u = 0
"""

POISSON_3D = """problem p3
space x, y, z
domain box(x: [0, 1], y: [0, 1], z: [0, 1])
field u
equation -lap(u) = 0
boundary all: u = 0
"""


@needs_fd
@pytest.mark.parametrize("text, solution, extra", [
    (POISSON_1D, "u = sin(3*x) + exp(x)/2", ["--levels", "3", "--set", "n=8"]),
    (HEAT_2D, "u = exp(-t)*sin(2*x + 1)*cos(y)", ["--levels", "3", "--refine", "both", "--set", "n=8",
                                                  "--set", "dt=0.02", "--set", "scheme=crank-nicolson"]),
    (POISSON_3D, "u = sin(x + 2*y)*cos(z)", ["--levels", "2", "--set", "n=8"]),
], ids=["1d", "2d-heat", "3d"])
def test_mms_then_converge_order_two(tmp_path, capsys, text, solution, extra):
    src = tmp_path / "p.pde"
    src.write_text(text)
    made = tmp_path / "made.pde"
    rc, _, err = _cli(["mms", str(src), "--solution", solution, "-o", str(made)], capsys)
    assert rc == 0, err
    outdir = tmp_path / "study"
    rc, out, err = _cli(["converge", str(made), "--method", "fd", *extra, "--expect-order", "2", "-o", str(outdir), "-q"],
                        capsys)
    assert rc == 0, out + err
    data = json.loads((outdir / "convergence.json").read_text())
    assert data["observed_order"] > 1.85
    assert (outdir / "convergence.png").exists()


@needs_fd
def test_converge_api_and_expect_order_failure(tmp_path, capsys):
    from symop.api import manufacture

    p = manufacture(symop.parse(POISSON_1D), {"u": "sin(3*x)"})
    st = converge(p, "fd", levels=3, options={"n": 8})
    assert [lv.options["n"] for lv in st.levels] == [8, 16, 32]
    assert st.orders[-1] == pytest.approx(2.0, abs=0.15)
    made = tmp_path / "m.pde"
    from symop.writer import write_problem

    made.write_text(write_problem(p))
    rc, out, err = _cli(["converge", str(made), "--method", "fd", "--levels", "2", "--set", "n=8",
                         "--expect-order", "4", "-o", str(tmp_path), "-q"], capsys)
    assert rc == 1 and "below the expected 4" in err


@needs_fd
def test_compare_shows_refusal(tmp_path, capsys):
    from symop.api import manufacture
    from symop.writer import write_problem

    disk = symop.parse("""problem d
space x, y
domain disk(center: (0, 0), radius: 1)
field u
equation -lap(u) = 0
boundary boundary: u = 0
""")
    path = tmp_path / "disk.pde"
    path.write_text(write_problem(manufacture(disk, {"u": "x*y + 1"})))
    rc, out, err = _cli(["compare", str(path), "--methods", "fd,nosuch"], capsys)
    assert rc == 0, err
    assert "refuses" in out and "not installed" in out


def test_neural_methods_grow_the_training_budget():
    """For pinn there is no grid: each level doubles collocation points and steps."""
    problem = symop.parse("space x\ndomain interval(x: [0, 1])\nfield u\n"
                          "equation -d(u, x, 2) = pi^2*sin(pi*x)\nboundary all: u = 0\nexact u = sin(pi*x)\n")
    study = converge(problem, "pinn", levels=2, options={"steps": 40, "points": 32, "boundary_points": 8,
                                                         "width": 8, "depth": 2, "lbfgs": 0, "eval_points": 64})
    first, second = study.levels
    assert (first.options["steps"], first.options["points"]) == (40, 32)
    assert (second.options["steps"], second.options["points"]) == (80, 64)
    assert first.rel_l2 > 0 and second.rel_l2 > 0
    assert "steps" in study.to_json()
