"""Families of problems: parameters drawn at random, and the members they make.

An equation file describes a whole family when some of its parameters are
random::

    param k in [1, 10]                       # uniform on [1, 10]
    param k ~ uniform(1, 10)                 # the same
    param c ~ loguniform(0.01, 1)            # log c uniform on [log 0.01, log 1]
    param s ~ normal(0, 0.5)                 # mean 0, standard deviation 0.5
    param m ~ choice(1, 2, 5)                # one of the listed values, equally likely
    param f ~ field(modes: 3, amplitude: 1)  # a smooth random function of the space coordinates

Each random parameter is an ordinary parameter symbol in the equations, with a
representative value in :attr:`Problem.params` (the midpoint, the mean, the
geometric mean, the first choice, and 0 for a field), so every method still
solves the file as one problem.  :func:`draw` picks values for one member and
:func:`instantiate` turns the family into that member, an ordinary
:class:`~symop.model.problem.Problem`; neural operators train on
:func:`members`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import sympy as sp

from symop.errors import SymopError
from symop.model.problem import as_number

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.problem import Problem

#: distribution kind → number of positional arguments it takes (None: one or more)
KINDS: dict[str, int | None] = {"uniform": 2, "loguniform": 2, "normal": 2, "choice": None, "field": 0}
#: options a ``field`` accepts, with their defaults
FIELD_OPTIONS: dict[str, Any] = {"mean": 0.0, "modes": 3, "amplitude": 1.0, "frequency": 3,
                                 "kinds": ("fourier", "gaussian", "polynomial")}


class FamilyError(SymopError):
    """A family cannot be sampled or instantiated as asked."""


@dataclass(frozen=True)
class Distribution:
    """How one random parameter is drawn.

    ``kind`` is ``uniform`` or ``loguniform`` (``args`` = lower, upper bound),
    ``normal`` (mean, standard deviation), ``choice`` (the values) or ``field``
    (no arguments; :attr:`options` ``mean`` plus a random function shaped by
    ``modes``, ``amplitude``, ``frequency`` and ``kinds``, as in
    :func:`symop.mms.random_solution`).  A field that the equations
    differentiate also has ``derivative`` parameters (options ``of``, the
    field, and ``wrt``, the coordinate names), drawn by differentiating the
    field's draw.
    """

    name: str
    kind: str
    args: tuple[float, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def representative(self) -> float:
        """The value the file solves as a single problem: midpoint, mean, geometric mean, first choice, or 0."""
        if self.kind == "uniform":
            return 0.5 * (self.args[0] + self.args[1])
        if self.kind == "loguniform":
            return math.sqrt(self.args[0] * self.args[1])
        if self.kind in ("normal", "choice"):
            return self.args[0]
        if self.kind == "field":
            return float(self.options.get("mean", 0.0))
        return 0.0

    @property
    def is_field(self) -> bool:
        """Whether a draw is a function of the coordinates (a field or a derivative of one)."""
        return self.kind in ("field", "derivative")

    def sample(self, rng: np.random.Generator, problem: "Problem") -> sp.Expr:
        """One draw: a SymPy number, or for a ``field`` an expression in the space coordinates."""
        if self.kind == "uniform":
            return sp.Float(rng.uniform(self.args[0], self.args[1]))
        if self.kind == "loguniform":
            return sp.Float(math.exp(rng.uniform(math.log(self.args[0]), math.log(self.args[1]))))
        if self.kind == "normal":
            return sp.Float(rng.normal(self.args[0], self.args[1]))
        if self.kind == "choice":
            return as_number(self.args[int(rng.integers(len(self.args)))])
        if self.kind == "derivative":
            raise FamilyError(f"`{self.name}` is a derivative of the random field `{self.options['of']}` "
                              "and is drawn with it: use draw(problem, rng).")
        options = dict(self.options)
        mean = float(options.pop("mean", 0.0))
        return as_number(mean) + random_field(problem, int(rng.integers(2**31 - 1)), **options)

    def describe(self) -> str:
        """The distribution as written in an equation file."""
        if self.kind == "derivative":
            return f"d{''.join(self.options['wrt'])}({self.options['of']})"
        if self.kind == "field":
            opts = ", ".join(f"{k}: {_word(v)}" for k, v in self.options.items())
            return f"field({opts})"
        return f"{self.kind}(" + ", ".join(f"{a:g}" for a in self.args) + ")"


def _word(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(str(v) for v in value) + ")" if len(value) > 1 else str(value[0])
    return f"{value:g}" if isinstance(value, float) else str(value)


def random_field(problem: "Problem", seed: int, *, modes: int = 3, amplitude: float = 1.0, frequency: int = 3,
                 kinds: Any = FIELD_OPTIONS["kinds"]) -> sp.Expr:
    """A smooth random function of the space coordinates, bounded by ``amplitude`` on the bounding box.

    A sum of ``modes`` Fourier modes, Gaussians and low-degree polynomials
    (:func:`symop.mms.random_solution` applied to a steady, one-field copy of
    ``problem``), reproducible by ``seed``.
    """
    from symop.mms import random_solution

    if isinstance(kinds, str):
        kinds = (kinds,)
    steady = replace(problem, time=None, fields=problem.fields[:1], as_read=False)
    return random_solution(steady, seed, modes=int(modes), kinds=tuple(kinds), amplitude=float(amplitude),
                           max_frequency=int(frequency))[steady.fields[0].name]


# ------------------------------------------------------------------ structure
def random_names(problem: "Problem") -> list[str]:
    """The random parameters of a family, in the order of the file."""
    return list(getattr(problem, "param_distributions", {}) or {})


def fixed_constants(problem: "Problem", random: list[str] | None = None) -> dict[sp.Symbol, sp.Expr]:
    """Symbol → value of every parameter that is not random (``random`` defaults to the family's)."""
    random = set(random_names(problem) if random is None else random)
    return {problem.param_symbols[n]: as_number(v) for n, v in problem.params.items()
            if n not in random and n in problem.param_symbols}


def signature(problem: "Problem", random: list[str] | None = None, data: bool = True) -> str:
    """A canonical text of what a family *is*, for matching a trained model to a file.

    It covers the coordinates, the time interval, the domain, the periodic
    coordinates, the fields, the equations, boundary and initial conditions
    (``srepr`` of each, with the fixed parameters substituted) and the names of
    the random parameters; it ignores the ``problem`` name, title, comments,
    ``solve`` lines, the values given to random parameters and their
    distributions, so a renamed copy of a file is the same family and
    ``--set k=3`` asks the same model about another member.  ``random`` names
    the parameters read as member values (default: the problem's random
    parameters); a model checks a problem with its own list, so a parameter
    that ``--set`` made fixed still matches.

    With ``data=False`` the signature keeps only what an operator learner that
    takes sources and boundary values as input depends on: the terms of each
    equation that hold a field, and each condition's parts, kind and
    coefficients ``alpha``, ``beta`` (not its value); initial conditions by
    field and order.
    """
    random = random_names(problem) if random is None else list(random)
    fixed = fixed_constants(problem, random)

    def e(x) -> str:
        return sp.srepr(sp.sympify(x).xreplace(fixed))

    lines = [
        "space " + ",".join(problem.space.names),
        "time " + (f"{problem.t} {problem.time.start} {problem.time.end}" if problem.time else "-"),
        f"domain {problem.domain.kind} {getattr(problem.domain, 'axes', '')}",
        *([] if hasattr(problem.domain, "axes") else ["geometry " + problem.domain.text(repr)]),
        "periodic " + ",".join(problem.periodic),
        "fields " + ",".join(problem.field_names),
        "random " + ",".join(random),
    ]
    if data:
        lines += [f"eq {eq.field} {e(eq.residual)}" for eq in problem.equations]
        lines += [f"bc {','.join(bc.parts)} {bc.field} {e(bc.residual)}" for bc in problem.boundary]
        lines += [f"ic {ic.field} {ic.order} {e(ic.value)}" for ic in problem.initial]
    else:
        functions = [f.function for f in problem.fields]
        for eq in problem.equations:
            terms = sp.Add.make_args(sp.expand(sp.sympify(eq.residual).xreplace(fixed)))
            lines.append(f"eq {eq.field} {sp.srepr(sp.Add(*[a for a in terms if a.has(*functions)]))}")
        lines += [f"bc {','.join(bc.parts)} {bc.field} {bc.kind} {e(bc.alpha)} {e(bc.beta)}" for bc in problem.boundary]
        lines += [f"ic {ic.field} {ic.order}" for ic in problem.initial]
    return "\n".join(lines)


def family_hash(problem: "Problem", random: list[str] | None = None, data: bool = True) -> str:
    """The first 16 hex digits of the SHA-256 of :func:`signature`."""
    return hashlib.sha256(signature(problem, random, data).encode()).hexdigest()[:16]


# ------------------------------------------------------------------ members
def is_family(problem: "Problem") -> bool:
    """Whether ``problem`` has random parameters."""
    return bool(problem.param_distributions)


def draw(problem: "Problem", rng: np.random.Generator | int) -> dict[str, sp.Expr]:
    """One value per random parameter of ``problem`` (in the order of the file)."""
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(int(rng))
    values = {name: dist.sample(rng, problem) for name, dist in problem.param_distributions.items()
              if dist.kind != "derivative"}
    coords = {str(c): c for c in problem.space.coords}
    for name, dist in problem.param_distributions.items():
        if dist.kind == "derivative":
            of = dist.options["of"]
            parent = values[of] if of in values else as_number(problem.params[of])
            values[name] = sp.diff(parent, *[coords[w] for w in dist.options["wrt"]])
    return values


def instantiate(problem: "Problem", values: Mapping[str, Any]) -> "Problem":
    """The member of the family with these parameter values: an ordinary problem.

    A number becomes the parameter's value; an expression (a drawn ``field``,
    or any expression in the coordinates) replaces the parameter's symbol in
    every equation, boundary condition, initial condition and exact solution,
    and the parameter is dropped.  Parameters not in ``values`` keep their
    value; the member has no random parameters left.
    """
    unknown = [n for n in values if n not in problem.params]
    if unknown:
        raise FamilyError(f"the problem has no parameter `{unknown[0]}`; its parameters are "
                          + (", ".join(problem.params) or "none") + ".")
    numbers: dict[str, float] = {}
    functions: dict[sp.Symbol, sp.Expr] = {}
    for name, value in values.items():
        expr = sp.sympify(value)
        if expr.is_number:
            numbers[name] = float(expr)
        else:
            functions[problem.param_symbols[name]] = expr

    def sub(e: sp.Expr) -> sp.Expr:
        return sp.sympify(e).xreplace(functions) if functions else e

    params = {n: v for n, v in problem.params.items() if problem.param_symbols[n] not in functions}
    params.update(numbers)
    gone = {str(s) for s in functions}
    return replace(
        problem,
        params=params,
        param_symbols={n: s for n, s in problem.param_symbols.items() if n not in gone},
        param_ranges={},
        param_distributions={},
        lets={n: sub(e) for n, e in problem.lets.items()},
        equations=tuple(replace(eq, lhs=sub(eq.lhs), rhs=sub(eq.rhs)) for eq in problem.equations),
        boundary=tuple(replace(bc, lhs=sub(bc.lhs), rhs=sub(bc.rhs), alpha=sub(bc.alpha), beta=sub(bc.beta),
                               value=sub(bc.value)) for bc in problem.boundary),
        initial=tuple(replace(ic, value=sub(ic.value)) for ic in problem.initial),
        exact={n: sub(e) for n, e in problem.exact.items()},
    )


def members(problem: "Problem", count: int, seed: int = 0) -> list[tuple[dict[str, sp.Expr], "Problem"]]:
    """``count`` members drawn reproducibly from ``seed``: (values, problem) pairs.

    Member ``i`` depends only on ``seed`` and ``i``, so a run split across
    processes (each taking its share of indices) draws the same members as one.
    """
    if not is_family(problem):
        raise FamilyError(f"`{problem.name}` has no random parameters, so it is one problem, not a family; "
                          "give a parameter a range (`param k in [1, 10]`) or a distribution (`param f ~ field()`).")
    return [member(problem, seed, i) for i in range(int(count))]


def member(problem: "Problem", seed: int, index: int) -> tuple[dict[str, sp.Expr], "Problem"]:
    """Member ``index`` of the stream of members drawn from ``seed``."""
    values = draw(problem, np.random.default_rng([int(seed), int(index)]))
    return values, instantiate(problem, values)
