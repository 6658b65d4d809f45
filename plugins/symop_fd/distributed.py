r"""fd on several processes: the grid split into blocks, ghost layers exchanged between them.

Under ``torchrun --nproc_per_node N -m symop run FILE --method fd`` each of the
N processes owns one block of the grid's nodes.  The processes form a grid
:math:`p_0 \times \dots \times p_{d-1}` (option ``blocks``, e.g. ``2x1``;
``auto`` splits the longest axes first); along axis :math:`k` the
:math:`n_k` nodes go to :math:`p_k` blocks of :math:`\lfloor n_k/p_k \rfloor`
or one more (uneven blocks are fine).

**Ghost layers.**  Every stage of a step pads each block with ``g`` ghost
layers per side (``g`` the stencils' half width: 1 for order 2, 2 for order 4,
more for higher derivatives), axis after axis exactly as one process pads the
whole grid (:meth:`symop_fd.boundary.BoundarySet.pad`): along axis :math:`k` a
side inside the grid receives the ``g`` outer layers of the neighbouring block
(already padded along the axes before :math:`k`, so edges and corners come
along), exchanged with :func:`torch.distributed.batch_isend_irecv`; a side of
the box is closed by the block that owns it (Dirichlet extrapolation,
Neumann/Robin closures, from the side's data restricted to the block); a
periodic axis wraps around from the last block to the first.  The ghost values
are therefore the values one process computes, and every stencil, point-wise
term and Runge–Kutta update is the same arithmetic on the same numbers: an explicit run
on N processes equals the one-process (eager) run bit for bit.

**Checks and output.**  The NaN/bound checks and the growth monitor see
max|u| over all blocks (an ``all_reduce``), so every process stops at the same
step; the default time step is the one-process one.  Trackers
(:mod:`symop.trackers`: ``--every``, :class:`~symop.trackers.PlotEvery`,
:class:`~symop.trackers.Record`, :class:`~symop.trackers.StopWhen`, ...) run on
rank 0 with the whole grid gathered at the steps they are due
(:class:`SplitRun`).  At the end rank 0 gathers
every kept snapshot and returns the whole :class:`~symop.solution.Solution`
(``info`` records the process grid and each block's node ranges); the other
ranks return their block.

**Implicit parts.**  Implicit and IMEX schemes and splitting run through the
same :func:`symop_fd.timestep.run_evolution` as one process, with the linear
part a :class:`BlockLinearPart`: the block's rows of the whole grid's sparse
operator, applied after a halo exchange, and the shifted solves of each stage
by Jacobi-preconditioned conjugate gradients (BiCGSTAB when the operator is
not symmetric) with dot products summed by ``all_reduce``, to a relative
residual of 1e-12: such runs agree with one process (a direct solve) to about
that tolerance, not bit for bit.

**Steady problems.**  Newton's method as in one process
(:func:`solve_steady_blocks`): the residual on each block, each Newton step by
the same distributed Krylov solve of the Jacobian's rows (assembled from the
whole state, gathered on every process; once for an affine problem).

**What is not split.**  Theta schemes whose coefficients change in time
(re-assembled every step) are refused with a sentence before any step.  Each process still lowers the whole problem (the
node coordinates, the initial state and, with an implicit part, the sparse
operator of the whole grid, from which it takes its block): the state that is
stepped, and the work of each step, is split.  The compiled fused step is not
used (the step is eager).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from symop import trackers as _trackers
from symop.errors import OptionError
from symop.integrate import LinearPart, Stepper
from symop.training.dist import DistInfo


@dataclass(frozen=True)
class Layout:
    """How a grid of ``shape`` nodes is split over a process grid of ``procs`` processes per axis.

    Rank ``r`` sits at ``coords(r)`` (row-major over ``procs``) and owns the
    nodes ``ranges(r)[k] = (start, stop)`` of every axis ``k``.
    """

    shape: tuple[int, ...]
    procs: tuple[int, ...]
    periodic: tuple[bool, ...]

    @property
    def world(self) -> int:
        return math.prod(self.procs)

    def coords(self, rank: int) -> tuple[int, ...]:
        """The position of ``rank`` in the process grid."""
        out = []
        for p in reversed(self.procs):
            out.append(rank % p)
            rank //= p
        return tuple(reversed(out))

    def rank_of(self, coords: tuple[int, ...]) -> int:
        r = 0
        for c, p in zip(coords, self.procs):
            r = r * p + c
        return r

    def split(self, k: int) -> list[tuple[int, int]]:
        """The node ranges of the ``procs[k]`` blocks along axis ``k``: the first ``n mod p`` one node longer."""
        n, p = self.shape[k], self.procs[k]
        base, extra = divmod(n, p)
        out, start = [], 0
        for i in range(p):
            stop = start + base + (1 if i < extra else 0)
            out.append((start, stop))
            start = stop
        return out

    def ranges(self, rank: int) -> tuple[tuple[int, int], ...]:
        return tuple(self.split(k)[c] for k, c in enumerate(self.coords(rank)))

    def neighbour(self, rank: int, k: int, s: int) -> int | None:
        """The rank next to ``rank`` on side ``s`` (-1/+1) of axis ``k``; wraps on a periodic axis; None at a side of the box."""
        c = list(self.coords(rank))
        c[k] += s
        if not 0 <= c[k] < self.procs[k]:
            if not self.periodic[k]:
                return None
            c[k] %= self.procs[k]
        return self.rank_of(tuple(c))

    def describe(self) -> dict[str, Any]:
        """The layout as JSON-safe data (what summary.json records)."""
        return {"processes": self.world, "blocks": "x".join(map(str, self.procs)),
                "nodes": [[list(r) for r in self.ranges(rank)] for rank in range(self.world)]}


def process_grid(shape: tuple[int, ...], world: int, blocks: str | None) -> tuple[int, ...]:
    """Processes per axis: from ``blocks`` (``"2x1"``), or for ``auto``/None each prime factor of ``world``
    (largest first) to the axis with the most nodes per process."""
    d = len(shape)
    if blocks and blocks != "auto":
        try:
            procs = tuple(int(p) for p in blocks.lower().split("x"))
        except ValueError:
            procs = ()
        if len(procs) != d or any(p < 1 for p in procs):
            raise OptionError(f"blocks takes {d} positive counts of processes per axis joined by x "
                              f"(e.g. {'x'.join(['2'] + ['1'] * (d - 1))}), not `{blocks}`.")
        if math.prod(procs) != world:
            raise OptionError(f"blocks = {blocks} makes {math.prod(procs)} blocks, but {world} processes run; "
                              "the counts must multiply to the number of processes.")
        return procs
    factors, m, q = [], world, 2
    while m > 1:
        while m % q == 0:
            factors.append(q)
            m //= q
        q += 1
    procs = [1] * d
    for f in sorted(factors, reverse=True):
        k = max(range(d), key=lambda a: shape[a] / procs[a])
        procs[k] *= f
    return tuple(procs)


def make_layout(low, world: int, blocks: str | None) -> Layout:
    """The layout of ``low``'s grid over ``world`` processes; refuses blocks too thin for the stencils or closures."""
    grid = low.grid
    layout = Layout(tuple(low.shape), process_grid(tuple(low.shape), world, blocks), tuple(grid.periodic))
    g = grid.ghost
    closure = low.order + 3  # nodes a side's closure reads: Dirichlet extrapolation of degree at most order + 2 (BoundarySet.dirichlet_degree)
    for k in range(grid.dimension):
        sizes = [b - a for a, b in layout.split(k)]
        ends = [] if grid.periodic[k] or layout.procs[k] == 1 else [sizes[0], sizes[-1]]
        need = g if not ends else max(g, min(closure, layout.shape[k]))
        if min(sizes) < g or (ends and min(ends) < need):
            raise OptionError(
                f"fd split {layout.shape[k]} nodes of axis {grid.names[k]} into {layout.procs[k]} blocks of "
                f"{min(sizes)} to {max(sizes)} nodes; every block needs at least {g} (the stencils' ghost layers)"
                + (f" and one at a side of the box {need} (its closure)" if ends else "") + ": raise n or use fewer processes "
                "along that axis (option blocks).")
    return layout


