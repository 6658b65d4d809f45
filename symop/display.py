"""Show a problem back as mathematics (``symop show``).

Every expression prints in the equation language itself
(:func:`symop.writer.expr_text`): ``dt(u)``, ``d(u, x, 2)``, ``lap(u)``,
``x^2``, ``e``, ``abs``, ``max``, ``if(x < 0.5, 1, 0)``, so an equation reads
the way it was written and what ``show`` prints can be typed back into a file.
"""

from __future__ import annotations

import sympy as sp

from symop.model.analysis import classify, split
from symop.model.problem import Problem
from symop.writer import language_text, number_text


def show_expr(expr: sp.Expr, problem: Problem) -> str:
    """One-line text of ``expr`` in the equation language (SymPy's own text where the language has no form)."""
    return language_text(expr, problem)


def value_text(value: float) -> str:
    """A parameter's value for reading: to the 15 significant digits a double holds of a decimal, shortest."""
    return number_text(float(f"{float(value):.15g}"))


def describe(problem: Problem) -> str:
    """The whole problem as readable text: declarations, equations, analysis."""
    lines: list[str] = []
    title = f" — {problem.title}" if problem.title else ""
    lines.append(f"problem {problem.name}{title}")
    sp_names = ", ".join(problem.space.names) if problem.dimension <= 6 else f"{problem.space.names[0]} … {problem.space.names[-1]}"
    lines.append(f"space   {sp_names}  (dimension {problem.dimension})")
    if problem.time:
        lines.append(f"time    {problem.time.symbol} ∈ [{number_text(problem.time.start)}, "
                     f"{number_text(problem.time.end)}]")
    else:
        lines.append("time    steady")
    lines.append(f"domain  {problem.domain.describe()}; boundary parts: {', '.join(problem.domain.sides)}")
    fixed = {k: v for k, v in problem.params.items() if k not in problem.param_distributions}
    if fixed:
        lines.append("params  " + ", ".join(f"{k} = {value_text(v)}" for k, v in fixed.items()))
    if problem.param_distributions:
        lines.append("family  " + ", ".join(f"{k} ~ {d.describe()}" for k, d in problem.param_distributions.items())
                     + "  (solved as one problem at " + ", ".join(f"{k} = {value_text(problem.params[k])}"
                                                                 for k in problem.param_distributions) + ")")
    lines.append("fields  " + ", ".join(problem.field_names))
    lines.append("")
    lines.append("equations")
    for eq in problem.equations:
        lines.append(f"  [{eq.field}]  {show_expr(eq.lhs, problem)} = {show_expr(eq.rhs, problem)}")
    if problem.boundary or problem.periodic:
        lines.append("boundary conditions")
        for bc in problem.boundary:
            lines.append(f"  {', '.join(bc.parts)}: {show_expr(bc.lhs, problem)} = {show_expr(bc.rhs, problem)}  ({bc.kind})")
        if problem.periodic:
            lines.append(f"  periodic in {', '.join(problem.periodic)}")
    if problem.initial:
        lines.append("initial conditions")
        for ic in problem.initial:
            lhs = ic.field if ic.order == 0 else f"dt({ic.field}{', ' + str(ic.order) if ic.order > 1 else ''})"
            lines.append(f"  {lhs} = {show_expr(ic.value, problem)}")
    if problem.exact:
        lines.append("exact solutions")
        for name, value in problem.exact.items():
            lines.append(f"  {name} = {show_expr(value, problem)}")
    lines.append("")
    lines.append("analysis")
    for c in classify(problem):
        lines.append(f"  {c.field}: order {c.time_order} in time, {c.space_order} in space, "
                     f"{'linear' if c.linear else 'nonlinear'}, {c.type}")
        if c.time_order >= 1:
            try:
                s = split(problem, c.field)
            except Exception:
                continue
            for part in ("diffusion", "advection", "reaction", "source"):
                value = s.part(part)
                if value != 0:
                    lines.append(f"    {part:<9} {show_expr(value, problem)}")
    if problem.solve:
        opts = ", ".join(f"{k}: {v}" for k, v in problem.solve.options.items())
        lines.append("")
        lines.append(f"solve {problem.solve.method}({opts})")
    return "\n".join(lines)
