"""Convergence studies: solve one problem on a sequence of refined settings.

:func:`converge` refines the mesh (``refine="space"``), the time step
(``"time"``) or both, solves at each level and measures the error against the
problem's exact solution.  What a level changes is the method's own
declaration (:meth:`~symop.plugins.Discretization.refine`): fd doubles ``n``,
fem halves ``h`` or doubles ``n``, mesh-free methods (``pinn``) grow their
training budget.  The :class:`Study` holds the table, the observed orders
``log2(e_{k-1}/e_k)``, the order the method declares, and writes JSON and a
log-log plot.  Where the method measures relative H1 errors (fem) the study
has their orders too; where the error stops falling far below the declared
order, :attr:`Study.notes` says which axis likely holds it (a fixed mesh in a
time study, a fixed time step in a space study) and how to refine it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from symop.errors import SymopError
from symop.model.problem import Problem

if TYPE_CHECKING:  # pragma: no cover
    from symop.sweep import Workers

@dataclass
class Level:
    """One solve of a study."""

    options: dict[str, Any]
    h: float | None
    dt: float | None
    rel_l2: float | None
    max_error: float | None
    wall_time: float
    fields: dict[str, dict[str, float]] = field(default_factory=dict)
    error: str | None = None

    @property
    def rel_h1(self) -> float | None:
        """The largest relative H1 error over the fields, where the method measured one for every field (fem)."""
        values = [v.get("rel_h1") for v in self.fields.values()]
        if self.error is not None or not values or any(v is None for v in values):
            return None
        return float(max(values))


@dataclass
class Study:
    """The result of :func:`converge`."""

    problem: str
    method: str
    refine: str
    levels: list[Level]
    #: the order the method declares for this study (:meth:`~symop.plugins.Discretization.accuracy`)
    declared_order: float | None = None
    #: the options that set the mesh (``n`` or ``h``) and the time step (``dt``), for the :attr:`notes`
    space_option: str | None = None
    time_option: str | None = None

    @property
    def orders(self) -> list[float | None]:
        """Observed order between consecutive levels (relative L2), one fewer than levels."""
        out: list[float | None] = []
        for a, b in zip(self.levels, self.levels[1:]):
            out.append(_order(a.rel_l2, b.rel_l2, _ratio(a, b, self.refine)))
        return out

    @property
    def max_orders(self) -> list[float | None]:
        out: list[float | None] = []
        for a, b in zip(self.levels, self.levels[1:]):
            out.append(_order(a.max_error, b.max_error, _ratio(a, b, self.refine)))
        return out

    @property
    def observed_order(self) -> float | None:
        """The order between the last two levels."""
        orders = self.orders
        return orders[-1] if orders else None

    @property
    def has_h1(self) -> bool:
        """Whether the method measured relative H1 errors (fem), at some level."""
        return any(lv.rel_h1 is not None for lv in self.levels)

    @property
    def h1_orders(self) -> list[float | None]:
        """Observed order of the relative H1 error between consecutive levels, one fewer than levels."""
        return [_order(a.rel_h1, b.rel_h1, _ratio(a, b, self.refine)) for a, b in zip(self.levels, self.levels[1:])]

    @property
    def observed_h1_order(self) -> float | None:
        """The H1 order between the last two levels (None without H1 errors)."""
        orders = self.h1_orders
        return orders[-1] if orders else None

    @property
    def notes(self) -> list[str]:
        """Sentences that explain a study whose observed order falls far short of the declared one.

        When the error stops falling (last observed order within ±:data:`STALL`)
        while the method declares an order above twice that, one axis is refined
        and the other holds the error: refining time at a fixed mesh, the
        spatial error dominates; refining space at a fixed time step, the time
        error does.
        """
        order, declared = self.observed_order, self.declared_order
        if order is None or declared is None or not (-STALL < order < min(STALL, declared / 2)):
            return []
        last = self.levels[-1].options
        stalled = f"the error stopped falling (observed order {_fmt_order(order)}, declared {declared:g})"
        if self.refine == "time":
            where = _option_text(self.space_option, last.get(self.space_option))
            finer = _finer(self.space_option, last.get(self.space_option), self.space_option == "h")
            return [f"{stalled} as dt was halved at a fixed mesh{where}: the spatial error likely dominates; "
                    f"rerun with a finer mesh{finer}, or with --refine both."]
        if self.refine == "space" and all(lv.dt is not None for lv in self.levels) \
                and len({lv.dt for lv in self.levels}) == 1:
            where = _option_text(self.time_option or "dt", self.levels[-1].dt)
            finer = _finer(self.time_option or "dt", self.levels[-1].dt, True)
            return [f"{stalled} as the mesh was refined at a fixed time step{where}: the time error likely "
                    f"dominates; rerun with a smaller time step{finer}, or with --refine both."]
        return []

    def rows(self) -> list[dict[str, Any]]:
        out = []
        orders = [None] + self.orders
        h1 = [None] + self.h1_orders
        for lv, p, q in zip(self.levels, orders, h1):
            row = {"h": lv.h, "dt": lv.dt, "rel_l2": lv.rel_l2, "max": lv.max_error, "order": p,
                   "wall_time": lv.wall_time, "options": lv.options, "fields": lv.fields, "error": lv.error}
            if self.has_h1:
                row.update(rel_h1=lv.rel_h1, h1_order=q)
            out.append(row)
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        data = {"problem": self.problem, "method": self.method, "refine": self.refine,
                "levels": self.rows(), "orders": self.orders, "observed_order": self.observed_order,
                "declared_order": self.declared_order, "notes": self.notes}
        if self.has_h1:
            data.update(h1_orders=self.h1_orders, observed_h1_order=self.observed_h1_order)
        text = json.dumps(data, indent=2, default=_jsonable)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    def table(self):
        from rich.table import Table

        declared = "" if self.declared_order is None else f"; declared order {self.declared_order:g}"
        notes = self.notes
        h1 = self.has_h1
        # the H1 columns take the room of a dt column that a steady study leaves empty and of the table's outer
        # padding, so that 80 columns hold the table
        dt = not h1 or any(lv.dt is not None for lv in self.levels)
        t = Table(title=f"convergence of {self.problem} with {self.method} (refine {self.refine}{declared})",
                  caption="\n".join(f"note: {n}" for n in notes) or None, caption_justify="left", pad_edge=not h1)
        sep = "\n" if h1 else " "  # two-line headers where the columns are many
        columns = ("level", "h") + (("dt",) if dt else ()) + ("rel L2", f"max{sep}error", "order") + (
            ("rel H1", f"H1{sep}order") if h1 else ())
        for col in columns + (f"time{sep}\\[s]",):  # `\[s]`: the unit, not rich's strike-through tag
            t.add_column(col, justify="right")
        orders = [None] + self.orders
        h1_orders = [None] + self.h1_orders
        for k, (lv, p, q) in enumerate(zip(self.levels, orders, h1_orders)):
            cells = [str(k), _fmt(lv.h)] + ([_fmt(lv.dt)] if dt else []) + [
                     _fmt(lv.rel_l2) if lv.error is None else f"[red]{lv.error}[/red]",
                     _fmt(lv.max_error), _fmt_order(p)]
            if h1:
                cells += [_fmt(lv.rel_h1), _fmt_order(q)]
            t.add_row(*cells, f"{lv.wall_time:.2f}")
        return t

    def plot(self, path: str | Path) -> Path:
        """A log-log plot of error against h (or dt) with reference slopes 1, 2 and 4."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        good = [lv for lv in self.levels if lv.rel_l2 is not None and lv.rel_l2 > 0]
        use_dt = self.refine == "time" or all(lv.h is None for lv in good)
        xs = [(lv.dt if use_dt else lv.h) or (1.0 / (k + 1)) for k, lv in enumerate(good)]
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        if good:
            ax.loglog(xs, [lv.rel_l2 for lv in good], "o-", label="relative L2")
            ax.loglog(xs, [lv.max_error for lv in good], "s--", label="max error")
            x0, e0 = xs[0], good[0].rel_l2
            for p in (1, 2, 4):
                ax.loglog(xs, [e0 * (x / x0) ** p for x in xs], ":", color="gray", linewidth=0.8)
                ax.annotate(f"slope {p}", (xs[-1], e0 * (xs[-1] / x0) ** p), fontsize=7, color="gray")
        ax.set_xlabel("dt" if use_dt else "h")
        ax.set_ylabel("error")
        ax.set_title(f"{self.problem}: {self.method}")
        if good:  # a study whose levels all failed has nothing to label
            ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3e}"