def refusal(problem, options: Mapping[str, Any]) -> str | None:
    """Why fd cannot run this problem with these options on several processes, or None (it can run all it accepts;
    a theta step that re-assembles time-dependent coefficients is refused when the run starts)."""
    return None


class BlockBoundary:
    """One component's boundary on one block: ghost layers by halo exchange or closure, Dirichlet data of the owned sides."""

    def __init__(self, bset, layout: Layout, rank: int, tag: int) -> None:
        self.bset = bset
        self.layout = layout
        self.rank = rank
        self.tag = tag
        self.g = bset.g
        self.ranges = layout.ranges(rank)
        #: this block's Dirichlet nodes
        self.mask = bset.mask[tuple(slice(a, b) for a, b in self.ranges)]
        self.dirichlet = []
        for e in bset.dirichlet:
            a, idx = e["axis"], e["index"]
            lo, hi = self.ranges[a]
            if lo <= idx < hi:
                index = tuple(slice(None) if b == a else slice(*self.ranges[b]) for b in range(len(self.ranges)))
                self.dirichlet.append((e, idx - lo, index))

    def _index(self, a: int) -> tuple[slice, ...]:
        """The block's part of a side of axis ``a``, in the side's layout (axes before ``a`` padded)."""
        g = self.g
        return tuple(slice(lo, hi + 2 * g) if b < a else slice(None) if b == a else slice(lo, hi)
                     for b, (lo, hi) in enumerate(self.ranges))

    def pad(self, u: torch.Tensor, t, closed: bool = True) -> torch.Tensor:
        """``u`` (this block) with ``g`` ghost layers per side of every axis: the whole grid's padding, restricted.

        ``closed=False``: the neighbours' layers only, zeros beyond the sides of the box
        (what a matrix whose rows already hold the closures reads).
        """
        import torch.distributed as dist

        g, lay = self.g, self.layout
        for a in range(len(self.ranges)):
            n = u.shape[a]
            if lay.procs[a] == 1 and lay.periodic[a]:
                u = torch.cat([u.narrow(a, n - g, g), u, u.narrow(a, 0, g)], dim=a)
                continue
            below, above = lay.neighbour(self.rank, a, -1), lay.neighbour(self.rank, a, 1)
            ops, bufs = [], {}
            # tags: 2a + 1 travels up (to the higher block), 2a down
            for s, other in ((-1, below), (1, above)):
                if other is None:
                    continue
                edge = u.narrow(a, 0 if s < 0 else n - g, g).contiguous()
                buf = torch.empty_like(edge)
                bufs[s] = buf
                ops.append(dist.P2POp(dist.isend, edge, other, tag=self.tag + 2 * a + (0 if s < 0 else 1)))
                ops.append(dist.P2POp(dist.irecv, buf, other, tag=self.tag + 2 * a + (1 if s < 0 else 0)))
            if ops:
                for req in dist.batch_isend_irecv(ops):
                    req.wait()
            index = self._index(a)

            def side(s: int) -> list[torch.Tensor]:
                if s in bufs:
                    return [bufs[s]]
                if not closed:
                    return [torch.zeros_like(u.narrow(a, 0, g))]
                return self.bset.side_ghosts(u, a, s, t, index)

            low, high = side(-1), side(1)
            u = torch.cat([*low, u, *high], dim=a)
        return u

    def set_dirichlet(self, out: torch.Tensor, t, rate: bool) -> torch.Tensor:
        """Write ``g`` (or ``dg/dt``) into the Dirichlet nodes this block owns (the whole side's values, restricted)."""
        b = self.bset
        for e, local, index in self.dirichlet:
            target = out.narrow(e["axis"], local, 1)
            if rate and e["const"]:
                target.fill_(0.0)
                continue
            fn = e["rate"] if rate else e["value"]
            args = [*e["coords"], t] if b.t is not None else e["coords"]
            target.copy_(torch.broadcast_to(fn(*args), e["shape"])[index])
        return out


