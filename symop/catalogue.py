"""The problem classes every method is measured against: the conformance catalogue.

Each :class:`ProblemClass` is one form of the language that a method either
solves or refuses up front: a boundary kind, a kind of time dependence, a
nonlinearity, a system of fields, a fourth-order operator, a dimension, a
curved domain, a family.  Each is a small equation file with a known exact
solution (given by ``exact``, with the source term written through
``exact(u)``), so a method's answer can be checked without a reference run.

``symop plugins --matrix`` asks every registered method's ``accepts`` about
every class (:mod:`symop.matrix`); the test suite then solves each accepted
cell to the class's tolerance and checks that each refusal happens before any
work.  A new language feature, boundary kind or domain comes with its row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.problem import Problem


@dataclass(frozen=True)
class ProblemClass:
    """One class of problem: a short name, what it covers and a small manufactured file.

    ``tolerance`` is the relative L2 error a mesh method must reach on it
    at the finer of the two coarse refinements the matrix test solves (8 and
    16 cells per axis in 2D).
    """

    name: str
    covers: str
    text: str
    tolerance: float = 2e-2

    def problem(self) -> "Problem":
        """The class's equation file, parsed (cached per class)."""
        return _parsed(self.name)


def _file(name: str, title: str, body: str) -> str:
    return f'problem {name.replace("-", "_")} "{title}"\n' + body.strip() + "\n"


_BOX = "space x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield u\n"
_SMOOTH = "exact u = exp(x/2)*sin(2*y + 1)\n"
_STEADY = "equation -lap(u) + u = -lap(exact(u)) + exact(u)\n"
_HEAT = ("space x\ntime t in [0, 0.5]\ndomain interval(x: [0, 1])\nfield u\n"
         "exact u = exp(-t)*sin(2*x + 1)\n"
         "equation dt(u) = 0.5*d(u, x, 2) + dt(exact(u)) - 0.5*d(exact(u), x, 2)\n"
         "initial u = exact(u)\n")

