"""One explicit Runge–Kutta step (every stage and the update) as one compiled function.

For ``u' = F(t, u)`` and a tableau ``(A, b, c)`` the step

    k_i = F(t + c_i dt, u + dt sum_{j<i} a_ij k_j),    u^{n+1} = u + dt sum_i b_i k_i

is written per component, with stencils by index arithmetic on periodic grids
(:func:`symop.discrete.stencils.apply_periodic`) and Dirichlet nodes set by ``slice_scatter`` (to dg/dt in
the stages, to g(t + dt) at the end of the step, as :class:`symop_fd.timestep.DirichletAtStepEnd`), so
that inductor fuses stencils, point-wise terms and the update into a few loops:
no padded copies, no stacked right-hand side, no eager update.

The step is traced once into an aten graph (``make_fx``) and handed to inductor
directly: unlike ``torch.compile`` the result checks no guards per call, which
saves tens of microseconds per step, most of a step's time on small grids.

**What is compiled, and when again.**  The time ``t``, the step ``dt``, the
problem's parameters, the grid spacings and the node coordinates are *inputs*
of the compiled step, not constants baked into it.  Compiled steps are kept in
a cache keyed by the problem's structure (generated right-hand side with the
parameters as symbols, stencils, grid shape, periodic axes, boundary
conditions of closed axes, scheme, dtype, device), so a re-solve with other
parameter values, another ``dt`` or another periodic box of the same shape
reuses the compiled code in the same process (:data:`STATS` counts).  Across
processes inductor's on-disk FX graph cache, kept under :func:`cache_dir`,
turns a second cold run's compilation into a load.

**When not.**  The default (option ``compile`` unset) compiles unless the
environment variable ``SYMOP_COMPILE`` is ``0`` (the test suite sets it, to stay
fast); wherever compilation fails (no C++ compiler, an unsupported platform)
fd prints one line saying why and steps eagerly.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import sympy as sp
import torch

from symop.codegen import generate
from symop.discrete import stencils
from symop.integrate import Stepper, explicit_tableau

from .lowering import Lowered, components, multi_index

#: environment variable: ``0``/``false``/``off`` turns the compiled default off (``compile: true`` still compiles)
COMPILE_ENV = "SYMOP_COMPILE"
#: environment variable: where symop keeps its caches (default: the user's cache directory, ``symop``)
CACHE_ENV = "SYMOP_CACHE_DIR"


@dataclass
class CompileStats:
    """How often a fused step was compiled, taken from the in-process cache, or refused compilation."""

    compiled: int = 0
    reused: int = 0
    fallbacks: int = 0
    #: why the last fallback happened
    reasons: list[str] = field(default_factory=list)


#: counters of this process (tests read them)
STATS = CompileStats()
_CACHE: dict[tuple, Callable[..., torch.Tensor]] = {}
_SAID: set[str] = set()


class CompileUnavailable(RuntimeError):
    """torch could not compile the fused step here; the message says why."""


def compile_default(option: Any) -> bool:
    """Whether fd compiles: the option when given, else on unless ``SYMOP_COMPILE`` says ``0``/``false``/``off``."""
    if option is not None:
        return bool(option)
    return os.environ.get(COMPILE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def cache_dir() -> Path:
    """Where symop keeps caches: ``$SYMOP_CACHE_DIR``, else ``$XDG_CACHE_HOME/symop``, else ``~/.cache/symop``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "symop"


def use_persistent_cache() -> None:
    """Point inductor's on-disk caches at ``cache_dir()/torch`` unless the user chose a directory.

    The FX graph cache (on by default in torch 2.x) stores each compiled
    graph's generated code and binary keyed by the graph's hash, so a fresh
    process compiling the same structure loads it instead of compiling.
    """
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        path = cache_dir() / "torch"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # an unwritable cache directory: inductor's default (a temporary directory) stays
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)


def say_eager(reason: str) -> None:
    """One line on standard error (once per reason and process): fd steps eagerly, and why."""
    STATS.fallbacks += 1
    STATS.reasons.append(reason)
    if reason not in _SAID:
        _SAID.add(reason)
        print(f"fd: stepping eagerly, since torch.compile is unavailable here ({reason}).", file=sys.stderr)