class BlockStepper(Stepper):
    """A stepper of this block whose :meth:`max_abs` is max|u| over every block (all_reduce)."""

    def __init__(self, inner: Stepper) -> None:
        self.inner = inner
        self.order = inner.order
        self.name = inner.name

    def step(self, t: float, u: torch.Tensor, dt: float) -> torch.Tensor:
        return self.inner.step(t, u, dt)

    def max_abs(self, u: torch.Tensor) -> float:
        """max|u| over all processes; NaN when any process has a NaN."""
        local = u.detach().abs().max() if u.numel() else torch.zeros((), dtype=u.dtype, device=u.device)
        nan = torch.isnan(local)
        peak, any_nan = all_max([torch.where(nan, torch.zeros_like(local), local), nan])
        return float("nan") if any_nan > 0 else peak


def all_max(values: list[torch.Tensor]) -> list[float]:
    """Each of ``values`` (scalars of this process) maximised over every process, in one all_reduce."""
    import torch.distributed as dist

    if not values:
        return []
    stacked = torch.stack([v.detach().double() for v in values]).to(reduce_device(values[0]))
    dist.all_reduce(stacked, op=dist.ReduceOp.MAX)
    return [float(v) for v in stacked]


def block_index(layout: Layout, rank: int) -> tuple[slice, ...]:
    """The slices of ``rank``'s block in the whole grid's node arrays."""
    return tuple(slice(a, b) for a, b in layout.ranges(rank))


