"""Every file in ``examples/`` runs as the README and the tutorial say: ``symop run FILE``.

Each example names its own method on a ``solve`` line, that method accepts it,
and the classical ones (fd, fem: seconds each) reach the accuracy their line
gives today; a file that lost its ``solve`` line, or a line whose grid no
longer resolves the problem, fails here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import symop
from symop.plugins import discretizations

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.pde"))


def name(path: Path) -> str:
    return str(path.relative_to(ROOT / "examples"))


# relative L2 error of the file's own `solve` line, about twice what it reaches
# (second-order fd and P1 fem at the line's grid; P2 on the operators' families)
ACCURACY = {
    "poisson.pde": 4e-4,
    "heat.pde": 1.5e-3,
    "heat3d.pde": 1.5e-2,
    "advection_diffusion.pde": 5e-3,
    "variable_coefficient.pde": 2e-4,
    "disk_poisson.pde": 8e-3,
    "wave.pde": 1e-5,
    "lshape.pde": 1.5e-3,
    "plate.pde": 3e-3,
    "plate_hole.pde": 1e-3,
    "operators/helmholtz.pde": 2e-4,
    "operators/helmholtz_holes.pde": 1e-4,
    "operators/wave.pde": 1e-5,
}
NEURAL = {"pinn", "insr", "pino", "hypino"}


@pytest.mark.parametrize("path", EXAMPLES, ids=name)
def test_every_example_names_a_method_that_accepts_it(path):
    problem = symop.load(path)
    assert problem.solve is not None, f"{name(path)} has no `solve` line: `symop run {name(path)}` needs --method"
    method = discretizations()[problem.solve.method]
    assert method.accepts(problem) is None


CLASSICAL = [p for p in EXAMPLES if getattr(symop.load(p).solve, "method", None) not in NEURAL]


@pytest.mark.parametrize("path", CLASSICAL, ids=name)
def test_classical_examples_solve_with_their_own_line(path, one_thread):
    s = symop.solve(path)  # no method: the file's `solve` line decides
    for field, values in s.fields.items():
        assert np.isfinite(values).all(), field
    bound = ACCURACY.get(name(path))
    if symop.load(path).exact:
        assert bound is not None, f"{name(path)} has an exact solution: give its accuracy here"
        assert s.errors()[next(iter(s.fields))]["rel_l2"] < bound


def test_burgers_line_resolves_the_front(one_thread):
    # the viscous solution stays within the initial data's range [-1, 1]; an under-resolved
    # central-difference grid overshoots (n = 256: max |u| = 1.16), as the file's comment says
    s = symop.solve(ROOT / "examples" / "burgers.pde", save=0)
    assert np.abs(s.fields["u"]).max() <= 1.0


def test_heat_family_keeps_the_maximum_principle(one_thread):
    s = symop.solve(ROOT / "examples" / "operators" / "heat.pde", save=0)
    assert s.fields["u"].min() > -1e-6 and s.fields["u"].max() <= 1.0 + 1e-9


@pytest.mark.slow
def test_pulse_with_its_own_line(one_thread):
    # about 95 s on one CPU thread; relative L2 error 1.4e-2 at t = 12
    s = symop.solve(ROOT / "examples" / "pulse.pde")
    assert s.errors()["u"]["rel_l2"] < 3e-2