class FusedExplicitRK(Stepper):
    """Explicit RK stepper whose whole step is one inductor-compiled function.

    The growth monitor of :func:`symop.integrate.integrate` looks at its state
    every ``check_every`` steps rather than every step: a look (max |u|) is a
    full pass over the state, as much memory traffic as the step itself.

    ``compile=False`` runs the same step eagerly (tests compare it with the
    stage-by-stage stepper); ``compile=True`` compiles at construction and
    raises :class:`CompileUnavailable` when that fails, so the caller can fall back.
    """

    watch_every_step = False

    def __init__(self, low: Lowered, method: str = "rk4", compile: bool = True) -> None:
        self.low = low
        self.tableau = explicit_tableau(method)
        self.name = self.tableau.name
        self.order = self.tableau.order
        for b in low.bsets:
            b.warm(low.time_tensor(0.0) if low.t is not None else None)
        problem = low.problem
        # the right-hand side with the parameters as symbols: their values are inputs of the step
        comps = components(problem, numeric=False)
        exprs = [c.rhs for c in comps]
        used: set[sp.Symbol] = set().union(*(e.free_symbols for e in exprs)) if exprs else set()
        self.params = sorted((s for s in problem.param_values if s in used), key=lambda s: s.name)
        self.fn = generate({c.name: e for c, e in zip(comps, exprs)}, [*low.coords, low.t, *self.params],
                           name="rhs")
        skip = len(low.coords) + 1 + len(self.params)
        self.plan = [multi_index(self.fn.nodes[nm], low.comps, low.coords) for nm in self.fn.arguments[skip:]]
        self.needs_pad = sorted({ci for ci, mi in self.plan if any(mi)})
        self.periodic = all(low.grid.periodic)
        values = problem.param_values
        self.inputs = [
            torch.tensor([float(values[s]) for s in self.params] or [0.0], dtype=low.dtype, device=low.device),
            torch.tensor(low.grid.h, dtype=low.dtype, device=low.device),
            *low.coord_tensors,
        ]
        self.compile = compile
        self._fn = self._step
        if compile:
            self._fn = self._compiled()

    # ----------------------------------------------------------------- the step
    def key(self) -> tuple:
        """The structure the compiled step depends on (values that are inputs are not part of it)."""
        low = self.low
        closed = None
        if not self.periodic:  # ghost closures and Dirichlet data are built into the step
            closed = (repr([sorted(c.conditions.items()) for c in low.comps]), low.grid.lo, low.grid.hi)
        return (self.fn.source, tuple(self.plan), tuple(low.shape), tuple(low.grid.periodic), low.order,
                self.tableau.name, str(low.dtype), str(low.device), closed)

    def rhs(self, t, parts: list[torch.Tensor], params: torch.Tensor, h: torch.Tensor,
            coords: list[torch.Tensor]) -> list[torch.Tensor]:
        """F(t, u) per component, Dirichlet nodes holding dg/dt."""
        low = self.low
        hs = tuple(h[a] for a in range(len(low.grid.h)))
        args: list[Any] = [*coords, t, *(params[i] for i in range(len(self.params)))]
        padded = {} if self.periodic else {ci: low.bsets[ci].pad(parts[ci], t) for ci in self.needs_pad}
        for ci, mi in self.plan:
            if not any(mi):
                args.append(parts[ci])
            elif self.periodic:
                args.append(stencils.apply_periodic(parts[ci], mi, hs, low.order))
            else:
                args.append(stencils.apply(padded[ci], mi, hs, low.grid.ghost, low.order))
        out = self.fn.function(*args)
        if self.fn.single:
            out = (out,)
        out = [torch.broadcast_to(o, low.shape) if o.shape != low.shape else o for o in out]
        return [b.with_dirichlet(o, t, rate=True) if b.dirichlet else o for o, b in zip(out, low.bsets)]

    def _step(self, times: torch.Tensor, params: torch.Tensor, h: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        """One step from ``times = (t, dt)``, the parameters, spacings, coordinates and the state ``U`` (last)."""
        tab = self.tableau
        coords, U = list(rest[:-1]), rest[-1]
        t, dt = times[0], times[1]
        u = list(U.unbind(0))
        ks: list[list[torch.Tensor]] = []
        for i in range(tab.stages):
            ui = u
            for aij, kj in zip(tab.a[i], ks):
                if aij != 0.0:
                    ui = [a + (dt * aij) * b for a, b in zip(ui, kj)]
            ti = t + tab.c[i] * dt if tab.c[i] != 0.0 else t
            ks.append(self.rhs(ti, ui, params, h, coords))
        new = u
        for bi, ki in zip(tab.b, ks):
            if bi != 0.0:
                new = [a + (dt * bi) * b for a, b in zip(new, ki)]
        # the step ends with the Dirichlet nodes at g(t + dt) (symop_fd.timestep.DirichletAtStepEnd)
        new = [b.with_dirichlet(o, t + dt, rate=False) if b.dirichlet else o for o, b in zip(new, self.low.bsets)]
        return torch.stack(new)

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        times = torch.tensor((float(t), float(dt)), dtype=self.low.dtype)
        if u.device.type == "cuda":  # from pinned memory: an asynchronous copy, no stream synchronisation per step
            times = times.pin_memory().to(u.device, non_blocking=True)
        elif u.device.type != "cpu":
            times = times.to(u.device)
        return self._fn(times, *self.inputs, u)

    def _compiled(self) -> Callable[..., torch.Tensor]:
        """The compiled step of this structure: from the cache, else traced and compiled now."""
        key = self.key()
        if key in _CACHE:
            STATS.reused += 1
            return _CACHE[key]
        low = self.low
        U = torch.zeros((len(low.comps), *low.shape), dtype=low.dtype, device=low.device)
        example = (torch.tensor((0.0, 1e-9), dtype=low.dtype, device=low.device), *self.inputs, U)
        fn = _compile(self._step, example)
        STATS.compiled += 1
        _CACHE[key] = fn
        return fn


def _compile(fn, example: tuple[torch.Tensor, ...]):
    """``fn`` traced on ``example`` (``make_fx``) and compiled by inductor; :class:`CompileUnavailable` on failure."""
    use_persistent_cache()
    try:
        from torch.fx.experimental.proxy_tensor import make_fx

        import torch._inductor

        from torch._guards import TracingContext, tracing
        from torch._subclasses.fake_tensor import FakeTensorMode
        from torch.fx.experimental.symbolic_shapes import ShapeEnv

        graph = make_fx(lambda *args: fn(*args))(*example)
        # a tracing context with a shape environment: what inductor's FX graph cache needs to store the graph
        # (and fake inputs of static shapes: else inductor compiles for symbolic sizes, which vectorises worse)
        fake = FakeTensorMode(shape_env=ShapeEnv())
        with tracing(TracingContext(fake)):
            compiled = torch._inductor.compile(graph, [fake.from_tensor(t, static_shapes=True) for t in example])
        compiled(*example)  # fail here, not in the time loop
    except Exception as e:  # a missing compiler, an unsupported platform or op: the caller steps eagerly
        text = str(e).strip().splitlines()
        raise CompileUnavailable(f"{type(e).__name__}: {text[0][:160] if text else ''}".rstrip(": ")) from e
    return compiled