class Blocks:
    """This process's block of ``low``'s grid: what :func:`symop_fd.timestep.run_evolution` steps instead of the grid."""

    def __init__(self, low, layout: Layout, info: DistInfo) -> None:
        self.low = low
        self.layout = layout
        self.info = info
        self.index = block_index(layout, info.rank)
        self.bsets = [BlockBoundary(b, layout, info.rank, tag=16 * ci) for ci, b in enumerate(low.bsets)]
        # the block's part of each broadcastable coordinate (sliced along its own axis only)
        self.coord_tensors = [c[tuple(s if c.shape[a] > 1 else slice(None) for a, s in enumerate(self.index))]
                              .contiguous() for c in low.coord_tensors]
        self.shape = tuple(s.stop - s.start for s in self.index)

    def localize(self, evaluator):
        """``evaluator`` (generated code and stencils) on this block: its coordinates, its ghost layers."""
        import copy

        local = copy.copy(evaluator)
        local.bsets = self.bsets
        local.coord_tensors = self.coord_tensors
        local.shape = self.shape
        return local

    def state(self, U: torch.Tensor) -> torch.Tensor:
        """This block of a whole-grid state ``[C, *shape]``."""
        return U[(slice(None), *self.index)].contiguous()

    def stepper(self, inner: Stepper) -> Stepper:
        return BlockStepper(inner)

    def linear(self, low, exprs, solver: str):
        """The linear part of ``exprs`` on this block (:class:`BlockLinearPart`), as ``.part``."""
        from types import SimpleNamespace

        from .timestep import FDLinear

        return SimpleNamespace(part=BlockLinearPart(FDLinear(low, exprs, "direct").L, self))


class BlockRows:
    """The rows of this block of a sparse operator ``A`` of the whole grid, applied after a halo exchange.

    ``A`` (SciPy CSR over the whole state ``[C, *shape]``, closures and
    Dirichlet rows included) is cut to this block's rows, its columns renumbered
    into the block padded with ``g`` layers, which hold every node a row reads
    (the closures read only nodes of the block that owns the side).
    """

    def __init__(self, A, blocks: "Blocks") -> None:
        import numpy as np
        import scipy.sparse as sps

        A = sps.csr_matrix(A)
        self.blocks = blocks
        lay, g = blocks.layout, blocks.bsets[0].g
        shape, C = lay.shape, A.shape[0] // math.prod(lay.shape)
        ranges = lay.ranges(blocks.info.rank)
        block = tuple(b - a for a, b in ranges)
        padded = tuple(n + 2 * g for n in block)
        idx = np.indices((C, *block)).reshape(1 + len(block), -1)
        rows = np.ravel_multi_index((idx[0], *[i + a for i, (a, _) in zip(idx[1:], ranges)]), (C, *shape))
        local = A[rows].tocoo()
        where = np.unravel_index(local.col, (C, *shape))
        cols = [where[0]]
        for k, (a, _) in enumerate(ranges):
            p = where[k + 1] - a + g
            if lay.periodic[k]:  # a neighbour across the periodic seam
                p = np.where(p >= padded[k], p - shape[k], np.where(p < 0, p + shape[k], p))
            if p.size and (p.min() < 0 or p.max() >= padded[k]):
                raise OptionError("fd's split grid cannot hold this operator's rows in a block and its ghost "
                                  "layers; run it in one process or with fewer processes.")
            cols.append(p)
        self.C = C
        self.rows = sps.csr_matrix((local.data, (local.row, np.ravel_multi_index(tuple(cols), (C, *padded)))),
                                   shape=(len(rows), C * math.prod(padded)))
        self.diag = np.asarray(A.diagonal()[rows])
        self.symmetric = bool(abs(A - A.T).max() <= 1e-12 * max(abs(A).max(), 1e-300)) if A.nnz else True

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        """``A u`` on this block (one halo exchange per component)."""
        padded = torch.stack([b.pad(u[c], None, closed=False) for c, b in enumerate(self.blocks.bsets)])
        out = self.rows @ padded.detach().reshape(-1).cpu().numpy()
        return torch.as_tensor(out).to(dtype=u.dtype, device=u.device).reshape(u.shape)


