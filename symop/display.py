"""Show a problem back as mathematics (``symop show``).

Fields and their derivatives print as short names (``u``, ``u_xx``,
``lap(u)``) so an equation reads the way it was written.
"""

from __future__ import annotations

import sympy as sp

from symop.model.analysis import classify, field_nodes, split
from symop.model.operators import Laplacian, NormalDerivative, Partial
from symop.model.problem import Problem


def node_label(node: sp.Expr, problem: Problem) -> str:
    """A short name for a field node: ``u``, ``u_xx``, ``u_t``, ``lap(u)``, ``dn(u)``."""
    for f in problem.fields:
        if node == f.applied:
            return f.name
    if isinstance(node, sp.Derivative):
        inner = node_label(node.expr, problem)
        suffix = "".join(str(v) * int(c) for v, c in node.variable_count)
        return f"{inner}_{suffix}"
    if isinstance(node, Laplacian):
        return f"lap({node_label(node.args[0], problem)})"
    if isinstance(node, Partial):
        idx = ",".join(str(i) for i in node.indices)
        return f"d({node_label(node.expr, problem)}; {idx})"
    if isinstance(node, NormalDerivative):
        return f"dn({node_label(node.args[0], problem)})"
    return sp.sstr(node)


def readable(expr: sp.Expr, problem: Problem) -> sp.Expr:
    """``expr`` with field nodes replaced by symbols named by :func:`node_label`."""
    nodes = sorted(field_nodes(expr, problem) | set(expr.atoms(NormalDerivative)),
                   key=lambda n: -len(str(n)))
    out = expr
    for n in nodes:
        out = out.xreplace({n: sp.Symbol(node_label(n, problem))})
    return out


def show_expr(expr: sp.Expr, problem: Problem) -> str:
    """One-line text of ``expr`` in the problem's notation."""
    return sp.sstr(readable(expr, problem), order="none")


def describe(problem: Problem) -> str:
    """The whole problem as readable text: declarations, equations, analysis."""
    lines: list[str] = []
    title = f" — {problem.title}" if problem.title else ""
    lines.append(f"problem {problem.name}{title}")
    sp_names = ", ".join(problem.space.names) if problem.dimension <= 6 else f"{problem.space.names[0]} … {problem.space.names[-1]}"
    lines.append(f"space   {sp_names}  (dimension {problem.dimension})")
    if problem.time:
        lines.append(f"time    {problem.time.symbol} ∈ [{problem.time.start:g}, {problem.time.end:g}]")
    else:
        lines.append("time    steady")
    lines.append(f"domain  {problem.domain.describe()}; boundary parts: {', '.join(problem.domain.sides)}")
    fixed = {k: v for k, v in problem.params.items() if k not in problem.param_distributions}
    if fixed:
        lines.append("params  " + ", ".join(f"{k} = {v:g}" for k, v in fixed.items()))
    if problem.param_distributions:
        lines.append("family  " + ", ".join(f"{k} ~ {d.describe()}" for k, d in problem.param_distributions.items())
                     + "  (solved as one problem at " + ", ".join(f"{k} = {problem.params[k]:g}"
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
            lines.append(f"  {lhs} = {sp.sstr(ic.value)}")
    if problem.exact:
        lines.append("exact solutions")
        for name, value in problem.exact.items():
            lines.append(f"  {name} = {sp.sstr(value)}")
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