def _fmt_order(value: float | None) -> str:
    """An observed order to two decimals (``0.00``, not ``-0.00``), or ``—``."""
    return "—" if value is None else f"{value:.2f}".replace("-0.00", "0.00")


#: an observed order within ±STALL: the error changes by less than 2**STALL (23 %) per halving, so it stopped falling
STALL = 0.3


def _option_text(name: str | None, value: Any) -> str:
    """`` (n=8)``, or nothing when the option or its value is unknown."""
    return "" if name is None or value is None else f" ({name}={value:g})"


def _finer(name: str | None, value: Any, size: bool) -> str:
    """`` (e.g. --set n=32)``: four times finer than ``value`` (a size divided, a count multiplied)."""
    if name is None or value is None:
        return ""
    try:
        finer = float(value) / 4 if size else int(value) * 4
    except (TypeError, ValueError):
        return ""
    return f" (e.g. --set {name}={finer:g})"


def _ratio(a: Level, b: Level, refine: str) -> float:
    if refine == "time" and a.dt and b.dt:
        return a.dt / b.dt
    if a.h and b.h:
        return a.h / b.h
    if a.dt and b.dt:
        return a.dt / b.dt
    return 2.0


def _order(ea: float | None, eb: float | None, ratio: float) -> float | None:
    if ea is None or eb is None or ea <= 0 or eb <= 0 or ratio <= 1:
        return None
    return math.log(ea / eb) / math.log(ratio)


