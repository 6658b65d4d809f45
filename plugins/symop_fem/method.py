"""The `fem` discretization: P1/P2 Lagrange finite elements.

Lowering: strong form → :class:`~symop_fem.weakform.WeakForm` (symbolic) →
coefficient functions generated with :func:`symop.codegen.generate` →
batched assembly (:mod:`symop_fem.assembly`) → sparse solves.

* steady linear problems: one solve of J u = -R(0) with Dirichlet values lifted;
* steady nonlinear problems: Newton's method with the symbolic Jacobian;
* time-dependent problems ``dt(u) = E``: ``M u' = J u + r(t)`` with the theta
  method (backward Euler, Crank–Nicolson) of :mod:`symop.integrate`; nonlinear
  terms of first order in space go explicit (IMEX, or Lie/Strang splitting with
  the ``split`` option); a nonlinear term of second order in space (a diffusion
  coefficient that depends on the solution) or a coefficient that depends on t
  makes every term implicit, with Newton's method in each step of the theta
  method (:mod:`symop_fem.newton`); ``dt(u, 2) = E`` through the first-order
  system of (u, dt(u)).

A system of fields is one block system: one Lagrange space per field on the
same mesh, the unknowns of the fields one block after another, the residual
and Jacobian blocks of every equation against every field (the coupling), each
field's own Dirichlet, Neumann and Robin data, a block-diagonal mass matrix;
fields of first and second order in time are stepped together.  Periodic sides
of a box identify the dofs of opposite sides (``P^T R(P u)``, ``P^T J P``).
"""

from __future__ import annotations

import time as _time
import warnings
from typing import TYPE_CHECKING, Any, Mapping

from symop.errors import OptionError, SolveError, SymopError
from symop.integrate import SPLITS, get_scheme, scheme_names, split_order
from symop.model.analysis import splitting_caveat
from symop.plugins import Accuracy, Discretization, Option, Program, Refinement

if TYPE_CHECKING:  # pragma: no cover - the options are read without numpy, scipy or torch (`symop plugins`)
    import numpy as np
    import scipy.sparse as sps
    import sympy as sp
    import torch

    from .weakform import NaturalCondition, WeakForm

SOLVERS = ("auto", "direct", "amg", "cg", "gmres")
#: ``solver: auto`` solves a symmetric system of at least this many unknowns in 2D/3D with
#: AMG-CG (Ruge–Stüben for P1, smoothed aggregation for P2: :meth:`FEMProgram.amg_hierarchy`),
#: smaller ones (and 1D, tridiagonal) with sparse LU.  Measured on P1 Poisson
#: (``benchmarks/fem.py``, one thread): LU and AMG-CG are even at about 10 000 unknowns, AMG-CG is
#: 2.5x faster at 62 000 and 5x at 250 000.  Nonsymmetric systems keep the shared rule of
#: :func:`symop.integrate.solve_sparse` (LU below 200 000 unknowns).
AMG_LIMIT = 20_000
#: the iterative solvers stop at a relative residual of ``ALGEBRAIC_FRACTION * (h / L)^(p+1)``
#: (``h`` the mesh size, ``L`` the domain's extent, ``p`` the degree), clipped to
#: [:data:`MIN_TOL`, :data:`MAX_TOL`]: a fraction of the discretization error's own level
#: ``(h/L)^(p+1)``, so the algebraic error stays far below it (tests/test_fem_solver.py checks
#: this at several h) without iterating to 1e-10.
ALGEBRAIC_FRACTION = 1e-2
MIN_TOL, MAX_TOL = 1e-12, 1e-6
#: cells per chunk of the error norms (bounds their memory: a few MiB per array)
NORM_CHUNK = 1 << 16
#: cells per chunk of the assembly: a chunk's geometry, coefficients and element matrices are a few MiB
#: (they stay in cache and their memory is reused) instead of arrays over the whole mesh
ASSEMBLY_CHUNK = 1 << 15
#: the explicit scheme of the reaction sub-flow of each splitting
REACTION_SCHEME = {"lie": "euler", "strang": "rk4"}


class Kernel:
    """Named expressions in (coords, t, U, P) evaluated at points: constants stay floats, and :attr:`source`
    shows them (as assignments) before the generated function of the others."""

    def __init__(self, exprs: Mapping[str, sp.Expr], args: list[sp.Symbol], name: str) -> None:
        import sympy as sp

        from .weakform import WeakFormError

        from symop.codegen import generate
        from symop.writer import language_text

        self.args = args
        self.constants: dict[str, float] = {}
        varying: dict[str, sp.Expr] = {}
        for k, e in exprs.items():
            e = sp.sympify(e)
            if e.free_symbols & set(args):
                varying[k] = e
            else:
                try:
                    self.constants[k] = float(e)
                except TypeError as exc:
                    raise WeakFormError(f"the coefficient `{language_text(e)}` cannot be evaluated: {exc}") from None
        self.names = list(varying)
        self.fn = generate(varying, args, name=name) if varying else None
        self.source = "\n".join(filter(None, [self.constants_source(name), self.fn.source if self.fn else ""]))

    def constants_source(self, name: str) -> str:
        """The outputs that are the same at every point (a source term ``-lap(u) = 22``, the coefficient of a
        Laplacian), which no generated function computes: Python assignments, the zero ones in one comment."""
        if not self.constants:
            return ""
        lines = [f"# {name}: the same at every point (not generated)"]
        lines += [f"{k} = {v!r}" for k, v in self.constants.items() if v != 0.0]
        zero = [k for k, v in self.constants.items() if v == 0.0]
        if zero:
            lines.append("# and 0 for " + ", ".join(zero))
        return "\n".join(lines) + "\n"

    def __call__(self, values: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.constants)
        if self.fn is not None:
            res = self.fn(*values)
            if not isinstance(res, (tuple, list)):
                res = (res,)
            out.update(zip(self.names, res))
        return out


def _is_zero(v) -> bool:
    import torch

    return not isinstance(v, torch.Tensor) and float(v) == 0.0