def reduce_device(like: torch.Tensor) -> torch.device:
    """Where a collective's tensor must live: the state's GPU under NCCL, the CPU under gloo."""
    import torch.distributed as dist

    return like.device if dist.get_backend() == "nccl" else torch.device("cpu")


def dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """The dot product of two states split over the processes (summed by ``all_reduce``)."""
    import torch.distributed as dist

    d = torch.vdot(a.reshape(-1), b.reshape(-1)).double().reshape(1).to(reduce_device(a))
    dist.all_reduce(d)
    return float(d)


def krylov(apply, b: torch.Tensor, diag: torch.Tensor, symmetric: bool, tol: float, limit: int,
           what: str) -> torch.Tensor:
    """x with ``apply(x) = b`` over all blocks, to ``||b - A x|| <= tol ||b||``: Jacobi-preconditioned CG when
    ``symmetric``, else BiCGSTAB; starts from ``b``; raises :class:`SolveError` naming ``what`` past ``limit`` steps
    (:class:`symop.integrate.NonFiniteStage` at once when ``b`` holds NaN or infinite values)."""
    from symop.errors import SolveError

    inv = 1.0 / torch.where(diag == 0, torch.ones_like(diag), diag)
    bnorm = math.sqrt(dot(b, b))
    if not math.isfinite(bnorm):  # summed over every block: every process stops here
        from symop.integrate import NonFiniteStage

        raise NonFiniteStage(f"the right-hand side of {what} holds NaN or infinite values: the solution blew up")
    if bnorm == 0.0:
        return torch.zeros_like(b)
    target = tol * bnorm
    x = b.clone()
    r = b - apply(x)
    if symmetric:
        z = inv * r
        p, rz = z.clone(), dot(r, z)
        for _ in range(limit):
            if math.sqrt(dot(r, r)) <= target:
                return x
            Ap = apply(p)
            a = rz / dot(p, Ap)
            x, r = x + a * p, r - a * Ap
            z = inv * r
            rz_new = dot(r, z)
            p, rz = z + (rz_new / rz) * p, rz_new
    else:
        r0, rho, a, w = r.clone(), 1.0, 1.0, 1.0
        v = p = torch.zeros_like(r)
        for _ in range(limit):
            if math.sqrt(dot(r, r)) <= target:
                return x
            rho_new = dot(r0, r)
            p = r + (rho_new / rho) * (a / w) * (p - w * v) if rho != 0 and w != 0 else r.clone()
            rho = rho_new
            y = inv * p
            v = apply(y)
            a = rho / dot(r0, v)
            s = r - a * v
            z = inv * s
            t = apply(z)
            w = dot(t, s) / max(dot(t, t), 1e-300)
            x = x + a * y + w * z
            r = s - w * t
    res = math.sqrt(dot(r, r)) / bnorm
    raise SolveError(f"the distributed {'conjugate gradient' if symmetric else 'BiCGSTAB'} solve of {what} stopped "
                     f"at the relative residual {res:.3g} (tolerance {tol:.3g}) after {limit} iterations; run it in "
                     "one process (a direct solve).")


