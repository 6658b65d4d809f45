"""The ``fd`` discretization: options, acceptance, and the runnable program."""

from __future__ import annotations

import time
from typing import Any, Mapping

from symop.integrate import EXPLICIT_METHODS, SPLITS, scheme_names
from symop.errors import OptionError
from symop.plugins import Accuracy, Discretization, Option, Program, Refinement


def _refuse_unused_solver(problem, options: Mapping[str, Any]) -> None:
    """Refuse a linear ``solver`` chosen for a run that solves no linear system: explicit, unsplit time steps."""
    from .timestep import explicit_scheme

    scheme = options.get("scheme") or "rk4"
    if (options.get("solver") or "auto") != "auto" and not problem.is_steady \
            and (options.get("split") or "none") == "none" and explicit_scheme(scheme) is not None:
        raise OptionError(f"`solver` picks the linear solver of steady problems and of implicit or split time "
                          f"steps, and this run steps explicitly with {scheme}: choose an implicit scheme or a "
                          f"split, or leave solver out.")


def check_grid_data(problem, low) -> None:
    """Refuse known data that are not finite at the grid nodes where fd evaluates them
    (:func:`symop.wellposed.check_data`): an equation's at every node but its field's Dirichlet nodes, a
    condition's at the nodes of its side; in slabs along the first axis, so that no whole-grid array of
    points is made."""
    import numpy as np

    from symop.wellposed import CHUNK, check_data

    grid = low.grid
    names = [c.name for c in low.comps]
    d = grid.dimension

    def slabs(fixed: dict[int, float] | None = None, mask=None):
        lines = [np.array([fixed[k]]) if fixed and k in fixed else grid.axis(k) for k in range(d)]
        step = max(1, CHUNK // max(1, int(np.prod([len(a) for a in lines[1:]]))))
        for i in range(0, len(lines[0]), step):
            mesh = np.meshgrid(lines[0][i:i + step], *lines[1:], indexing="ij")
            points = np.stack([m.ravel() for m in mesh], axis=1)
            yield points if mask is None else points[~mask[i:i + step].ravel()]

    def interior(field: str):
        return slabs(mask=low.dirichlet_mask[names.index(field)])

    def boundary(field: str, side: str):
        axis, sign = problem.domain.axis_of_side(side)
        axis = grid.names.index(axis) if isinstance(axis, str) else int(axis)
        return slabs({axis: grid.lo[axis] if sign < 0 else grid.hi[axis]})

    check_data(problem, "fd", interior, boundary)


class FDProgram(Program):
    #: set by :func:`symop.plugins.lower` under torchrun: the grid is split over these processes
    processes = None

    def __init__(self, problem, options: Mapping[str, Any]) -> None:
        import torch

        from .fused import compile_default
        from .lowering import Lowered

        self.problem = problem
        self.options = dict(options)
        self.dtype = torch.float32 if self.options.get("dtype") == "float32" else torch.float64
        # lower once on the CPU so that the code can be shown; run() re-lowers on its device
        self._lowered = {"cpu": Lowered(problem, self.options["n"], self.options["order"], self.dtype, "cpu")}
        low = self._lowered["cpu"]
        self.source = (
            f"# fd: {len(low.comps)} component(s) on a {' x '.join(map(str, low.shape))} grid, "
            f"order {low.order}; field nodes are stencils on ghost-padded tensors\n"
            + ("# compile: with an explicit scheme and no split, each step (all stages and the update) is one inductor-compiled function "
               "(symop_fd.fused; unless `compile` is given, only when the run repays compiling); on periodic grids the "
               "stencils use torch.roll instead of padding\n"
               if compile_default(self.options.get("compile")) else "")
            + low.rhs.source
        )

    def lowered(self, device: str):
        from .lowering import Lowered

        if device not in self._lowered:
            self._lowered[device] = Lowered(self.problem, self.options["n"], self.options["order"], self.dtype, device)
        return self._lowered[device]

    def run(self, device: str = "cpu", progress: bool = False):
        import numpy as np
        import torch

        from symop.evaluation import snapshot_times
        from symop.interpolate import GridInterpolant, grid_degree
        from symop.solution import Grid, Solution

        start = time.perf_counter()
        if not getattr(self, "_data_checked", False):
            check_grid_data(self.problem, self._lowered["cpu"])
            self._data_checked = True
        if self.processes is not None and self.processes.is_distributed:
            from symop.training import device_for

            device = str(device_for(device, self.processes))  # cuda:<local rank> under torchrun with CUDA
        low = self.lowered(device)
        grid = Grid(low.grid.axes(), low.grid.names)
        # between the nodes: Lagrange polynomials of degree order + 1, so evaluation keeps the stencils' order
        interpolant = GridInterpolant.of_lattice(low.grid, grid_degree(low.order))
        names = [c.name for c in low.comps]
        if self.problem.is_steady:
            from .steady import solve_steady

            if self.processes is not None and self.processes.is_distributed:
                from .distributed import solve_steady_blocks

                U, info = solve_steady_blocks(low, self.options, self.processes)
                if not self.processes.is_main:  # this process's block
                    ranges = info["layout"]["nodes"][self.processes.rank]
                    grid = Grid(tuple(ax[a:b] for ax, (a, b) in zip(low.grid.axes(), ranges)), low.grid.names)
                    interpolant = None
            else:
                U, info = solve_steady(low, solver=self.options.get("solver") or "auto")
            fields = {n: U[i] for i, n in enumerate(names) if n in self.problem.field_names}
            return Solution(self.problem, "fd", self.options, grid, fields, device=device,
                            wall_time=time.perf_counter() - start, info=info, interpolant=interpolant)
        itemsize = 4 if self.dtype == torch.float32 else 8
        state_bytes = len(names) * int(np.prod(low.shape)) * itemsize

        def snapshots(t0: float, t1: float, dt: float):
            return snapshot_times(self.options.get("save"), state_bytes, t0, t1, dt)

        if progress and (self.processes is None or self.processes.is_main):
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(f"fd {self.problem.name}", total=1.0)

                def cb(k, n, t):
                    if k == n or k % max(1, n // 200) == 0:
                        bar.update(task, completed=k / n, description=f"fd t={t:.4g}")

                traj, info = self._evolve(low, cb, snapshots)
        else:
            traj, info = self._evolve(low, None, snapshots)
        if "layout" in info and not self.processes.is_main:  # this process's block
            ranges = info["layout"]["nodes"][self.processes.rank]
            grid = Grid(tuple(ax[a:b] for ax, (a, b) in zip(low.grid.axes(), ranges)), low.grid.names)
            interpolant = None
        final = traj.final
        fields = {n: final[i] for i, n in enumerate(names) if n in self.problem.field_names}
        history = None
        times = None
        if len(traj.times) > 2 or int(self.options.get("save") or 0) >= 2:
            times = np.asarray(traj.times)
            states = torch.stack(traj.states)
            history = {n: states[:, i] for i, n in enumerate(names) if n in self.problem.field_names}
        return Solution(self.problem, "fd", self.options, grid, fields, time=traj.times[-1], times=times,
                        history=history, device=device, wall_time=time.perf_counter() - start, info=info,
                        interpolant=interpolant)


    def _evolve(self, low, cb, snapshots):
        """(trajectory, info) of the time-dependent run: on one process, or split over :attr:`processes`."""
        if self.processes is not None and self.processes.is_distributed:
            from .distributed import run_blocks

            return run_blocks(low, self.options, self.processes, cb, snapshots)  # trackers: on rank 0, whole grid
        from .timestep import run_evolution

        return run_evolution(low, self.options, cb, snapshots)


class FiniteDifferences(Discretization):
    name = "fd"
    description = "finite differences on uniform box grids (central stencils, ghost-node boundaries)"
    #: studies double the cells per axis and halve the time step
    refinement = Refinement(cells="n", step="dt")

    def accuracy(self, options: Mapping[str, Any]) -> Accuracy:
        """The stencils' ``order`` in h; in dt the registered order of ``scheme``, or of the splitting."""
        from .timestep import time_order

        return Accuracy(space=int(options["order"]), time=time_order(options["scheme"], options["split"]))

    @property
    def options(self) -> tuple[Option, ...]:
        """The options; ``scheme`` offers every registered time scheme (:mod:`symop.integrate.schemes`)."""
        return (
            Option("n", int, 32, "cells per axis", minimum=1),
            Option("order", int, 2, "accuracy order of the central stencils", (2, 4)),
            Option("scheme", str, "rk4", "time scheme", scheme_names(), time_dependent=True),
            Option("split", str, "none", "operator splitting: implicit diffusion vs explicit rest", SPLITS,
                   time_dependent=True),
            Option("dt", float, None, "time step (default: from the stability limit, the smallest over 9 times "
                   "of the time interval when a coefficient changes in time)", minimum=0, exclusive=True,
                   time_dependent=True),
            Option("save", int, None, "snapshots kept from t0 to the end: N equally spaced times; default 21 "
                   "of the steps, about equally spaced (fewer past 256 MiB); 0: the final state only", minimum=0,
                   time_dependent=True),
            Option("dtype", str, "float64", "floating point type", ("float32", "float64")),
            Option("compile", bool, None, "compile each explicit step (all stages and the update) into one "
                   "inductor function, cached by the problem's structure in memory and on disk; unset: compile "
                   "when the run repays it (steps x stages x grid points >= 2^27 on the CPU) and torch can, "
                   "unless the environment sets SYMOP_COMPILE=0; true: always; false: never; with implicit "
                   "schemes or splitting, true wraps the right-hand side in torch.compile"),
            Option("solver", str, "auto", "sparse linear solver of steady problems and of implicit, IMEX or split "
                   "time steps (refused for explicit unsplit steps, which solve no system)",
                   ("auto", "direct", "amg", "cg", "gmres")),
            Option("blocks", str, "auto", "under torchrun: processes per axis, e.g. 2x1 (their product is the "
                   "number of processes); auto: the longest axes split first"),
        )

    def processes(self, problem, options: Mapping[str, Any]) -> str | None:
        """Every problem fd accepts runs on a grid split over processes (:mod:`symop_fd.distributed`)."""
        from .distributed import refusal

        return refusal(problem, options)

    def accepts(self, problem) -> str | None:
        if problem.space.is_indexed:
            return ("fd needs named coordinates (space x, y); this problem has the indexed space "
                    f"{problem.space.names[0][:-3]}[1..{problem.dimension}]")
        if not problem.domain.has_grid:
            return f"fd needs a box domain; this problem's domain is a {problem.domain.describe()}"
        if problem.dimension > 3:
            return f"fd handles 1, 2 or 3 dimensions; this problem has {problem.dimension}"
        from symop.wellposed import constant_refusal, mixed_condition_refusal

        from .lowering import fourth_order_refusal, missing_side_refusal

        mixed = mixed_condition_refusal(problem, "fd")  # before the form: `dn(u) - v = g` is of no form fd knows
        if mixed is not None:
            return mixed
        for bc in problem.boundary:
            if bc.kind not in ("dirichlet", "neumann", "robin"):
                return (f"fd needs boundary conditions of the form alpha*u + beta*dn(u) = g; the condition on "
                        f"{', '.join(bc.parts)} is not")
        return missing_side_refusal(problem) or fourth_order_refusal(problem) or constant_refusal(problem, "fd")

    def lower(self, problem, options: Mapping[str, Any]) -> Program:
        _refuse_unused_solver(problem, options)
        check_memory(problem, options)
        return FDProgram(problem, options)


#: work arrays of a scheme that is not an explicit tableau (the implicit ones hold about as many as heun)
OTHER_STAGES = 2


def memory_estimate(problem, options: Mapping[str, Any]) -> tuple[int, int, int]:
    """(bytes, arrays, nodes per array): a lower bound on what a run on this grid holds at once.

    Each component (a field, or the velocity of a field second order in time) is
    a ghost-padded array of :math:`(n + 1 + 2g)^d` values; a time step keeps the
    state, one array per Runge–Kutta stage and a few temporaries (stage input,
    update, stencil padding), and the lowering keeps the d coordinate arrays.
    A steady problem holds a sparse matrix with about :math:`2 d g + 1` entries
    per row instead (values and column indices).
    """
    from symop.model import analysis

    n = int(options["n"])
    order = int(options.get("order") or 2)
    d = problem.dimension
    ghost = max(1, order // 2)
    nodes = (n + 1 + 2 * ghost) ** d
    comps = sum(2 if analysis.time_order(problem, f.name) == 2 else 1 for f in problem.fields)
    itemsize = 4 if options.get("dtype") == "float32" else 8
    if problem.is_steady:
        arrays = d + comps * (2 + 3 * (2 * d * ghost + 1))  # matrix values + indices, right-hand side, solution
    else:
        tableau = EXPLICIT_METHODS.get(options.get("scheme") or "rk4")
        arrays = d + comps * ((tableau.stages if tableau is not None else OTHER_STAGES) + 4)
    return arrays * nodes * itemsize, arrays, nodes


def check_memory(problem, options: Mapping[str, Any]) -> None:
    """Refuse, with the estimate, a grid whose arrays would not fit in this machine's memory."""
    from symop.resources import format_count, require_memory

    needed, arrays, nodes = memory_estimate(problem, options)
    n = int(options["n"])
    power = {1: "", 2: "²", 3: "³"}.get(problem.dimension, f"^{problem.dimension}")
    require_memory(needed, f"a {n + 1:,}{power} grid ({arrays} arrays of {format_count(nodes)} values)",
                   "lower `n`")
