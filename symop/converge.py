"""Convergence studies: solve one problem on a sequence of refined settings.

:func:`converge` refines the mesh (``refine="space"``), the time step
(``"time"``) or both, solves at each level and measures the error against the
problem's exact solution.  What a level changes is the method's own
declaration (:meth:`~symop.plugins.Discretization.refine`): fd doubles ``n``,
fem halves ``h`` or doubles ``n``, mesh-free methods (``pinn``) grow their
training budget.  The :class:`Study` holds the table, the observed orders
``log2(e_{k-1}/e_k)``, the order the method declares, and writes JSON and a
log-log plot.
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


@dataclass
class Study:
    """The result of :func:`converge`."""

    problem: str
    method: str
    refine: str
    levels: list[Level]
    #: the order the method declares for this study (:meth:`~symop.plugins.Discretization.accuracy`)
    declared_order: float | None = None

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

    def rows(self) -> list[dict[str, Any]]:
        out = []
        orders = [None] + self.orders
        for lv, p in zip(self.levels, orders):
            out.append({"h": lv.h, "dt": lv.dt, "rel_l2": lv.rel_l2, "max": lv.max_error, "order": p,
                        "wall_time": lv.wall_time, "options": lv.options, "fields": lv.fields, "error": lv.error})
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        data = {"problem": self.problem, "method": self.method, "refine": self.refine,
                "levels": self.rows(), "orders": self.orders, "observed_order": self.observed_order,
                "declared_order": self.declared_order}
        text = json.dumps(data, indent=2, default=_jsonable)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    def table(self):
        from rich.table import Table

        declared = "" if self.declared_order is None else f"; declared order {self.declared_order:g}"
        t = Table(title=f"convergence of {self.problem} with {self.method} (refine {self.refine}{declared})")
        for col in ("level", "h", "dt", "rel L2", "max error", "order", "time [s]"):
            t.add_column(col, justify="right")
        orders = [None] + self.orders
        for k, (lv, p) in enumerate(zip(self.levels, orders)):
            t.add_row(str(k), _fmt(lv.h), _fmt(lv.dt), _fmt(lv.rel_l2) if lv.error is None else f"[red]{lv.error}[/red]",
                      _fmt(lv.max_error), "—" if p is None else f"{p:.2f}", f"{lv.wall_time:.2f}")
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
    return Study(problem.name, method, refine, out, declared)