class BlockLinearPart(LinearPart):
    """The linear part ``L`` on this block (:class:`BlockRows`), and the shifted solves of implicit stages.

    ``(I - alpha L) x = r`` is solved by :func:`krylov` (CG when ``L`` is
    symmetric, BiCGSTAB otherwise, dot products summed over the processes) to
    the relative residual ``tol``.
    """

    def __init__(self, L, blocks: "Blocks", tol: float = 1e-12) -> None:
        self.L = BlockRows(L, blocks)
        self.blocks = blocks
        self.tol = tol

    def matvec(self, u: torch.Tensor) -> torch.Tensor:
        """``L u`` on this block."""
        return self.L(u)

    def apply_mass(self, u: torch.Tensor) -> torch.Tensor:
        return u

    def solve_shifted(self, alpha: float, rhs: torch.Tensor) -> torch.Tensor:
        """x with ``(I - alpha L) x = rhs`` over all blocks."""
        alpha = float(alpha)
        if alpha == 0.0:
            return rhs
        diag = 1.0 - alpha * torch.as_tensor(self.L.diag, dtype=rhs.dtype, device=rhs.device).reshape(rhs.shape)
        limit = 10 * int(sum(self.blocks.layout.shape)) * self.L.C + 100
        return krylov(lambda x: x - alpha * self.L(x), rhs, diag, self.L.symmetric, self.tol, limit,
                      "fd's implicit step")


def solve_steady_blocks(low, options: dict, info: DistInfo, tol: float = 1e-10, maxiter: int = 50):
    """Newton's method on ``R(u) = 0`` (:func:`symop_fd.steady.solve_steady`) with this process holding its block.

    The residual is evaluated on the block (halo exchange); the Jacobian is
    assembled from the whole state (gathered on every process, once for an
    affine ``R``) and each Newton step solved by :func:`krylov` to 1e-12.
    Returns the whole ``U`` on rank 0 (the block elsewhere) and the info.
    """
    import numpy as np
    import scipy.sparse as sps

    layout = make_layout(low, info.world, options.get("blocks"))
    blocks = Blocks(low, layout, info)
    rhs = blocks.localize(low.rhs)
    C = len(low.comps)
    U = torch.zeros((C, *blocks.shape), dtype=low.dtype, device=low.device)
    for ci, b in enumerate(blocks.bsets):
        b.set_dirichlet(U[ci], None, rate=False)

    def residual(U: torch.Tensor) -> torch.Tensor:
        R = torch.stack(rhs(None, U))
        for ci, b in enumerate(blocks.bsets):
            if b.dirichlet:
                g = b.set_dirichlet(torch.zeros_like(U[ci]), None, rate=False)
                m = torch.as_tensor(b.mask, device=U.device)
                R[ci][m] = (U[ci] - g)[m]
        return R

    parts = low.jacobian_parts([c.rhs for c in low.comps])
    mask = low.dirichlet_mask.reshape(-1)
    keep, ident = sps.diags((~mask).astype(np.float64)), sps.diags(mask.astype(np.float64))
    affine = parts[2] is None or not parts[2].fn.nodes
    R = residual(U)
    scale = max(math.sqrt(dot(R, R)), 1e-300)
    history, J = [1.0], None
    limit = 20 * int(sum(layout.shape)) * C + 200
    for it in range(1, maxiter + 1):
        if J is None or not affine:
            whole = gather_all(U, layout, info)
            J = BlockRows(sps.csr_matrix(keep @ low.assemble(parts, None, whole) + ident), blocks)
        delta = krylov(J, -R, torch.as_tensor(J.diag, dtype=U.dtype, device=U.device).reshape(U.shape),
                       J.symmetric, 1e-12, limit, "a Newton step of fd's steady problem")
        U = U + delta
        R = residual(U)
        rel = math.sqrt(dot(R, R)) / scale
        history.append(rel)
        if not math.isfinite(rel):
            break
        step = math.sqrt(dot(delta, delta)) / max(math.sqrt(dot(U, U)), 1e-300)
        if rel <= tol or (affine and rel <= 1e3 * tol) or step < 1e-14:
            whole = gather(U.unsqueeze(0), layout, info)[0]
            return whole, {"newton_iterations": it, "residuals": history, "layout": layout.describe()}
    from symop.errors import SolveError

    raise SolveError(f"Newton's method did not converge in {len(history) - 1} iterations on the split grid: the "
                     f"relative residual went {history[1]:.3g} → {history[-1]:.3g} (tolerance {tol:g}).")


