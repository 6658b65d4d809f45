"""What a method declares about its convergence: its orders and how it refines.

A :class:`~symop.plugins.Discretization` returns an :class:`Accuracy` for a
set of options (fd: the stencil order in space and the time scheme's order;
fem: degree + 1 in the L2 norm; a trained network: none) and names, in a
:class:`Refinement`, the options a convergence study turns: cells per axis,
the mesh size, the time step, or a training budget.  ``symop converge`` and
``symop bench`` read these declarations instead of guessing from option names
and domain classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from symop.errors import SymopError

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.problem import Problem

#: what a study refines: the mesh, the time step, or both by one factor
REFINE = ("space", "time", "both")


@dataclass(frozen=True)
class Accuracy:
    """Declared orders of accuracy: the relative L2 error behaves like
    C_1 h^space + C_2 dt^time; None where the method claims no order."""

    space: float | None = None
    time: float | None = None

    def order(self, what: str = "space", steady: bool = False) -> float | None:
        """The order a study refining ``what`` should observe: ``space`` (h), ``time`` (dt) or
        ``both`` (h and dt by one factor: min of the two); a steady problem has only h."""
        if steady or what == "space":
            return self.space
        if what == "time":
            return self.time
        known = [p for p in (self.space, self.time) if p is not None]
        return min(known) if known else None


def extent(problem: "Problem") -> float:
    """The largest side of the domain's bounding box."""
    lo, hi = problem.domain.bounding_box()
    return float(max(hi - lo))


@dataclass(frozen=True)
class Refinement:
    """The options a method refines by, level k = 0, 1, ... (0 the coarsest):

    * ``size``: the mesh size h, halved per level (default at level 0: extent / ``coarse``);
    * ``cells``: cells per axis, doubled per level (default ``coarse``); used when ``size`` is None;
    * ``step``: the time step, halved per level when time is refined (default (t1 - t0)/10);
    * ``budget``: options that buy accuracy where nothing above is refined (a network's
      collocation points or steps), doubled per level.
    """

    cells: str | None = None
    size: str | None = None
    step: str | None = None
    budget: tuple[str, ...] = ()
    coarse: int = 8

    def apply(self, problem: "Problem", options: Mapping[str, Any], level: int, what: str,
              declared: Sequence[Any] = (), method: str = "") -> dict[str, Any]:
        """``options`` refined to ``level`` in ``what`` (space, time or both).

        Budget options the caller gave grow; when it gave none, those declared
        (``declared``: the method's options) grow from their defaults.
        """
        if what not in REFINE:
            raise SymopError(f"--refine takes space, time or both, not `{what}`")
        opts = dict(options)
        grow = 2**level
        space = what in ("space", "both")
        in_time = what in ("time", "both") and problem.time is not None
        refined = False
        if self.size is not None:
            opts.setdefault(self.size, extent(problem) / self.coarse)
            if space:
                opts[self.size] = float(opts[self.size]) / grow
                refined = True
        elif self.cells is not None:
            opts.setdefault(self.cells, self.coarse)
            if space:
                opts[self.cells] = int(opts[self.cells]) * grow
                refined = True
        if self.step is not None and in_time:
            if self.step not in opts:
                opts[self.step] = float(problem.time.end - problem.time.start) / 10.0
            opts[self.step] = float(opts[self.step]) / grow
            refined = True
        if not refined:
            for name in self.budget:
                if name in opts:
                    opts[name] = int(float(opts[name]) * grow)
                    refined = True
        if not refined:
            for o in declared:
                if o.name in self.budget and o.default is not None:
                    opts[o.name] = int(float(o.default) * grow)
                    refined = True
        if not refined:
            raise SymopError(f"the method `{method}` has no option to refine by (n, dt, points or steps)")
        return opts

    def mesh_size(self, problem: "Problem", options: Mapping[str, Any]) -> float | None:
        """h of ``options``: the mesh size, or the extent over the cells per axis; None without a mesh."""
        if self.size is not None and options.get(self.size) is not None:
            return float(options[self.size])
        if self.cells is not None and options.get(self.cells):
            return extent(problem) / int(options[self.cells])
        return None

    def resolution(self, problem: "Problem", cells: int) -> dict[str, Any]:
        """Options resolving ``problem`` with about ``cells`` cells per axis ({} without a mesh)."""
        if self.size is not None:
            return {self.size: extent(problem) / int(cells)}
        if self.cells is not None:
            return {self.cells: int(cells)}
        return {}