#: every class, in the order the matrix shows them
CLASSES: tuple[ProblemClass, ...] = (
    ProblemClass("dirichlet", "steady, Dirichlet sides, 2D box", _file(
        "dirichlet", "Dirichlet data on every side", _BOX + _SMOOTH + _STEADY + "boundary all: u = exact(u)")),
    ProblemClass("neumann", "steady, Neumann sides given as dn(exact(u))", _file(
        "neumann", "Neumann data on every side", _BOX + _SMOOTH + _STEADY + "boundary all: dn(u) = dn(exact(u))")),
    ProblemClass("robin", "steady, Robin sides", _file(
        "robin", "Robin data on every side", _BOX + _SMOOTH + _STEADY
        + "boundary all: dn(u) + 2*u = dn(exact(u)) + 2*exact(u)")),
    ProblemClass("mixed", "steady, Dirichlet + Neumann + Robin data written out", _file(
        "mixed", "one kind of side each", _BOX + "exact u = 1 + x + x*y + y^2/2\n"
        "equation -lap(u) = -1\n"
        "boundary left: u = 1 + y^2/2\nboundary right: dn(u) = 1 + y\n"
        "boundary bottom: dn(u) + u = 1 + x - x\nboundary top: u = 1.5 + 2*x")),
    ProblemClass("periodic", "steady, periodic in x, Dirichlet in y", _file(
        "periodic", "periodic in x", _BOX + "exact u = sin(2*pi*x)*exp(y)\n" + _STEADY
        + "boundary periodic(x)\nboundary bottom, top: u = exact(u)")),
    ProblemClass("variable-coefficient", "steady, -div(k grad u) with k(x, y)", _file(
        "variable_coefficient", "a coefficient that varies in space", _BOX + _SMOOTH
        + "equation -div((1 + x*y)*grad(u)) = -div((1 + x*y)*grad(exact(u)))\nboundary all: u = exact(u)")),
    ProblemClass("nonlinear", "steady, a cubic reaction term", _file(
        "nonlinear", "a nonlinear reaction", _BOX + _SMOOTH
        + "equation -lap(u) + u^3 = -lap(exact(u)) + exact(u)^3\nboundary all: u = exact(u)")),
    ProblemClass("fourth-order", "steady biharmonic, two conditions per side", _file(
        "fourth_order", "a clamped plate", _BOX
        + "exact u = (x*(1 - x)*y*(1 - y))^2*(2 + x)\nequation biharm(u) = biharm(exact(u))\n"
        "boundary all: u = 0\nboundary all: dn(u) = 0"), tolerance=5e-2),
    ProblemClass("heat", "first order in time, 1D, Dirichlet ends", _file(
        "heat", "heat equation", _HEAT + "boundary all: u = exact(u)")),
    ProblemClass("heat-neumann", "first order in time, Neumann/Robin ends", _file(
        "heat_neumann", "heat equation with flux data", _HEAT
        + "boundary left: dn(u) = dn(exact(u))\nboundary right: dn(u) + u = dn(exact(u)) + exact(u)")),
    ProblemClass("advection", "first order in time, transport, periodic", _file(
        "advection", "transport around a periodic interval",
        "space x\ntime t in [0, 0.25]\ndomain interval(x: [0, 1])\nfield u\n"
        "exact u = sin(2*pi*(x - t))\nequation dt(u) + d(u, x) = 0\nboundary periodic(x)\n"
        "initial u = exact(u)"), tolerance=5e-2),
    ProblemClass("wave", "second order in time", _file(
        "wave", "wave equation",
        "space x\ntime t in [0, 0.5]\ndomain interval(x: [0, 1])\nfield u\n"
        "exact u = sin(pi*x)*cos(2*pi*t)\nequation dt(u, 2) = 4*d(u, x, 2)\nboundary all: u = 0\n"
        "initial u = exact(u)\ninitial dt(u) = 0")),
    ProblemClass("system", "two coupled fields, nonlinear reaction, in time", _file(
        "system", "a reaction-diffusion system",
        "space x\ntime t in [0, 0.5]\ndomain interval(x: [0, 1])\nfield u, v\n"
        "exact u = exp(-t)*cos(x)\nexact v = exp(-t)*sin(x) + 1\n"
        "equation dt(u) = 0.1*d(u, x, 2) - u*v + dt(exact(u)) - 0.1*d(exact(u), x, 2) + exact(u)*exact(v)\n"
        "equation dt(v) = 0.1*d(v, x, 2) + u - v + dt(exact(v)) - 0.1*d(exact(v), x, 2) - exact(u) + exact(v)\n"
        "boundary all: u = exact(u)\nboundary all: v = exact(v)\n"
        "initial u = exact(u)\ninitial v = exact(v)")),
    ProblemClass("3d", "steady, 3D box", _file(
        "three_d", "Poisson in a cube",
        "space x, y, z\ndomain box(x: [0, 1], y: [0, 1], z: [0, 1])\nfield u\n"
        "exact u = exp(x/2)*sin(y + 1)*cos(z)\n" + _STEADY + "boundary all: u = exact(u)")),
    ProblemClass("disk", "steady, curved boundary, Neumann on it", _file(
        "disk", "Poisson on a disk",
        "space x, y\ndomain disk(center: (0, 0), radius: 1)\nfield u\n" + _SMOOTH + _STEADY
        + "boundary all: dn(u) = dn(exact(u))")),
    ProblemClass("hole", "steady, box minus a disk", _file(
        "hole", "a plate with a hole",
        "space x, y\ndomain box(x: [-1, 1], y: [-1, 1]) minus disk(center: (0, 0), radius: 0.4) as hole\nfield u\n"
        + _SMOOTH + _STEADY + "boundary all: u = exact(u)")),
    ProblemClass("indexed", "steady, indexed space x[1..5] on a ball", _file(
        "indexed", "Poisson in five dimensions",
        "space x[1..5]\ndomain ball(dim: 5, radius: 1)\nfield u\n"
        "exact u = sum(i, 1, 5, x[i]^2)/10\nequation -lap(u) = -1\nboundary all: u = exact(u)"),
        tolerance=5e-2),
    ProblemClass("family", "a family: a random parameter, solved at its representative member", _file(
        "family", "a family of diffusion problems", _BOX + "param k in [1, 2]\n"
        "exact u = exp(x/2)*sin(2*y + 1)\n"
        "equation -k*lap(u) + u = -k*lap(exact(u)) + exact(u)\nboundary all: u = exact(u)")),
)

_BY_NAME = {c.name: c for c in CLASSES}


def problem_class(name: str) -> ProblemClass:
    """The catalogue's class called ``name``."""
    from symop.errors import SymopError

    try:
        return _BY_NAME[name]
    except KeyError:
        raise SymopError(f"the catalogue has no problem class `{name}`; it has "
                         f"{', '.join(_BY_NAME)}.") from None


@lru_cache(maxsize=None)
def _parsed(name: str) -> "Problem":
    from symop.api import parse

    return parse(_BY_NAME[name].text, filename=f"<catalogue:{name}>")