def gather_all(block: torch.Tensor, layout: Layout, info: DistInfo) -> torch.Tensor:
    """The whole state ``[C, *shape]`` on every process, from every process's block (one broadcast per block)."""
    import torch.distributed as dist

    whole = torch.empty((block.shape[0], *layout.shape), dtype=block.dtype, device=block.device)
    for r in range(layout.world):
        idx = block_index(layout, r)
        buf = block.contiguous() if r == info.rank else torch.empty(
            (block.shape[0], *(s.stop - s.start for s in idx)), dtype=block.dtype, device=block.device)
        dist.broadcast(buf, src=r)
        whole[(slice(None), *idx)] = buf
    return whole


class SplitRun(_trackers.Run):
    """The solve's trackers seen from one block: rank 0 calls them with the whole grid, every process learns whether
    they stopped the run.

    Whenever a tracker is due (the same steps on every process), the blocks
    are gathered on rank 0 (:func:`gather`), which calls the solve's trackers
    with the whole state ``[C, *shape]`` and its fields by name, as one process
    would; rank 0's answer, stop or go on, is broadcast, so every process
    leaves the time loop at the same step.  The other processes call no
    tracker.
    """

    def __init__(self, inner: _trackers.Run, layout: Layout, info: DistInfo, names: list[tuple[int, str]]) -> None:
        super().__init__(inner.trackers)
        self.inner, self.layout, self.info, self.names = inner, layout, info, names

    def observe(self, state: _trackers.StepState, last: bool = False) -> bool:
        """Gather the blocks, let rank 0's trackers see the whole grid; ``True`` (on every process) when one stopped."""
        import torch.distributed as dist

        block = state.state
        whole = gather(block.unsqueeze(0), self.layout, self.info)[0]
        stop = torch.zeros(1, dtype=torch.float64, device=reduce_device(block))
        if self.info.is_main:
            names = self.names
            seen = _trackers.StepState(state.step, state.total, state.time, state.kind, whole,
                                       converter=lambda: {name: whole[i] for i, name in names})
            stop[0] = float(self.inner.observe(seen, last))
            self.stopped = self.inner.stopped
        dist.broadcast(stop, 0)
        if stop.item() and self.stopped is None:
            self.stopped = {"step": state.step, "time": state.time, "kind": state.kind,
                            "reason": "a tracker on rank 0 stopped the run"}
        return bool(stop.item())


def run_blocks(low, options: dict, info: DistInfo, progress_cb=None, snapshots=None):
    """Integrate ``low`` (lowered on the whole grid) with this process stepping its block: (trajectory, info).

    On rank 0 the trajectory holds the whole grid's snapshots (gathered from
    every block); on the others, the block's.  The solve's trackers run on
    rank 0 with the whole grid (:class:`SplitRun`).
    """
    from .timestep import run_evolution

    layout = make_layout(low, info.world, options.get("blocks"))
    run = _trackers.active()
    names = [(i, c.name) for i, c in enumerate(low.comps) if c.name in low.problem.field_names]
    with _trackers.observing(SplitRun(run, layout, info, names) if run is not None else None):
        traj, run_info = run_evolution(low, options, progress_cb if info.is_main else None, snapshots,
                                       blocks=Blocks(low, layout, info))
    run_info.update(compiled=False, layout=layout.describe())
    traj.states = gather(torch.stack(traj.states), layout, info)
    return traj, run_info


def gather(states: torch.Tensor, layout: Layout, info: DistInfo) -> list[torch.Tensor]:
    """Snapshots ``[S, C, *block]`` of every block assembled on rank 0 into ``[C, *shape]`` per snapshot."""
    import torch.distributed as dist

    if not info.is_main:
        dist.send(states.contiguous(), 0)
        return list(states.unbind(0))
    whole = torch.empty((*states.shape[:2], *layout.shape), dtype=states.dtype, device=states.device)
    whole[(slice(None), slice(None), *block_index(layout, 0))] = states
    for r in range(1, layout.world):
        idx = block_index(layout, r)
        buf = torch.empty((*states.shape[:2], *(s.stop - s.start for s in idx)), dtype=states.dtype,
                          device=states.device)
        dist.recv(buf, r)
        whole[(slice(None), slice(None), *idx)] = buf
    return list(whole.unbind(0))