class FEMProgram(Program):
    """One P1/P2 space per field on a shared mesh; the unknowns of the fields one block after another.

    The dof vector of a system is ``(u_1, ..., u_m)``, field ``a`` at
    ``a*N .. (a+1)*N`` (``N`` dofs per field); residual and Jacobian are the
    block vector and block matrix of every equation tested with its own field's
    basis, the mass matrix block diagonal.
    """

    def __init__(self, problem, options: dict[str, Any]) -> None:
        import sympy as sp

        from .weakform import WeakFormError, derive_all

        self.problem = problem
        self.options = options
        self.device = "cpu"
        self.degree = int(options["degree"])
        self.names = list(problem.field_names)
        name = self.names[0]
        self.name = name
        self.wfs: list[WeakForm] = derive_all(problem)
        self.wf: WeakForm = self.wfs[0]
        d = problem.dimension
        self.d = d
        args = self.wf.arguments
        self.cell_kernels: list[Kernel] = []
        self.facet_kernels: list[tuple[int, NaturalCondition, Kernel]] = []
        for a, wf in enumerate(self.wfs):
            exprs: dict[str, sp.Expr] = {}
            for i in range(d):
                exprs[f"F{i}"] = wf.flux[i]
            exprs["S"] = wf.source
            for b, (U, P) in enumerate(zip(wf.unknowns, wf.gradients)):
                for i in range(d):
                    exprs[f"dF{i}_dU{b}"] = sp.diff(wf.flux[i], U)
                    for j in range(d):
                        exprs[f"dF{i}_dP{b}_{j}"] = sp.diff(wf.flux[i], P[j])
                exprs[f"dS_dU{b}"] = sp.diff(wf.source, U)
                for j in range(d):
                    exprs[f"dS_dP{b}_{j}"] = sp.diff(wf.source, P[j])
            self.cell_kernels.append(Kernel(exprs, args, f"{wf.field}_cell_coefficients"))
            for k, nc in enumerate(wf.natural):
                ker = Kernel({"B": nc.integrand, "dB_dU": sp.diff(nc.integrand, wf.U)}, args,
                             f"{wf.field}_boundary{k}")
                self.facet_kernels.append((a, nc, ker))
        self.cell_kernel = self.cell_kernels[0]
        reason = _time_orders_reason(problem, self.wfs)
        if reason:
            raise WeakFormError(reason[0].upper() + reason[1:] + ".")
        self.linear = all(wf.is_linear() for wf in self.wfs)
        transient = not problem.is_steady
        principal = transient and any(wf.principal_is_nonlinear() for wf in self.wfs)
        timed = transient and any(wf.operator_depends_on_time() for wf in self.wfs)
        #: a nonlinear term of second order in space, or a coefficient in front of an unknown that depends on
        #: time: the whole right-hand side is stepped implicitly, with Newton's method in each step
        #: (:mod:`symop_fem.newton`), instead of a linear part assembled once with IMEX or a splitting
        self.newton_in_time = principal or timed
        split = options.get("split", "none")
        if timed and not self.linear and split != "none":
            raise OptionError("a coefficient in front of the unknown depends on time: fem then steps every term "
                              "implicitly, with Newton's method in each step, which the split option would undo; "
                              "use split: none.")
        scheme = options.get("scheme")
        if self.newton_in_time and scheme is not None and get_scheme(scheme).theta is None:
            raise OptionError(f"fem steps this problem with a theta method and Newton's method in each step; the "
                              f"scheme `{scheme}` is not one: choose backward-euler or crank-nicolson.")
        if principal and split != "none":
            raise OptionError(
                f"the split option puts the nonlinear terms into an explicit reaction sub-step, and "
                f"{_principal_term(problem, self.wfs)} depends on the solution: a nonlinear diffusion, which an "
                "explicit step resolves only at dt ~ h^2; fem steps it implicitly, with Newton's method in each "
                "step: use split: none."
            )
        self.symmetric = self._symmetric()
        self.source = "\n\n".join(
            [k.source for k in self.cell_kernels] + [k.source for _, _, k in self.facet_kernels if k.source]
        ).strip()

    # ----------------------------------------------------------- stages
    def stages(self) -> dict[str, str]:
        return {"weak": "\n\n".join(wf.text(self.degree) for wf in self.wfs), "code": self.source}

    # ----------------------------------------------------------- setup
    def _mesh(self):
        import numpy as np

        from .estimate import check_mesh_size

        dom = self.problem.domain
        n, h = self.options.get("n"), self.options.get("h")
        fields = len(self.names)
        if n is not None:
            if not dom.has_grid:
                raise SymopError("the option `n` (cells per axis) needs a box domain; use `h` for this domain.")
            check_mesh_size(dom, self.degree, n=int(n), fields=fields)
            return dom.grid_mesh((int(n),) * dom.dimension)
        if h is None:
            lo, hi = dom.bounding_box()
            if dom.has_grid:
                return dom.grid_mesh((32,) * dom.dimension)
            h = float(np.max(np.asarray(hi) - np.asarray(lo))) / 32
        check_mesh_size(dom, self.degree, h=float(h), fields=fields)
        return dom.mesh(float(h))

    def _setup(self):
        import numpy as np
        import scipy.sparse as sps
        import sympy as sp
        import torch

        from .assembly import DTYPE, FacetSpace, max_cell_size
        from .dofs import build_dofs, periodic_representatives

        t0 = _time.perf_counter()
        self.mesh = self._mesh()
        self.h = max_cell_size(self.mesh.points, self.mesh.cells)
        self.dofs = build_dofs(self.mesh, self.degree, self.problem.domain)
        p = self.degree
        # the cells' geometry is made chunk by chunk where it is used (residual, mass); kept after the first
        # use only when it will be used again (Newton iterations, time steps)
        self._cell_cache = None
        self._keep_cells = not (self.problem.is_steady and self.linear)
        self.facets = [(a, nc, k, FacetSpace(self.dofs, self.d, nc.parts, 2 * p + 1))
                       for a, nc, k in self.facet_kernels]
        Nf = self.dofs.size
        if self.problem.periodic:
            # a dof on the high side of a periodic axis is the one on the low side: P maps the unknowns
            # (one per class) to every dof, and the system is P^T R(P u), P^T J P
            rep = periodic_representatives(self.dofs, self.problem.domain, self.problem.periodic)
            self.keep, self.index = np.unique(rep, return_inverse=True)
            self.restriction = sps.csr_matrix((np.ones(Nf), (np.arange(Nf), self.index)),
                                              shape=(Nf, len(self.keep)))
        else:
            self.keep = self.index = np.arange(Nf)
            self.restriction = None
        N = len(self.keep)
        self.N = N
        self.size = N * len(self.names)
        dirs = []
        for a, wf in enumerate(self.wfs):
            sides = [s for dc in wf.dirichlet for s in dc.parts]
            dirs.append(np.unique(self.index[self.dofs.side_dofs(sides)]) + a * N)  # periodic copies once
        self.dir_dofs = np.concatenate(dirs).astype(np.int64)
        mask = np.ones(self.size, dtype=bool)
        mask[self.dir_dofs] = False
        self.free = np.flatnonzero(mask)
        self.timing = {"mesh": _time.perf_counter() - t0}
        self.xcoords = torch.as_tensor(self.dofs.coords, dtype=DTYPE)
        t = self.wf.t
        self._g_kernels = [
            (a, dc, Kernel({"g": dc.value, "dg": sp.diff(dc.value, t) if t is not None else 0},
                           self.wf.arguments, f"{wf.field}_dirichlet"))
            for a, wf in enumerate(self.wfs) for dc in wf.dirichlet
        ]
        self._check_data()

    def _check_data(self) -> None:
        """Refuse known data that are not finite where fem evaluates them (:func:`symop.wellposed.check_data`):
        an equation's at the cells' quadrature points, a Dirichlet value at the dofs of its side, a flux or
        Robin datum at the side's facet quadrature points."""
        import numpy as np

        from symop.discrete.elements import Lagrange, quadrature
        from symop.wellposed import check_data

        from .assembly import FacetSpace

        d, q = self.d, 2 * self.degree + 1
        lam, _ = Lagrange(d, 1).eval(quadrature(d, q)[0])
        cells = np.asarray(self.dofs.cells)[:, : d + 1]
        coords = np.asarray(self.dofs.coords, dtype=np.float64)

        def interior(field: str):
            for start in range(0, cells.shape[0], ASSEMBLY_CHUNK):
                yield np.einsum("qk,eka->eqa", lam, coords[cells[start:start + ASSEMBLY_CHUNK]]).reshape(-1, d)

        def boundary(field: str, side: str):
            kinds = {bc.kind for bc in self.problem.conditions_for(field)
                     if side in bc.parts or "all" in bc.parts}
            if "dirichlet" in kinds:
                yield coords[self.dofs.side_dofs([side])]
            if kinds - {"dirichlet"}:
                yield FacetSpace(self.dofs, d, (side,), q).xq.numpy().reshape(-1, d)

        check_data(self.problem, "fem", interior, boundary)

    def block(self, u: np.ndarray, a: int) -> np.ndarray:
        """Field ``a``'s part of a block vector of unknowns."""
        return u[a * self.N:(a + 1) * self.N]

    def dof_values(self, u: np.ndarray, a: int) -> np.ndarray:
        """Field ``a`` at every dof of the mesh (periodic copies included), from a block vector of unknowns."""
        b = self.block(u, a)
        return b if self.restriction is None else b[self.index]

    def _restrict(self, A):
        """``P^T A P`` (a matrix) or ``P^T A`` (a vector) for periodic problems; ``A`` otherwise."""
        import scipy.sparse as sps

        if self.restriction is None or A is None:
            return A
        P = self.restriction
        if sps.issparse(A):
            return (P.T @ A @ P).tocsr()
        return P.T @ A

    def _args(self, xq: torch.Tensor, t: float, values=None) -> list[Any]:
        """Kernel arguments at points ``xq``: coordinates, ``t``, then each field's value and gradient
        (``values``: a list of ``(u, grad u)`` per field, or None for zeros; a gradient may be None)."""
        import torch

        from .assembly import DTYPE

        vals = [xq[..., k] for k in range(self.d)]
        if self.wf.t is not None:
            vals.append(torch.full_like(xq[..., 0], float(t)))
        zero = torch.zeros((), dtype=DTYPE)  # broadcasts against the coordinates
        for a in range(len(self.names)):
            U, G = values[a] if values is not None else (None, None)
            vals.append(U if U is not None else zero)
            for k in range(self.d):
                vals.append(G[..., k] if G is not None else zero)
        return vals

    def dirichlet_values(self, t: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """g and dg/dt at every dof of every field (0 off the Dirichlet parts)."""
        import numpy as np
        import torch

        g = np.zeros(self.size)
        dg = np.zeros(self.size)
        for a, dc, ker in self._g_kernels:
            idx = self.dofs.side_dofs(dc.parts)
            out = ker(self._args(self.xcoords[idx], t))
            for key, arr in (("g", g), ("dg", dg)):
                v = out[key]
                arr[self.index[idx] + a * self.N] = v.numpy() if isinstance(v, torch.Tensor) else float(v)
        return g, dg

    # ----------------------------------------------------------- residual/Jacobian
    def cell_spaces(self):
        """``(start, space)`` for consecutive chunks of :data:`ASSEMBLY_CHUNK` cells: each chunk's
        :class:`~symop_fem.assembly.CellSpace` with the assembly's rule (degree 2p+1).  Made as they are
        used, and kept for the next call when the problem will assemble again (nonlinear or
        time-dependent)."""
        from .assembly import CellSpace
        from .dofs import DofMap

        if self._cell_cache is not None:
            yield from self._cell_cache
            return
        cells = self.dofs.cells
        kept = []
        for start in range(0, cells.shape[0], ASSEMBLY_CHUNK):
            part = DofMap(self.dofs.degree, self.dofs.num_vertices, cells[start:start + ASSEMBLY_CHUNK],
                          self.dofs.coords, curved=self.dofs.curved)
            cs = CellSpace(part, self.d, 2 * self.degree + 1)
            if self._keep_cells:
                kept.append((start, cs))
            yield start, cs
        if self._keep_cells:
            self._cell_cache = kept

    def residual(self, u: np.ndarray | None, t: float = 0.0, jacobian: bool = True):
        """R(u) (each equation's weak form tested with its field's basis functions) and, optionally,
        dR/du, as a block vector and a block sparse matrix (block (a, b): equation a, field b).

        The cells go through in chunks (:meth:`cell_spaces`): each chunk's coefficients, element vectors
        and element matrices are computed on it and summed into each block's vector and
        :class:`~symop_fem.assembly.ElementScatter`, which makes the CSR matrix at the end.  torch runs
        them on one intra-op thread (:func:`~symop_fem.assembly.one_thread`)."""
        import numpy as np
        import scipy.sparse as sps
        import torch

        from .assembly import DTYPE, one_thread

        m = len(self.names)
        n = self.dofs.size
        Fs = [torch.zeros(n, dtype=DTYPE) for _ in range(m)]
        Ks: list[list[Any]] = [[None] * m for _ in range(m)]
        with one_thread():
            for start, cs in self.cell_spaces():
                if u is None:
                    values = None
                else:
                    values = [cs.values(torch.as_tensor(self.dof_values(u, a), dtype=DTYPE)) for a in range(m)]
                args = self._args(cs.xq, t, values)
                self._chunk(start, cs, args, u is None, jacobian, Fs, Ks)
        Rs = [F.numpy() for F in Fs]
        blocks: list[list[Any]] = [[None] * m for _ in range(m)]
        if jacobian:
            for a in range(m):
                for b in range(m):
                    if Ks[a][b] is not None:
                        blocks[a][b] = Ks[a][b].tocsr()
                        Ks[a][b] = None
                    elif a == b:
                        blocks[a][b] = sps.csr_matrix((n, n))
        for a, nc, ker, fs in self.facets:
            uf = None if u is None else [(fs.values(torch.as_tensor(self.dof_values(u, b), dtype=DTYPE)), None)
                                         for b in range(m)]
            out = ker(self._args(fs.xq, t, uf))
            if not _is_zero(out["B"]):
                Rs[a] = Rs[a] + fs.vector(out["B"])
            if jacobian and not _is_zero(out["dB_dU"]):
                blocks[a][a] = blocks[a][a] + fs.matrix(out["dB_dU"])
        R = np.concatenate([self._restrict(r) for r in Rs])
        J = None
        if jacobian:
            blocks = [[self._restrict(blk) for blk in row] for row in blocks]
            J = blocks[0][0] if m == 1 else sps.bmat(blocks, format="csr")
        return R, J

    def _chunk(self, start: int, cs, args, zero: bool, jacobian: bool, Fs: list, Ks: list) -> None:
        """One chunk of cells of :meth:`residual`: its element vectors summed into ``Fs[a]`` and its
        element matrices into ``Ks[a][b]`` (an :class:`~symop_fem.assembly.ElementScatter`, made at the
        first chunk with entries)."""
        import numpy as np
        import torch

        from .assembly import DTYPE, ElementScatter

        m = len(self.names)
        d = self.d
        E, Q = cs.wdet.shape
        cells = cs.cells.reshape(-1)

        def field(v):
            if isinstance(v, torch.Tensor):
                return v.expand(E, Q)
            return torch.full((E, Q), float(v), dtype=DTYPE)

        for a, ker in enumerate(self.cell_kernels):
            c = ker(args)
            F = [c[f"F{i}"] for i in range(d)]
            # F = C grad u vanishes at u = 0
            flux = None if zero or all(_is_zero(f) for f in F) else -torch.stack([field(f) for f in F], dim=-1)
            Fe = cs.element_vectors(f=None if _is_zero(c["S"]) else c["S"], flux=flux)
            Fs[a].index_add_(0, cells, Fe.reshape(-1))
            if not jacobian:
                continue
            for b in range(m):
                Aent = [[c[f"dF{i}_dP{b}_{j}"] for j in range(d)] for i in range(d)]
                if any(isinstance(x, torch.Tensor) for row in Aent for x in row):
                    A = -torch.stack([torch.stack([field(x) for x in row], dim=-1) for row in Aent], dim=-2)
                else:
                    A = -np.array(Aent, dtype=np.float64)
                    if not A.any():
                        A = None
                bent = [c[f"dF{i}_dU{b}"] for i in range(d)]
                bv = None if all(_is_zero(x) for x in bent) else -torch.stack([field(x) for x in bent], dim=-1)
                cent = [c[f"dS_dP{b}_{j}"] for j in range(d)]
                cv = None if all(_is_zero(x) for x in cent) else torch.stack([field(x) for x in cent], dim=-1)
                mv = None if _is_zero(c[f"dS_dU{b}"]) else c[f"dS_dU{b}"]
                k = cs.element_matrices(A=A, b=bv, c=cv, m=mv)
                if k is None:
                    continue
                if Ks[a][b] is None:
                    Ks[a][b] = ElementScatter(self.dofs.cells, self.dofs.size)
                Ks[a][b].add(start, cs.cells, k)

    def mass(self) -> sps.csr_matrix:
        """The block-diagonal mass matrix: one P1/P2 mass matrix per field."""
        import scipy.sparse as sps

        from .assembly import ElementScatter, one_thread

        scatter = ElementScatter(self.dofs.cells, self.dofs.size)
        with one_thread():
            for start, cs in self.cell_spaces():
                scatter.add(start, cs.cells, cs.element_matrices(m=1.0))
        M = self._restrict(scatter.tocsr())
        return M if len(self.names) == 1 else sps.block_diag([M] * len(self.names), format="csr")

    # ----------------------------------------------------------- solving
    def _symmetric(self) -> bool | None:
        """Whether every Jacobian of a one-field problem is symmetric, read off the weak form: the
        flux's derivative in grad u symmetric and ``-dF/du = dS/d(grad u)`` (the convection-like
        terms ``(grad v . b) w + v (c . grad w)`` are symmetric exactly when ``b = c``); boundary terms
        are mass-like.  None for systems (the solver checks the matrix)."""
        import sympy as sp

        from symop.model.analysis import bounded_expand

        if len(self.wfs) != 1:
            return None
        wf = self.wfs[0]
        P = wf.gradients[0]
        d = self.d

        def same(a, b) -> bool:
            return bounded_expand(sp.sympify(a) - sp.sympify(b)) == 0

        for i in range(d):
            for j in range(i + 1, d):
                if not same(sp.diff(wf.flux[i], P[j]), sp.diff(wf.flux[j], P[i])):
                    return False
            if not same(-sp.diff(wf.flux[i], wf.U), sp.diff(wf.source, P[i])):
                return False
        return True

    def solver_choice(self) -> tuple[str, float]:
        """The linear solver ``solver: auto`` resolves to here, and the relative residual of the
        iterative ones: ``ALGEBRAIC_FRACTION (h/L)^(p+1)`` clipped to [MIN_TOL, MAX_TOL]."""
        import numpy as np

        lo, hi = self.problem.domain.bounding_box()
        extent = float(np.max(np.asarray(hi) - np.asarray(lo)))
        tol = ALGEBRAIC_FRACTION * (self.h / extent) ** (self.degree + 1)
        tol = float(min(MAX_TOL, max(MIN_TOL, tol)))
        solver = self.options["solver"]
        if solver == "auto":
            from symop.integrate.linear import AUTO_DIRECT_LIMIT

            n = len(self.free)
            big = n >= AMG_LIMIT if self.symmetric and self.d >= 2 else n >= AUTO_DIRECT_LIMIT
            solver = "amg" if big else "direct"
        return solver, tol

    def _solve(self, A, b, symmetric: bool | None = None, tol: float | None = None):
        """Solve ``A x = b``: SciPy on the CPU, torch CG/BiCGSTAB on the device when it is CUDA.
        ``symmetric``: whether ``A`` is (None: :attr:`symmetric`, that of the problem's Jacobian); ``tol``: the
        iterative solvers' relative residual (None: :meth:`solver_choice`'s)."""
        import numpy as np

        from symop.integrate import solve_sparse

        symmetric = self.symmetric if symmetric is None else symmetric
        solver, steady_tol = self.solver_choice()
        tol = steady_tol if tol is None else tol
        if self.device.startswith("cuda"):
            x = solve_sparse(A, b, solver=solver, device=self.device, tol=tol, symmetric=symmetric)
            return x.detach().cpu().numpy().astype(np.float64, copy=False)
        amg = self.amg_hierarchy() if symmetric else None
        if solver == "amg" and amg == "ruge-stuben":  # P1: direct interpolation first (AMG_HIERARCHIES)
            amg = "ruge-stuben-direct"
        return solve_sparse(A, b, solver=solver, tol=tol, symmetric=symmetric, amg=amg)

    def solver_record(self, solver: str, tol: float) -> str:
        """What ``info["solver"]`` says: the resolved ``solver`` and its relative residual on the CPU; on CUDA,
        where :meth:`_solve` hands every system to torch's Jacobi-preconditioned Krylov methods (there is no
        sparse LU or AMG on the device), the method that solves it."""
        if self.device.startswith("cuda"):
            if solver == "cg" or (self.symmetric and solver != "gmres"):
                krylov = "CG"
            elif self.symmetric is None and solver != "gmres":
                krylov = "CG or BiCGSTAB (by the matrix's symmetry)"
            else:
                krylov = "BiCGSTAB"
            return f"Jacobi-preconditioned {krylov} on {self.device} (relative residual {tol:.1e})"
        return solver if solver == "direct" else f"{solver} (relative residual {tol:.1e})"

    def amg_hierarchy(self) -> str | None:
        """Ruge–Stüben for P1 (an M-matrix on the meshes here: 6 CG iterations on Poisson at 10^6
        unknowns), smoothed aggregation for P2 (classical AMG needs 112 iterations where it needs
        33 at 83 000 unknowns), the solver's own choice for nonsymmetric systems."""
        if not self.symmetric:
            return None
        return "ruge-stuben" if self.degree == 1 else "smoothed-aggregation"

    def _solve_free(self, J: sps.csr_matrix, rhs: np.ndarray) -> np.ndarray:
        """``x`` with ``x = 0`` on the Dirichlet dofs and ``(J x)_f = rhs_f`` on the free ones.

        ``J`` is overwritten (and must not be used afterwards): the Dirichlet rows and columns are
        zeroed and their diagonal set to 1 in place, so the system goes to the solver without a
        copy of the matrix (``J[f][:, f]`` would make two).
        """
        D = self.dir_dofs
        if len(D) == 0:
            return self._solve(J, rhs)
        if not self._eliminate(J, 1.0):  # a Dirichlet dof without a stored diagonal
            return self._scatter(self._solve(J[self.free][:, self.free], rhs[self.free]))
        b = rhs.copy()
        b[D] = 0.0
        x = self._solve(J, b)
        x[D] = 0.0
        return x

    def _eliminate(self, A: sps.csr_matrix, diagonal: float) -> bool:
        """Zero the Dirichlet rows and columns of the CSR matrix ``A`` in place, with ``diagonal`` on their
        diagonal entries; no copy of ``A`` is made.  False (``A`` untouched) when ``diagonal`` is nonzero and a
        Dirichlet dof has no stored diagonal entry to hold it."""
        import numpy as np

        D = self.dir_dofs
        n = A.shape[0]
        fixed = np.zeros(n, dtype=bool)
        fixed[D] = True
        row = np.repeat(np.arange(n, dtype=A.indices.dtype), np.diff(A.indptr))
        kill = fixed[A.indices]
        kill |= fixed[row]
        diag = kill & (row == A.indices)
        del row
        if diagonal != 0.0 and int(np.count_nonzero(diag)) != len(D):
            return False
        A.data[kill] = 0.0
        A.data[diag] = diagonal
        del kill, diag
        A.eliminate_zeros()
        return True

    def transient_tolerance(self, steps: int) -> float:
        """The relative residual of each implicit step's iterative solve: the steady one's
        ``ALGEBRAIC_FRACTION (h/L)^(p+1)`` (:meth:`solver_choice`) over the number of steps, clipped to
        [MIN_TOL, MAX_TOL].  A step's algebraic
        error carries on to the end at most undamped, so ``steps`` of them stay below
        ``ALGEBRAIC_FRACTION (h/L)^(p+1)``, the fraction of the spatial discretization error the steady solve keeps."""
        import numpy as np

        lo, hi = self.problem.domain.bounding_box()
        extent = float(np.max(np.asarray(hi) - np.asarray(lo)))
        tol = ALGEBRAIC_FRACTION * (self.h / extent) ** (self.degree + 1) / max(1, steps)
        return float(min(MAX_TOL, max(MIN_TOL, tol)))

    def _scatter(self, xf: np.ndarray) -> np.ndarray:
        """A vector of all unknowns: ``xf`` on the free ones, 0 on the Dirichlet ones."""
        import numpy as np

        x = np.zeros(self.size)
        x[self.free] = xf
        return x

    def run_steady(self, info: dict) -> np.ndarray:
        from .newton import newton

        g, _ = self.dirichlet_values()
        u = g.copy()
        t0 = _time.perf_counter()
        solver, tol = self.solver_choice()
        info["solver"] = self.solver_record(solver, tol)
        if self.linear:
            r0, J = self.residual(None)
            self.timing["assembly"] = _time.perf_counter() - t0
            rhs = -(r0 + J @ u)
            t1 = _time.perf_counter()
            u += self._solve_free(J, rhs)
            self.timing["solve"] = _time.perf_counter() - t1
            info["newton_iterations"] = 0
            return u
        tol = float(self.options["tol"])
        maxit = int(self.options["maxit"])
        for a, name in enumerate(self.names):
            init = self.problem.initial_for(name)
            if init is not None:
                self.block(u, a)[:] = self._interpolate(init.value, 0.0)
        u[self.dir_dofs] = g[self.dir_dofs]
        # the correction is 0 on the Dirichlet dofs (_solve_free), so they keep their data
        u, history, converged = newton(self.residual, self._solve_free, u, tol, maxit, not_finite=self._not_finite)
        if converged:
            info["newton_iterations"] = len(history)
            info["newton_steps"] = history
            return u
        raise SolveError(
            f"Newton's method did not converge in {maxit} iterations (last relative step {history[-1]:.3g}); "
            "try a finer mesh or more iterations (maxit), or check that the problem has a solution."
        )

    def _not_finite(self, u: np.ndarray, iteration: int) -> SolveError:
        """The sentence for a residual or Jacobian that is not finite at Newton's iterate ``u``."""
        guess = (f"{', '.join(self.names)} = {'their' if len(self.names) > 1 else 'its'} Dirichlet data, "
                 "0 elsewhere")
        when = (f"at Newton's initial guess ({guess})" if iteration == 1
                else f"after {iteration - 1} Newton iteration(s) from the initial guess ({guess})")
        term = self._not_finite_term(u)
        return SolveError(
            f"the residual of the steady problem or its Jacobian is not finite {when}"
            + (f": {term}" if term else "")
            + "; check the equation's scaling, or rewrite it so that its terms and their derivatives stay finite "
            "near the Dirichlet data (Newton's method starts from them)."
        )

    def _not_finite_term(self, u: np.ndarray) -> str | None:
        """The first term of a weak form's source or flux whose value, or derivative in a field's value or
        gradient, is not finite at a quadrature point for the state ``u``: ``"`log(u)` is not finite at x = .."``."""
        import sympy as sp
        import torch

        from symop.writer import language_text

        from .assembly import DTYPE

        back = {}
        for n, U, P in zip(self.names, self.wf.unknowns, self.wf.gradients):
            applied = self.problem.field(n).applied
            back[U] = applied
            back.update({p: sp.Derivative(applied, x) for p, x in zip(P, self.wf.coords)})
        terms = [t for wf in self.wfs for e in (wf.source, *wf.flux) for t in sp.Add.make_args(e) if t != 0]
        for term in terms:
            exprs = {"v": term, **{f"d{k}": sp.diff(term, s) for k, s in enumerate(back)}}
            ker = Kernel(exprs, self.wf.arguments, "term")
            for _, cs in self.cell_spaces():
                values = [cs.values(torch.as_tensor(self.dof_values(u, a), dtype=DTYPE))
                          for a in range(len(self.names))]
                out = ker(self._args(cs.xq, 0.0, values))
                for key, v in out.items():
                    v = torch.as_tensor(v, dtype=DTYPE).expand(cs.xq.shape[:-1])
                    bad = ~torch.isfinite(v)
                    if bool(bad.any()):
                        e, q = (int(i) for i in torch.nonzero(bad)[0])
                        where = ", ".join(f"{x} = {float(cs.xq[e, q, k]):.3g}" for k, x in enumerate(self.wf.coords))
                        what = "is not finite" if key == "v" else "has no finite derivative"
                        return f"`{language_text(term.xreplace(back), self.problem)}` {what} at {where}"
        return None

    def _interpolate(self, expr, t: float) -> np.ndarray:
        """A known expression at the dofs of one field's space."""
        import numpy as np
        import sympy as sp
        import torch

        ker = Kernel({"v": self.problem.numeric(sp.sympify(expr))}, self.wf.arguments, f"{self.name}_interp")
        v = ker(self._args(self.xcoords, t))["v"]
        return v.numpy()[self.keep].copy() if isinstance(v, torch.Tensor) else np.full(self.N, float(v))

    def _initial(self, order: int, T0: float, required: bool) -> np.ndarray:
        """The block vector of ``initial dt(u, order)`` of every field (0 where a field has none)."""
        import numpy as np

        out = np.zeros(self.size)
        for a, name in enumerate(self.names):
            init = self.problem.initial_for(name, order)
            if init is None:
                if required:
                    raise SymopError(f"the time-dependent problem needs `initial {name} = ...`.")
                continue
            self.block(out, a)[:] = self._interpolate(init.value, T0)
        return out

    def run_transient(self, info: dict, progress: bool):
        import math

        import numpy as np
        import scipy.sparse as sps
        import sympy as sp
        import torch

        from .assembly import DTYPE

        from symop.integrate import SparseLinearPart, make_stepper

        problem = self.problem
        T0 = float(problem.time.start)
        f, D = self.free, self.dir_dofs
        u0 = self._initial(0, T0, required=True)
        t0 = _time.perf_counter()
        r0, J = self.residual(None, T0)
        M = self.mass()
        self.timing["assembly"] = _time.perf_counter() - t0
        # the state is every unknown, 0 on the Dirichlet dofs (their values g(t) are added back by `full`): the
        # Dirichlet rows and columns of J and M are eliminated in place (M's diagonal 1 there, so those entries
        # stay 0), instead of copies J[f][:, f], M[f][:, f]; the coupling to the Dirichlet values, the columns
        # J[:, D] and M[:, D] (rows D zeroed), is all that is copied: |D| columns
        keep = np.ones(self.size)
        keep[D] = 0.0
        Jd = sps.diags(keep) @ J[:, D]
        Md = sps.diags(keep) @ M[:, D]
        self._eliminate(J, 0.0)
        if not self._eliminate(M, 1.0):  # a mass matrix without its diagonal stored (not met in practice)
            self._eliminate(M, 0.0)
            M = (M + sps.diags(1.0 - keep)).tocsr()
        nonlinear = not self.linear
        T1 = float(problem.time.end)
        steps = math.ceil((T1 - T0) / float(self.options.get("dt") or (T1 - T0) / 100) - 1e-12)
        tol = self.transient_tolerance(steps)
        info["solver_tolerance"] = tol

        data = []
        for wf in self.wfs:
            at_zero = {s: 0 for s in wf.arguments[len(wf.coords) + 1:]}
            data += [wf.source.xreplace(at_zero)] + [nc.integrand.xreplace(at_zero) for nc in wf.natural]
            data += [dc.value for dc in wf.dirichlet]
        steady_data = not any(sp.sympify(e).has(self.wf.t) for e in data)
        cache: dict[str, torch.Tensor] = {}

        def source(t: float) -> torch.Tensor:
            if steady_data and "s" in cache:  # sources and boundary data constant in time
                return cache["s"]
            r, _ = self.residual(None, t, jacobian=False)
            g, dg = self.dirichlet_values(t)
            s = r + Jd @ g[D] - Md @ dg[D]
            s[D] = 0.0
            s = torch.as_tensor(s, dtype=DTYPE, device=self.device)
            if steady_data:
                cache["s"] = s
            return s

        def full(y: torch.Tensor, t: float) -> np.ndarray:
            g, _ = self.dirichlet_values(t)
            u = g.copy()
            u[f] = y.detach().cpu().numpy()[f]
            return u

        def nonlinear_part(t: float, y: torch.Tensor) -> torch.Tensor:
            # N(u) = R(u) - J0 u - r0: what the linear part leaves out
            u = full(y, t)
            R, _ = self.residual(u, t, jacobian=False)
            if steady_data and "r" in cache:
                r = cache["r"]
            else:
                r, _ = self.residual(None, t, jacobian=False)
                if steady_data:
                    cache["r"] = r
            y = u.copy()
            y[D] = 0.0
            out = R - r - (J @ y + Jd @ u[D])  # J0 u, J0 the Jacobian before the elimination
            out[D] = 0.0
            return torch.as_tensor(out, dtype=DTYPE, device=self.device)

        solver = self.options["solver"]
        scheme = self.options["scheme"]
        split = self.options["split"]
        if any(wf.time_order == 2 for wf in self.wfs):
            return self._run_second_order(info, progress, u0, J, M, Md, source, nonlinear_part, full, nonlinear, tol)
        if self.newton_in_time:
            evaluate = self._implicit_right_side()

            def rhs(t: float, y: np.ndarray, jacobian: bool):
                R, Jt, dg = evaluate(t, y, jacobian)
                return R - Md @ dg[D], Jt

            stepper = self._newton_stepper(M, rhs, self.symmetric, tol)
            y0 = u0.copy()
            y0[D] = 0.0
            y0 = torch.as_tensor(y0, dtype=DTYPE, device=self.device)
            info["scheme"] = f"{scheme} (every term implicit, Newton's method in each step)"
            out = self._integrate(stepper, y0, full, info, progress)
            info["newton_iterations"] = stepper.iterations
            info["newton_most_per_step"] = stepper.most
            return out
        lin = SparseLinearPart(J, shape=self.size, mass=M, solver=solver, tol=tol, symmetric=self.symmetric,
                               amg=self.amg_hierarchy())
        if split != "none" and nonlinear:
            caveat = splitting_caveat(problem)
            if caveat:
                warnings.warn(caveat, stacklevel=2)
                info["caveat"] = caveat
        if not nonlinear:
            stepper = make_stepper(scheme, linear=lin, source=source)
        elif split == "none":
            # the data (sources, Dirichlet values coupled through L) go to the implicit side
            stepper = make_stepper(scheme, linear=lin, source=source, explicit=nonlinear_part)
        else:
            # the reaction sub-flow M y' = N(y), explicit, with the consistent mass matrix
            stepper = make_stepper(scheme, split, linear=lin, source=source,
                                   reaction=lambda t, y: lin.solve_mass(nonlinear_part(t, y)),
                                   reaction_scheme=REACTION_SCHEME[split])
        y0 = u0.copy()
        y0[D] = 0.0
        y0 = torch.as_tensor(y0, dtype=DTYPE, device=self.device)
        if not nonlinear:
            info["scheme"] = scheme
        elif split == "none":  # the nonlinear terms explicit: the scheme's IMEX partner steps
            info["scheme"] = f"{get_scheme(scheme).imex} (IMEX partner of {scheme})"
        else:
            info["scheme"] = f"{split}({scheme}, explicit)"
        return self._integrate(stepper, y0, full, info, progress)

    def _implicit_right_side(self):
        """``evaluate(t, y, jacobian) -> (R, J, g')`` for the Newton steps: the weak form's residual ``R`` at
        the state ``y`` with the Dirichlet values ``g(t)`` added (0 in the Dirichlet rows), its Jacobian with
        the Dirichlet rows and columns zeroed (None unless ``jacobian``) and ``g'(t)`` at every dof."""
        D, f = self.dir_dofs, self.free

        def evaluate(t: float, y: np.ndarray, jacobian: bool):
            g, dg = self.dirichlet_values(t)
            u = g.copy()
            u[f] = y[f]
            R, Jt = self.residual(u, t, jacobian=jacobian)
            R[D] = 0.0
            if Jt is not None and not self._eliminate(Jt, 0.0):  # (a Dirichlet dof without a stored diagonal)
                Jt = self._zero_dirichlet(Jt)
            return R, Jt, dg

        return evaluate

    def _zero_dirichlet(self, A):
        """``A`` with its Dirichlet rows and columns zeroed (a copy)."""
        import numpy as np
        import scipy.sparse as sps

        keep = np.ones(A.shape[0])
        keep[self.dir_dofs] = 0.0
        K = sps.diags(keep)
        return (K @ A @ K).tocsr()

    def _newton_stepper(self, mass, rhs, symmetric: bool | None, tol: float):
        """The theta method of ``scheme`` for ``mass y' = rhs(t, y)`` with Newton's method in each step
        (:class:`~symop_fem.newton.NewtonTheta`; the options ``tol`` and ``maxit`` bound Newton)."""
        from .newton import NewtonTheta

        entry = get_scheme(self.options["scheme"])  # a theta scheme (checked when the problem was lowered)
        return NewtonTheta(mass, rhs, lambda A, b: self._solve(A, b, symmetric=symmetric, tol=tol), entry.theta,
                           entry.name, entry.order, tol=float(self.options["tol"]), maxit=int(self.options["maxit"]))

    def _vertex_fields(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """Each field's values at the mesh vertices, from a block dof vector."""
        nv = self.dofs.num_vertices
        return {name: self.dof_values(u, a)[:nv] for a, name in enumerate(self.names)}

    def _integrate(self, stepper, y0: torch.Tensor, full, info: dict, progress: bool):
        """Step ``y0`` from the start to the end of the time interval; the states as full dof vectors."""
        from symop.evaluation import snapshot_times
        from symop.integrate import integrate

        T0, T1 = float(self.problem.time.start), float(self.problem.time.end)
        dt = self.options.get("dt") or (T1 - T0) / 100
        save = snapshot_times(self.options.get("save"), 8 * self.size, T0, T1, float(dt))
        cb = None
        if progress:
            def cb(k, n, t):
                if k == n or k % max(1, n // 10) == 0:
                    print(f"  step {k}/{n}  t = {t:.4g}")
        t1 = _time.perf_counter()
        traj = integrate(stepper, y0, T0, T1, float(dt), save_times=save, progress=cb,
                         fields=lambda t, y: self._vertex_fields(full(y, t)))
        self.timing["time_stepping"] = _time.perf_counter() - t1
        info["steps"] = traj.steps
        info["dt"] = traj.dt
        states = [full(s, tt) for s, tt in zip(traj.states, traj.times)]
        return states[-1], traj.times, states

    def _run_second_order(self, info: dict, progress: bool, u0: np.ndarray, J, M, Md, source, nonlinear_part, full,
                          nonlinear: bool, tol: float):
        r"""``M dt(u, k_a) = R_a(u, t)`` (``k_a`` 1 or 2 per field) as one first-order system.

        ``J`` and ``M`` come with their Dirichlet rows and columns eliminated (``M``'s diagonal 1 there),
        ``Md`` is ``M[:, D]`` with the rows ``D`` zeroed.  The state is ``(u, w)``: every unknown (0 on
        the Dirichlet dofs, whose values ``full`` adds), then the velocities ``w = dt(u)`` of the
        dofs ``f2`` of the fields of second order in time (0 on their Dirichlet dofs).  With
        ``D_1``/``D_2`` the diagonal selectors of the dofs of first-/second-order fields and ``S_2``
        the rows ``f2`` (the index ``f`` below is every unknown),

        .. math::

            \begin{pmatrix} D_1 M_{ff} + D_2 & 0 \\ 0 & M_{22} \end{pmatrix}
            \begin{pmatrix} u_f \\ w \end{pmatrix}'
            = \begin{pmatrix} D_1 J_{ff} & S_2^T \\ S_2 J_{ff} & 0 \end{pmatrix}
              \begin{pmatrix} u_f \\ w \end{pmatrix}
            + \begin{pmatrix} D_1 (s + N) \\ S_2 (s' + N) \end{pmatrix},

        with ``s`` the data of the first-order case and ``s'`` the same except
        that the Dirichlet values enter through ``M_fd g''`` (not ``M_fd g'``).
        One field of second order is the classical system of (u, dt(u)).  The
        registered implicit scheme steps the block system (Crank–Nicolson
        conserves the discrete energy of the undamped wave and is of order 2; its
        IMEX partner takes N explicitly).
        """
        import numpy as np
        import scipy.sparse as sps
        import torch

        from .assembly import DTYPE

        from symop.integrate import SparseLinearPart, make_stepper

        D = self.dir_dofs
        n = self.size
        if self.options["split"] != "none":
            raise OptionError("fem splits nonlinear terms only in equations first order in time; the equation has "
                              "dt(u, 2): use split: none.")
        T0 = float(self.problem.time.start)
        order = np.concatenate([np.full(self.N, wf.time_order) for wf in self.wfs])
        second = np.flatnonzero(order == 2)  # the second-order fields' dofs
        m = len(second)
        first = (order == 1).astype(np.float64)
        v0 = self._initial(1, T0, required=False)
        v0[D] = 0.0
        u0 = u0.copy()
        u0[D] = 0.0
        D1 = sps.diags(first, format="csr")
        D2 = sps.diags(1.0 - first, format="csr")
        S2 = sps.csr_matrix((np.ones(m), (np.arange(m), second)), shape=(m, n))
        L = sps.bmat([[D1 @ J, S2.T], [S2 @ J, None]], format="csr")
        mass = sps.block_diag([D1 @ M + D2, S2 @ M @ S2.T], format="csr")
        lin = SparseLinearPart(L, shape=n + m, mass=mass, solver=self.options["solver"], tol=tol)
        ddg = self._dirichlet_acceleration()
        sel1 = torch.as_tensor(first, dtype=DTYPE, device=self.device)
        idx2 = torch.as_tensor(second, device=self.device)

        def source2(t: float) -> torch.Tensor:
            # source(t) holds r + J_fd g - M_fd g'; the second-order rows need - M_fd g'' instead
            _, dg = self.dirichlet_values(t)
            s = source(t)
            s2 = s + torch.as_tensor(Md @ (dg[D] - ddg(t)[D]), dtype=DTYPE, device=self.device)
            return torch.cat([sel1 * s, s2[idx2]])

        def nonlinear2(t: float, y: torch.Tensor) -> torch.Tensor:
            N = nonlinear_part(t, y[:n])
            return torch.cat([sel1 * N, N[idx2]])

        def full2(y: torch.Tensor, t: float) -> np.ndarray:
            return full(y[:n], t)

        scheme = self.options["scheme"]
        if self.newton_in_time:
            evaluate = self._implicit_right_side()

            def rhs2(t: float, y: np.ndarray, jacobian: bool):
                R, Jt, dg = evaluate(t, y[:n], jacobian)
                top = first * (R - Md @ dg[D]) + S2.T @ y[n:]
                bottom = S2 @ (R - Md @ ddg(t)[D])
                Jy = sps.bmat([[D1 @ Jt, S2.T], [S2 @ Jt, None]], format="csr") if jacobian else None
                return np.concatenate([top, bottom]), Jy

            stepper = self._newton_stepper(mass, rhs2, False, tol)
            y0 = torch.as_tensor(np.concatenate([u0, v0[second]]), dtype=DTYPE, device=self.device)
            info["scheme"] = f"{scheme} (every term implicit, Newton's method in each step), first-order " \
                             "system in u, dt(u)"
            out = self._integrate(stepper, y0, full2, info, progress)
            info["newton_iterations"] = stepper.iterations
            info["newton_most_per_step"] = stepper.most
            return out
        if nonlinear:
            stepper = make_stepper(scheme, linear=lin, source=source2, explicit=nonlinear2)
        else:
            stepper = make_stepper(scheme, linear=lin, source=source2)
        y0 = torch.as_tensor(np.concatenate([u0, v0[second]]), dtype=DTYPE, device=self.device)
        used = f"{get_scheme(scheme).imex} (IMEX partner of {scheme})" if nonlinear else scheme
        info["scheme"] = f"{used}, first-order system in u, dt(u)"
        return self._integrate(stepper, y0, full2, info, progress)

    def _dirichlet_acceleration(self):
        """``t -> g''(t)`` at every dof of every field (0 off the Dirichlet parts): the second-order data of
        the Dirichlet values."""
        import numpy as np
        import sympy as sp
        import torch

        t = self.wf.t
        kernels = [(a, dc, Kernel({"ddg": sp.diff(dc.value, t, 2)}, self.wf.arguments, f"{wf.field}_dirichlet_acc"))
                   for a, wf in enumerate(self.wfs) for dc in wf.dirichlet]

        def ddg(time: float) -> np.ndarray:
            out = np.zeros(self.size)
            for a, dc, ker in kernels:
                idx = self.dofs.side_dofs(dc.parts)
                v = ker(self._args(self.xcoords[idx], time))["ddg"]
                out[self.index[idx] + a * self.N] = v.numpy() if isinstance(v, torch.Tensor) else float(v)
            return out

        return ddg

    # ----------------------------------------------------------- errors
    def norms(self, u: np.ndarray, t: float | None) -> dict[str, dict[str, float]]:
        r"""L2 and H1 errors (absolute and relative) of every field with an `exact` line.

        On a cell the error of a degree-``p`` element is, to leading order, a polynomial of
        degree ``p+1`` (the exact solution's Taylor part of that degree minus its interpolant), so
        :math:`(u - u_h)^2` is integrated with a rule exact for degree ``2(p+1)`` and
        :math:`|\nabla(u - u_h)|^2` with one exact for degree ``2p``: what the quadrature misses is
        of higher order in h than the error itself (a rule one degree lower misses a fixed
        fraction, about 2% of the L2 error of P1).  The cells go through in chunks, so memory stays
        bounded by the chunk, not the mesh; torch runs them on one intra-op thread
        (:func:`~symop_fem.assembly.one_thread`).
        """
        from .assembly import one_thread

        with one_thread():
            return self._norms(u, t)

    def _norms(self, u: np.ndarray, t: float | None) -> dict[str, dict[str, float]]:
        """:meth:`norms`, on torch's current threads."""
        import numpy as np
        import sympy as sp
        import torch

        from .assembly import CellSpace, DTYPE, gather
        from .dofs import DofMap

        out: dict[str, dict[str, float]] = {}
        p, d = self.degree, self.d
        cells = self.dofs.cells
        chunk = NORM_CHUNK
        for a, name in enumerate(self.names):
            exact = self.problem.exact.get(name)
            if exact is None:
                continue
            ex = self.problem.numeric(sp.sympify(exact))
            ker_u = Kernel({"u": ex}, self.wf.arguments, f"{name}_exact")
            ker_g = Kernel({f"g{k}": sp.diff(ex, c) for k, c in enumerate(self.wf.coords)}, self.wf.arguments,
                           f"{name}_exact_gradient")
            values = torch.as_tensor(self.dof_values(u, a), dtype=DTYPE)
            sums = np.zeros(4)  # |e|^2, |u|^2, |grad e|^2, |grad u|^2
            for start in range(0, cells.shape[0], chunk):
                part = DofMap(self.dofs.degree, self.dofs.num_vertices, cells[start:start + chunk],
                              self.dofs.coords, curved=self.dofs.curved)
                cs = CellSpace(part, d, 2 * (p + 1))
                uq = gather(values, cs.cells) @ cs.phi.T  # (E, Q)
                ue = ker_u(self._args(cs.xq, t or 0.0))["u"]
                ue = ue if isinstance(ue, torch.Tensor) else torch.full_like(uq, float(ue))
                uq -= ue
                sums[0] += float(torch.einsum("eq,eq->", cs.wdet, uq * uq))
                sums[1] += float(torch.einsum("eq,eq->", cs.wdet, ue * ue))
                cs = CellSpace(part, d, max(1, 2 * p), geometry=cs)  # the same affine Jacobians
                _, gq = cs.values(values)  # (E, Q or 1, d)
                res = ker_g(self._args(cs.xq, t or 0.0))
                e2 = g2 = 0.0
                for k in range(d):  # component by component: a sum over a last axis of size d is slow
                    ge = res[f"g{k}"]
                    ge = ge if isinstance(ge, torch.Tensor) else torch.full_like(cs.wdet, float(ge))
                    diff = gq[..., k] - ge
                    e2 = e2 + diff * diff
                    g2 = g2 + ge * ge
                sums[2] += float(torch.einsum("eq,eq->", cs.wdet, e2.expand(cs.wdet.shape)))
                sums[3] += float(torch.einsum("eq,eq->", cs.wdet, g2.expand(cs.wdet.shape)))
            l2, l2e, h1, h1e = np.sqrt(sums)
            out[name] = {
                "l2": float(l2),
                "rel_l2": float(l2 / l2e) if l2e > 0 else float(l2),
                "h1": float(h1),
                "rel_h1": float(h1 / h1e) if h1e > 0 else float(h1),
            }
        return out

    # ----------------------------------------------------------- run
    def run(self, device: str = "cpu", progress: bool = False):
        """Solve; on the CPU torch's part (assembly, error norms: a few large einsums and element-wise passes
        between SciPy's single-threaded solves) runs on one intra-op thread.  At 10^6 P1 unknowns on 2 shared
        cores two threads raised the whole run's CPU time from 6.7 to 10.5 s and its wall time from 12.4 to
        17.3 s (benchmarks/RESULTS.md, fem): torch's OpenMP workers spin-wait between those operations."""
        from symop.threads import intra_op_threads

        with intra_op_threads(None if str(device).startswith("cuda") else 1):
            return self._run(device, progress)

    def _run(self, device: str, progress: bool):
        import numpy as np

        from symop.solution import Solution

        start = _time.perf_counter()
        # assembly stays on the CPU (SciPy matrices); the solves and the time stepping run on `device`
        self.device = str(device)
        self._setup()
        info: dict[str, Any] = {
            "degree": self.degree,
            "dofs": self.size,
            "cells": self.mesh.num_cells,
            "h": self.h,
            "isoparametric": bool(self.dofs.curved),
            "linear": self.linear,
        }
        nv = self.dofs.num_vertices
        p2 = self.dofs.size > nv
        times = history = dof_history = None
        if self.problem.is_steady:
            u = self.run_steady(info)
            t = None
        else:
            u, tlist, states = self.run_transient(info, progress)
            t = float(tlist[-1])  # the end time, or where a tracker stopped the run
            if len(tlist) > 2 or int(self.options.get("save") or 0) >= 2:
                times = np.asarray(tlist)
                history = {name: np.stack([self.dof_values(s, a)[:nv] for s in states])
                           for a, name in enumerate(self.names)}
                if p2:
                    dof_history = {name: np.stack([self.dof_values(s, a) for s in states])
                                   for a, name in enumerate(self.names)}
        info["timing"] = dict(self.timing)
        self.u = u
        norms = self.norms(u, t)
        from symop.interpolate import SimplexInterpolant

        # evaluation uses every dof: the P2 edge values too, on the curved (isoparametric) cells where they are
        interpolant = SimplexInterpolant(self.mesh.points, self.mesh.cells, self.degree, self.dofs.cells,
                                         self.dofs.coords)
        return Solution(
            problem=self.problem, method="fem", options=dict(self.options), geometry=self.mesh,
            fields=self._vertex_fields(u), time=t, times=times, history=history, device=self.device,
            wall_time=_time.perf_counter() - start, info=info, norms=norms or None, interpolant=interpolant,
            dofs={name: self.dof_values(u, a) for a, name in enumerate(self.names)} if p2 else None,
            dof_history=dof_history,
        )


def _principal_term(problem, forms: list[WeakForm]) -> str:
    """The first coefficient of second derivatives that depends on a field, in words: "the coefficient
    `0.1 + u^2` of the second derivatives in the equation of `u`"."""
    import sympy as sp

    from symop.writer import language_text

    for wf in forms:
        back = {U: problem.field(n).applied for n, U in zip(wf.fields, wf.unknowns)}
        for f in wf.flux:
            for P in wf.gradients:
                for p in P:
                    c = sp.diff(f, p)
                    if c.free_symbols & set(wf.unknowns):
                        return (f"the coefficient `{language_text(c.xreplace(back), problem)}` of the second "
                                f"derivatives in the equation of `{wf.field}`")
    return "a coefficient of the second derivatives"


def _time_orders_reason(problem, forms: list[WeakForm]) -> str | None:
    """Why the fields' time orders do not make one system fem can step (a field with no time
    derivative in a time-dependent problem is an algebraic constraint), or None."""
    if problem.is_steady:
        return None
    still = [wf.field for wf in forms if wf.time_order == 0]
    if still:
        return (f"the fem method steps every field of a time-dependent problem in time; the equation of "
                f"`{still[0]}` has no time derivative (a constraint, not supported)")
    return None


class FiniteElements(Discretization):
    name = "fem"
    description = "Lagrange P1/P2 finite elements on simplicial meshes (weak form derived symbolically)"

    def accuracy(self, options: Mapping[str, Any]) -> Accuracy:
        """degree + 1 in h (L2 norm: P1 2, P2 3); in dt the registered order of ``scheme``, capped
        by the splitting of nonlinear terms and its explicit reaction sub-flow."""
        time = get_scheme(options["scheme"]).order
        if options["split"] != "none":
            time = split_order(options["split"], time, get_scheme(REACTION_SCHEME[options["split"]]).order)
        return Accuracy(space=int(options["degree"]) + 1, time=time)

    def refinement_for(self, problem, options: Mapping[str, Any]) -> Refinement:
        """Cells per axis ``n`` on a domain with a structured grid unless ``h`` is given, else the mesh
        size ``h``; the time step ``dt``."""
        if options.get("h") is not None or (options.get("n") is None and not problem.domain.has_grid):
            return Refinement(size="h", step="dt")
        return Refinement(cells="n", step="dt")

    @property
    def options(self) -> tuple[Option, ...]:
        """The options; ``scheme`` offers the registered implicit time schemes (:mod:`symop.integrate.schemes`)."""
        return (
            Option("degree", int, 1, "polynomial degree of the Lagrange elements", (1, 2)),
            Option("h", float, None, "mesh size (default: 1/32 of the domain's extent)", minimum=0, exclusive=True),
            Option("n", int, None, "cells per axis on a box (structured mesh)", minimum=1),
            Option("solver", str, "auto", "linear solver: direct (sparse LU), amg (CG/GMRES + pyamg), auto "
                   "(AMG-CG for symmetric 2D/3D systems from 20,000 unknowns, to a residual tied to h^(p+1); "
                   "LU below)", SOLVERS),
            Option("scheme", str, "crank-nicolson", "time scheme", scheme_names("implicit"), time_dependent=True),
            Option("dt", float, None, "time step (default: 1/100 of the time interval)", minimum=0, exclusive=True,
                   time_dependent=True),
            Option("split", str, "none", "nonlinear terms: none (IMEX) or Lie/Strang splitting", SPLITS,
                   time_dependent=True),
            Option("tol", float, 1e-10, "Newton tolerance (relative step)", minimum=0, exclusive=True),
            Option("maxit", int, 30, "maximum Newton iterations", minimum=1),
            Option("save", int, None, "snapshots kept from t0 to the end: N equally spaced times; default 21 "
                   "of the steps, about equally spaced (fewer past 256 MiB); 0: the final state only", minimum=0,
                   time_dependent=True),
        )

    def accepts(self, problem) -> str | None:
        from symop.wellposed import constant_refusal

        from .weakform import derive_all

        if problem.space.is_indexed:
            return "the fem method needs named coordinates (x, y, z), not an indexed space"
        dom = problem.domain
        if problem.dimension > 3:
            return "the fem method meshes domains of dimension 1 to 3"
        reason = dom.mesh_reason()
        if reason:
            return f"the fem method cannot mesh {dom.describe()}: {reason}"
        try:
            forms = derive_all(problem)
        except SymopError as exc:
            return str(exc)
        return _time_orders_reason(problem, forms) or constant_refusal(problem, "the fem method")

    def lower(self, problem, options: Mapping[str, Any]) -> Program:
        if options.get("n") is not None and options.get("h") is not None:
            raise OptionError("give fem's mesh by `n` (cells per axis on a box) or by `h` (mesh size), not both: "
                              "with both, n would decide and h be dropped.")
        return FEMProgram(problem, dict(options))