def level_options(problem: Problem, method: str, k: int, refine: str, merged: Mapping[str, Any]) -> dict[str, Any]:
    """The options of level ``k`` (0 is the coarsest), as the method declares it refines."""
    from symop.plugins import get_discretization

    return get_discretization(method).refine(problem, merged, k, refine)


@dataclass(frozen=True)
class _LevelTask:
    """One level of a study to solve, with what a worker process needs."""

    problem: Problem
    method: str
    options: dict[str, Any]
    h: float | None
    progress: bool = False


def solve_level(task: _LevelTask) -> Level:
    """Solve one level and measure its errors; a :class:`SymopError` becomes the level's ``error``."""
    from symop.api import solve

    opts = task.options
    dt = float(opts["dt"]) if opts.get("dt") is not None else None
    start = time.perf_counter()
    try:
        sol = solve(task.problem, task.method, progress=task.progress, **opts)
        errs = sol.errors()
        rel = max(v["rel_l2"] for v in errs.values())
        mx = max(v["max"] for v in errs.values())
        lv = Level(opts, task.h, dt, float(rel), float(mx), float(sol.wall_time),
                   {k2: dict(v) for k2, v in errs.items()})
        if dt is None and isinstance(sol.info, dict) and sol.info.get("dt"):
            try:
                lv.dt = float(sol.info["dt"])
            except (TypeError, ValueError):
                pass
    except SymopError as err:
        lv = Level(opts, task.h, dt, None, None, time.perf_counter() - start, error=str(err).splitlines()[0])
    return lv


def converge(problem: Problem | str | Path, method: str | None = None, levels: int = 4, refine: str = "space",
             base: Mapping[str, Any] | int | None = None, options: Mapping[str, Any] | None = None,
             progress: Any = None, starting: Any = None, solve_progress: bool = False,
             workers: "Workers | None" = None) -> Study:
    """Solve ``problem`` on ``levels`` refinements and measure the errors.

    ``base`` is the coarsest ``n`` (an int) or a dict of options for level 0;
    ``options`` are further method options (or parameter values) for every
    level.  ``refine`` is ``space`` (double n), ``time`` (halve dt) or
    ``both``.  ``starting(k, options)`` is called before level ``k`` is
    solved and ``progress(k, level)`` after it; ``solve_progress`` shows the
    method's own progress bar inside each level.  ``workers``
    (:class:`symop.sweep.Workers`) solves the levels side by side on Dask
    workers; the study is the serial one but for the times.
    """
    from symop.api import load, method_and_options, refuse_checkpoint
    from symop.plugins import get_discretization, refusal
    from symop.sweep import run_tasks

    if refine not in ("space", "time", "both"):
        raise SymopError(f"--refine takes space, time or both, not `{refine}`.")
    if levels < 2:
        raise SymopError("a convergence study needs at least 2 levels.")
    if not isinstance(problem, Problem):
        problem = load(problem)
    if not problem.exact:
        raise SymopError(f"the problem `{problem.name}` has no exact solution; add `exact` lines "
                         "(`symop mms` writes them).")
    if refine == "time" and problem.time is None:
        raise SymopError("--refine time needs a time-dependent problem.")
    given = dict(options or {})
    if isinstance(base, int):
        given["n"] = base
    elif base:
        given.update(base)
    method, merged = method_and_options(problem, method, given)
    refuse_checkpoint(merged, "a convergence study solves each level")
    disc = get_discretization(method)
    declared_options = {o.name: o for o in disc.options}  # typed, so the levels (and their JSON) hold numbers
    merged = {k: declared_options[k].convert(v, method) if k in declared_options else v for k, v in merged.items()}
    reason = refusal(method, problem)
    if reason:
        raise SymopError(f"{method} cannot solve {problem.name}: {reason}" + ("" if reason.endswith(".") else "."))
    plans = []
    for k in range(levels):
        opts = disc.refine(problem, merged, k, refine)
        rule = disc.refinement_for(problem, opts)
        h = rule.mesh_size(problem, opts) if rule is not None else None
        plans.append(_LevelTask(problem, method, opts, h, solve_progress and not (workers and workers.parallel)))
    out = run_tasks(solve_level, plans, workers,
                    started=None if starting is None else lambda k: starting(k, plans[k].options),
                    done=None if progress is None else lambda k, lv: progress(k, lv))
    if all(lv.error for lv in out):  # no level measured: no study to show, and no success to report
        if len({lv.error for lv in out}) == 1:
            raise SymopError(f"{method} refused every level of the study: {out[0].error}")
        raise SymopError(f"{method} failed at every level of the study, so no error was measured; "
                         f"at level 0: {out[0].error}")
    try:
        accuracy = disc.declared_accuracy(merged)
    except SymopError:  # options no level could run with (each level recorded why)
        accuracy = None
    declared = accuracy.order(refine, steady=problem.is_steady) if accuracy is not None else None
    rule = disc.refinement_for(problem, plans[0].options)
    return Study(problem.name, method, refine, out, declared,
                 space_option=None if rule is None else (rule.size or rule.cells),
                 time_option=None if rule is None else rule.step)
