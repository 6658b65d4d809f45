"""Sparse linear operators and linear solvers shared by FD and FEM.

A :class:`LinearPart` represents the linear pieces of ``M u' = L u + N(t, u)``:
the stiffness-like operator ``L`` and the mass matrix ``M`` (identity for
finite differences).  Implicit schemes only need three things from it:

* ``matvec(u)``            = L u
* ``apply_mass(u)``        = M u
* ``solve_shifted(a, r)``  = x with (M - a L) x = r

The state is a tensor of any shape; the operators act on its flattened view.
On the CPU the work is done by SciPy (sparse LU or pyamg-preconditioned Krylov
methods); on CUDA by torch sparse CSR matrices and the Jacobi-preconditioned
Krylov methods :func:`torch_cg` and :func:`torch_bicgstab` below.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from symop.errors import SolveError

from .explicit import IntegratorError, NonFiniteStage

#: "direct": sparse LU; "amg": CG (symmetric) or GMRES with a pyamg preconditioner;
#: "cg" / "gmres": that Krylov method with the pyamg preconditioner; "auto": see below.
SOLVERS = ("auto", "direct", "amg", "cg", "gmres")
#: the pyamg hierarchies the iterative solvers precondition with
AMG_HIERARCHIES = ("ruge-stuben", "ruge-stuben-direct", "smoothed-aggregation")
#: "auto" picks the direct solver below this many unknowns, AMG above.
AUTO_DIRECT_LIMIT = 200_000
_CACHE_SIZE = 4

Operator = Any  # torch sparse/dense matrix or callable x -> A x


# ---------------------------------------------------------------------------
# torch Krylov solvers


def _as_matvec(A: Operator) -> Callable[[torch.Tensor], torch.Tensor]:
    if callable(A) and not isinstance(A, torch.Tensor):
        return A
    if A.layout == torch.strided:
        return lambda x: A @ x
    return lambda x: (A @ x.unsqueeze(-1)).squeeze(-1)


def _diagonal(A: Operator) -> torch.Tensor | None:
    """The diagonal of a torch matrix (dense or sparse); None for a callable."""
    if callable(A) and not isinstance(A, torch.Tensor):
        return None
    if A.layout == torch.strided:
        return torch.diagonal(A).clone()
    if A.layout == torch.sparse_csr:
        crow = A.crow_indices()
        col = A.col_indices()
        vals = A.values()
        rows = torch.repeat_interleave(
            torch.arange(A.shape[0], device=A.device), crow[1:] - crow[:-1]
        )
    else:
        C = A.coalesce()
        rows, col = C.indices()
        vals = C.values()
    mask = rows == col
    d = torch.zeros(A.shape[0], dtype=A.dtype, device=A.device)
    d.index_add_(0, rows[mask], vals[mask])
    return d


def _jacobi(A: Operator, precondition: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    d = _diagonal(A) if precondition else None
    if d is None:
        return lambda r: r
    d = torch.where(d == 0, torch.ones_like(d), d)
    inv = 1.0 / d
    return lambda r: inv * r


def _default_tol(dtype: torch.dtype, tol: float | None) -> float:
    if tol is not None:
        return tol
    return max(1e-10, 50 * torch.finfo(dtype).eps)


def _krylov_setup(A, b: torch.Tensor, x0, tol, maxiter, precondition: bool):
    """What CG and BiCGSTAB both start from: ``(matvec, preconditioner, x0, tol, maxiter, ||b||)``.

    None when ``b`` is zero (the solution is zero).
    """
    bnorm = torch.linalg.vector_norm(b)
    if float(bnorm) == 0:
        return None
    maxiter = maxiter or max(10 * b.shape[0], 100)
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    return _as_matvec(A), _jacobi(A, precondition), x, _default_tol(b.dtype, tol), maxiter, bnorm


def torch_cg(
    A: Operator,
    b: torch.Tensor,
    x0: torch.Tensor | None = None,
    *,
    tol: float | None = None,
    maxiter: int | None = None,
    precondition: bool = True,
) -> torch.Tensor:
    """Jacobi-preconditioned conjugate gradients for SPD ``A x = b`` (1-D ``b``).

    ``A`` is a torch dense or sparse (CSR/COO) matrix, or a callable ``x -> A x``.
    With z = D^{-1} r (D = diag A):

        alpha_k = (r_k, z_k) / (p_k, A p_k)
        x_{k+1} = x_k + alpha_k p_k,   r_{k+1} = r_k - alpha_k A p_k
        beta_k  = (r_{k+1}, z_{k+1}) / (r_k, z_k),  p_{k+1} = z_{k+1} + beta_k p_k

    Stops when ||r|| <= tol ||b||; raises :class:`SolveError` with the residual
    reached otherwise.
    """
    setup = _krylov_setup(A, b, x0, tol, maxiter, precondition)
    if setup is None:
        return torch.zeros_like(b)
    mv, prec, x, tol, maxiter, bnorm = setup
    r = b - mv(x) if x0 is not None else b.clone()
    z = prec(r)
    p = z.clone()
    rz = torch.vdot(r, z)
    target = tol * float(bnorm)
    iters = 0
    for iters in range(maxiter + 1):
        # a single device->host sync per iteration; a breakdown (p.Ap = 0)
        # shows up as a non-finite residual one iteration later
        rn = float(torch.linalg.vector_norm(r))
        if rn <= target:
            return x
        if not np.isfinite(rn) or iters == maxiter:
            break
        Ap = mv(p)
        alpha = rz / torch.vdot(p, Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        z = prec(r)
        rz_new = torch.vdot(r, z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    if not bool(torch.isfinite(x).all()):  # breakdown: report the last finite iterate
        x = x0.clone() if x0 is not None else torch.zeros_like(b)
    res = float(torch.linalg.vector_norm(b - mv(x)) / bnorm)
    if res <= tol:
        return x
    raise SolveError(
        f"conjugate gradients did not converge: relative residual {res:.3g} "
        f"after {iters} iterations (tolerance {tol:.3g}); is the matrix symmetric positive definite?"
    )


def torch_bicgstab(
    A: Operator,
    b: torch.Tensor,
    x0: torch.Tensor | None = None,
    *,
    tol: float | None = None,
    maxiter: int | None = None,
    precondition: bool = True,
) -> torch.Tensor:
    """Jacobi-preconditioned BiCGSTAB for a general (nonsymmetric) ``A x = b``.

    Right-preconditioned van der Vorst iteration with K = diag(A):

        rho_k = (r^, r_k),  beta = (rho_k/rho_{k-1}) (alpha/omega)
        p = r + beta (p - omega v),  v = A K^{-1} p,  alpha = rho_k / (r^, v)
        s = r - alpha v,  t = A K^{-1} s,  omega = (t, s) / (t, t)
        x += alpha K^{-1} p + omega K^{-1} s,  r = s - omega t

    Stops when ||r|| <= tol ||b||; raises :class:`SolveError` otherwise.
    """
    setup = _krylov_setup(A, b, x0, tol, maxiter, precondition)
    if setup is None:
        return torch.zeros_like(b)
    mv, prec, x, tol, maxiter, bnorm = setup
    r = b - mv(x)
    r_hat = r.clone()
    rho_old = alpha = omega = torch.ones((), dtype=b.dtype, device=b.device)
    v = torch.zeros_like(b)
    p = torch.zeros_like(b)
    target = tol * float(bnorm)
    iters = 0
    for iters in range(maxiter + 1):
        # two device->host syncs per iteration (the residuals r and s);
        # breakdowns (rho, (r^, v) or (t, t) = 0) surface as non-finite values
        rn = float(torch.linalg.vector_norm(r))
        if rn <= target:
            return x
        if not np.isfinite(rn) or iters == maxiter:
            break
        rho = torch.vdot(r_hat, r)
        beta = (rho / rho_old) * (alpha / omega)
        p = r + beta * (p - omega * v)
        y = prec(p)
        v = mv(y)
        alpha = rho / torch.vdot(r_hat, v)
        s = r - alpha * v
        sn = float(torch.linalg.vector_norm(s))
        if sn <= target:
            return x + alpha * y
        if not np.isfinite(sn):
            break
        z = prec(s)
        tt = mv(z)
        omega = torch.vdot(tt, s) / torch.vdot(tt, tt)
        x = x + alpha * y + omega * z
        r = s - omega * tt
        rho_old = rho
    if not bool(torch.isfinite(x).all()):
        x = x0.clone() if x0 is not None else torch.zeros_like(b)
    res = float(torch.linalg.vector_norm(b - mv(x)) / bnorm)
    if res <= tol:
        return x
    raise SolveError(
        f"BiCGSTAB did not converge: relative residual {res:.3g} "
        f"(tolerance {tol:.3g}) after {iters} iterations"
    )


# ---------------------------------------------------------------------------
# scipy helpers


def _check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise IntegratorError(
            f"unknown linear solver `{solver}`; choose one of: {', '.join(SOLVERS)}"
        )
    return solver


def _is_symmetric(A: sp.spmatrix, rtol: float = 1e-12) -> bool:
    if A.shape[0] != A.shape[1]:
        return False
    diff = abs(A - A.T)
    scale = abs(A).max() if A.nnz else 0.0
    return diff.nnz == 0 or diff.max() <= rtol * max(scale, 1e-300)


def _to_torch_csr(A: sp.spmatrix, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    C = sp.csr_matrix(A)
    C.sum_duplicates()
    C.sort_indices()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        return torch.sparse_csr_tensor(
            torch.as_tensor(C.indptr, dtype=torch.int64),
            torch.as_tensor(C.indices, dtype=torch.int64),
            torch.as_tensor(C.data),
            size=C.shape,
        ).to(device=device, dtype=dtype)


def _krylov(method: Callable, A: Any, b: np.ndarray, tol: float, **kw: Any) -> np.ndarray:
    """Call a SciPy Krylov solver with relative tolerance ``tol`` (``rtol`` since SciPy 1.12)."""
    try:
        x, _info = method(A, b, rtol=tol, atol=0.0, **kw)
    except TypeError:  # SciPy < 1.12
        x, _info = method(A, b, tol=tol, atol=0.0, **kw)
    return x


# ---------------------------------------------------------------------------
# AMG and CG building blocks


class VCycle:
    """One V-cycle of a pyamg hierarchy ``ml`` from ``x = 0``, as a preconditioner: ``M.matvec(b)``.

    The same operations as ``ml.aspreconditioner(cycle="V")`` (pre-smoothing, restriction of the
    residual, the coarser levels, prolongation, post-smoothing; the coarse solver on the last level),
    without what pyamg's ``solve`` adds around the cycle when it is used as a preconditioner: the norm of
    ``b`` and of the residual before and after, which cost two products with the finest matrix and
    three BLAS dot products per application (a quarter of the CG time at 10^6 P1 unknowns).
    """

    def __init__(self, ml) -> None:
        self.ml = ml
        self.shape = ml.levels[0].A.shape

    def matvec(self, b: np.ndarray) -> np.ndarray:
        levels = self.ml.levels
        if len(levels) == 1:
            return np.asarray(self.ml.coarse_solver(levels[0].A, b)).reshape(b.shape)
        x = np.zeros_like(b)
        self._cycle(0, x, b)
        return x

    def _cycle(self, lvl: int, x: np.ndarray, b: np.ndarray) -> None:
        levels = self.ml.levels
        level = levels[lvl]
        A = level.A
        level.presmoother(A, x, b)
        coarse_b = level.R @ (b - A @ x)
        coarse_x = np.zeros_like(coarse_b)
        if lvl == len(levels) - 2:
            coarse_x[:] = self.ml.coarse_solver(levels[-1].A, coarse_b)
        else:
            self._cycle(lvl + 1, coarse_x, coarse_b)
        x += level.P @ coarse_x
        level.postsmoother(A, x, b)


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a . b`` on this thread: NumPy's ``dot`` of long vectors goes to OpenBLAS, whose worker threads
    (``OPENBLAS_NUM_THREADS`` > 1) spin between the calls of a Krylov loop; ``einsum`` does not."""
    return float(np.einsum("i,i->", a, b))


def norm(a: np.ndarray) -> float:
    """The Euclidean norm, by :func:`dot`."""
    return dot(a, a) ** 0.5


def preconditioned_cg(A, b: np.ndarray, M, tol: float, maxiter: int = 1000) -> np.ndarray:
    r"""Conjugate gradients for the symmetric positive definite ``A x = b`` from ``x = 0``, preconditioned
    by ``M`` (``M @ r`` or ``M.matvec(r)`` approximates ``A^{-1} r``), until ``||b - A x|| <= tol ||b||``
    (the recursively updated residual, as SciPy's ``cg`` checks it) or ``maxiter`` iterations:

    .. math::

        \alpha_k = \frac{r_k \cdot z_k}{p_k \cdot A p_k},\quad x_{k+1} = x_k + \alpha_k p_k,\quad
        r_{k+1} = r_k - \alpha_k A p_k,\quad z_{k+1} = M r_{k+1},\quad
        p_{k+1} = z_{k+1} + \frac{r_{k+1} \cdot z_{k+1}}{r_k \cdot z_k} p_k.

    SciPy's ``cg`` computes the same iterates with NumPy's BLAS ``dot``: with two OpenBLAS threads its
    second thread spun through the solve, about 0.7 s of CPU at 10^6 unknowns; the dot products here
    stay on the calling thread (:func:`dot`)."""
    apply = M.matvec if hasattr(M, "matvec") else (lambda v: M @ v)
    target = tol * norm(b)
    x = np.zeros_like(b)
    r = b.copy()
    if norm(r) <= target:
        return x
    z = apply(r)
    p = z.copy()
    rz = dot(r, z)
    for _ in range(maxiter):
        Ap = A @ p
        alpha = rz / dot(p, Ap)
        x += alpha * p
        r -= alpha * Ap
        if norm(r) <= target:
            break
        z = apply(r)
        rz_new = dot(r, z)
        p *= rz_new / rz
        p += z
        rz = rz_new
    return x


#: the hierarchy an AMG solve turns to when Krylov misses the tolerance with the one before
_FALLBACK = {"ruge-stuben-direct": "ruge-stuben", "ruge-stuben": "smoothed-aggregation"}


class _ScipySolver:
    """A factorized / preconditioned solver for one fixed sparse matrix.

    ``kind`` "direct" factorizes A = P^T L U Q^T once (``splu``); "amg", "cg"
    and "gmres" build a pyamg hierarchy once and use one V-cycle as the
    preconditioner of CG ("amg" on a symmetric A, falling back to GMRES if CG
    misses the tolerance, e.g. on an indefinite A) or GMRES.  The hierarchy
    (``amg``, None: by symmetry) is Ruge–Stüben (classical) AMG on a symmetric
    A: on the M-matrices of P1 and finite differences it needs about half the
    V-cycles of smoothed aggregation for a cheaper setup (``benchmarks/fem.py``);
    if the Krylov method misses the tolerance with it, the solve is repeated
    with smoothed aggregation, which is also what a nonsymmetric A gets (and
    what suits P2, whose positive off-diagonal entries classical AMG handles
    poorly: 112 CG iterations against 33 on P2 Poisson with 83 000 unknowns).
    ``"ruge-stuben-direct"`` is Ruge–Stüben with direct interpolation, applied by
    :class:`VCycle` in :func:`preconditioned_cg`: on P1 matrices the hierarchy of
    classical interpolation's size for less setup (at 10^6 unknowns on Poisson the
    same 6 CG iterations, the setup 0.44-0.52 s of CPU instead of 0.69-0.72 s); if
    CG misses ``10 tol`` with it, classical Ruge–Stüben takes over, then smoothed
    aggregation (:data:`_FALLBACK`).
    ``A`` is used as given (a CSR matrix is not copied).
    """

    def __init__(self, A: sp.spmatrix, kind: str, symmetric: bool, tol: float, amg: str | None = None) -> None:
        self.A = A if sp.isspmatrix_csr(A) else sp.csr_matrix(A)
        self.kind = kind
        self.symmetric = symmetric
        self.tol = tol
        self.hierarchy = ""
        if kind == "direct":
            try:
                self.lu = spla.splu(sp.csc_matrix(A))
            except RuntimeError as exc:  # "Factor is exactly singular"
                raise SolveError(
                    f"the sparse LU factorization of the {A.shape[0]} x {A.shape[1]} system "
                    f"failed ({exc}); the matrix is singular: check that the boundary "
                    "conditions fix the solution (a pure Neumann problem needs a constraint)"
                ) from None
        else:
            if amg not in (None, *AMG_HIERARCHIES):
                raise IntegratorError(f"unknown AMG hierarchy `{amg}`; choose one of: {', '.join(AMG_HIERARCHIES)}")
            self._hierarchy(amg or ("ruge-stuben" if symmetric else "smoothed-aggregation"))

    def _hierarchy(self, name: str) -> None:
        """Build the pyamg hierarchy ``name`` and its V-cycle preconditioner."""
        import pyamg

        if name == "ruge-stuben-direct":
            self.hierarchy = name
            self.prec = VCycle(pyamg.ruge_stuben_solver(self.A, interpolation="direct"))
            return
        if name == "ruge-stuben":
            ml = pyamg.ruge_stuben_solver(self.A)
        else:
            ml = pyamg.smoothed_aggregation_solver(
                self.A, symmetry="hermitian" if self.symmetric else "nonsymmetric"
            )
        self.hierarchy = name
        self.prec = ml.aspreconditioner(cycle="V")

    def solve(self, b: np.ndarray) -> np.ndarray:
        while True:
            try:
                return self._solve(b)
            except SolveError:  # this hierarchy did not do it: the next one (_FALLBACK) from now on
                if self.kind == "direct" or self.hierarchy not in _FALLBACK:
                    raise
                self._hierarchy(_FALLBACK[self.hierarchy])

    def _solve(self, b: np.ndarray) -> np.ndarray:
        if np.iscomplexobj(b) and not np.iscomplexobj(self.A.data):
            return self.solve(b.real) + 1j * self.solve(b.imag)
        if self.kind == "direct":
            x = self.lu.solve(b)
            if not np.all(np.isfinite(x)):
                raise SolveError(
                    "the sparse LU solve produced NaN or infinite values; "
                    "the matrix is singular or badly scaled"
                )
            return x
        bnorm = np.linalg.norm(b)
        if bnorm == 0:
            return np.zeros_like(b)
        maxiter = 1000
        if self.hierarchy == "ruge-stuben-direct":
            x = preconditioned_cg(self.A, b, self.prec, self.tol, maxiter)
            res = norm(b - self.A @ x) / bnorm
            if not (np.isfinite(res) and res <= 10 * self.tol):
                raise SolveError(f"CG preconditioned by Ruge–Stüben AMG with direct interpolation reached the "
                                 f"relative residual {res:.3g}, tolerance {self.tol:.3g}")
            return x
        x = None
        res = np.inf
        use_cg = self.kind == "cg" or (self.kind == "amg" and self.symmetric)
        if use_cg:
            x = _krylov(spla.cg, self.A, b, self.tol, M=self.prec, maxiter=maxiter)
            res = np.linalg.norm(b - self.A @ x) / bnorm
        if x is None or (self.kind != "cg" and not res <= 10 * self.tol):
            x = _krylov(
                spla.gmres, self.A, b, self.tol, M=self.prec, restart=50, maxiter=maxiter
            )
            res = np.linalg.norm(b - self.A @ x) / bnorm
        if not np.isfinite(res) or res > 10 * self.tol:
            method = {"cg": "CG", "gmres": "GMRES"}.get(
                self.kind, "CG/GMRES" if self.symmetric else "GMRES"
            )
            raise SolveError(
                f"the AMG-preconditioned {method} solver did not converge: relative residual "
                f"{res:.3g} reached, tolerance {self.tol:.3g}; try solver='direct'"
            )
        return x


def _pick_kind(solver: str, n: int) -> str:
    if solver == "auto":
        return "direct" if n < AUTO_DIRECT_LIMIT else "amg"
    return solver


def _torch_krylov(
    A: torch.Tensor, b: torch.Tensor, solver: str, symmetric: bool, tol: float
) -> torch.Tensor:
    """Solve on ``b``'s device: CG for a symmetric A ("auto", "amg", "cg"; BiCGSTAB if CG
    fails, e.g. on an indefinite A), BiCGSTAB otherwise or when ``solver`` is "gmres".
    ("direct" has no device counterpart and takes the same route.)"""
    t = max(tol, 50 * torch.finfo(b.dtype).eps)
    if solver == "cg" or (symmetric and solver != "gmres"):
        try:
            return torch_cg(A, b, tol=t)
        except SolveError:
            if solver == "cg":
                raise
    return torch_bicgstab(A, b, tol=t)


def _scipy_matrix(A: Any) -> sp.csr_matrix:
    if sp.isspmatrix_csr(A):
        return A
    if isinstance(A, torch.Tensor):
        if A.layout == torch.strided:
            return sp.csr_matrix(A.detach().cpu().numpy())
        C = A.detach().to_sparse_coo().coalesce().cpu()
        i, j = C.indices().numpy()
        return sp.csr_matrix((C.values().numpy(), (i, j)), shape=tuple(C.shape))
    return sp.csr_matrix(A)


def solve_sparse(
    A: Any,
    b: Any,
    solver: str = "auto",
    device: str | torch.device | None = None,
    tol: float = 1e-10,
    symmetric: bool | None = None,
    amg: str | None = None,
) -> Any:
    """Solve the stationary sparse system ``A x = b``.

    ``A``: a SciPy sparse matrix (or dense array, or torch sparse/dense matrix);
    ``b``: a numpy array or torch tensor of any shape with ``A.shape[0]`` entries.

    ``device``: None solves where ``b`` lives and returns the same kind as ``b``
    (numpy array or tensor, same shape and dtype).  A device (e.g. "cuda") turns
    ``b`` into a tensor on it and returns a tensor there.

    ``solver`` on the CPU: "direct" (sparse LU), "amg" (CG when A is symmetric,
    else GMRES, preconditioned by a pyamg V-cycle: Ruge–Stüben for a symmetric A,
    smoothed aggregation otherwise or when Ruge–Stüben misses ``tol``), "cg" /
    "gmres" (that method with the AMG preconditioner), "auto" (direct below
    200 000 unknowns, else "amg").  On CUDA the system is solved on the device
    with :func:`torch_cg` (symmetric A) or :func:`torch_bicgstab` (nonsymmetric
    A, or solver "gmres"), Jacobi-preconditioned.  An iterative solver that misses
    the relative residual ``tol`` raises :class:`SolveError` with the residual reached.
    ``symmetric``: whether ``A`` is symmetric, when the caller knows (None: it is
    checked, which costs a transposed copy of ``A``).  A SciPy CSR ``A`` is solved
    without a copy.  ``amg``: the pyamg hierarchy on the CPU, one of
    :data:`AMG_HIERARCHIES` (None: Ruge–Stüben for a symmetric A, else smoothed
    aggregation).
    """
    _check_solver(solver)
    S = _scipy_matrix(A)
    is_torch = isinstance(b, torch.Tensor)
    if device is not None:
        dev = torch.device(device)
        b = torch.as_tensor(b)
        if not (b.is_floating_point() or b.is_complex()):
            b = b.to(torch.float64)
        b = b.to(dev)
        is_torch = True
    if is_torch and b.is_cuda:
        At = _to_torch_csr(S, b.device, b.dtype)
        sym = _is_symmetric(S) if symmetric is None else bool(symmetric)
        x = _torch_krylov(At, b.reshape(-1), solver, sym, tol)
        return x.reshape(b.shape)
    arr = b.detach().cpu().numpy() if is_torch else np.asarray(b)
    flat = arr.reshape(-1)
    if flat.dtype.kind not in "fc":
        flat = flat.astype(np.float64)
    kind = _pick_kind(solver, S.shape[0])
    sym = (_is_symmetric(S) if kind != "direct" else False) if symmetric is None else bool(symmetric)
    x = _ScipySolver(S, kind, sym, tol, amg).solve(flat).reshape(arr.shape)
    if is_torch:
        return torch.as_tensor(x).to(dtype=b.dtype, device=b.device)
    return x.astype(np.result_type(x.dtype, arr.dtype), copy=False)


# ---------------------------------------------------------------------------
# linear parts


def check_finite(rhs: torch.Tensor) -> None:
    """Raise :class:`NonFiniteStage` when the right-hand side of a time step's solve holds NaN or infinite values.

    Such values come from the state, not the matrix (an explicit part, or the
    explicit sub-flow of a splitting, overflowed within the step); the solve
    would report a singular or badly scaled matrix, or a Krylov method that
    does not converge, instead of the instability.
    """
    if not bool(torch.isfinite(rhs).all()):
        raise NonFiniteStage("the right-hand side of an implicit solve holds NaN or infinite values: "
                             "the solution blew up within the time step")


class LinearPart(ABC):
    """The linear operators of ``M u' = L u + N(t, u)`` acting on a state tensor."""

    @abstractmethod
    def matvec(self, u: torch.Tensor) -> torch.Tensor:
        """L u (same shape, dtype and device as ``u``)."""

    @abstractmethod
    def apply_mass(self, u: torch.Tensor) -> torch.Tensor:
        """M u (``u`` itself when M = I)."""

    @abstractmethod
    def solve_shifted(self, alpha: float, rhs: torch.Tensor) -> torch.Tensor:
        """x with (M - alpha L) x = rhs."""

    def solve_mass(self, rhs: torch.Tensor) -> torch.Tensor:
        """x with M x = rhs (the shifted solve with alpha = 0)."""
        return self.solve_shifted(0.0, rhs)


class SparseLinearPart(LinearPart):
    """A SciPy sparse ``L`` (and optional mass matrix ``M``) on the flattened state.

    ``shape`` is the state tensor's shape (its product must be L's size).
    ``solver``: "direct" (splu of M - alpha L, cached per alpha), "amg"
    (CG if M and L are symmetric else GMRES, with a pyamg smoothed-aggregation
    preconditioner cached per alpha), "cg" / "gmres" (that method with the AMG
    preconditioner) or "auto" (direct below 200 000 unknowns, else "amg").
    CUDA states use torch sparse CSR copies of L, M and M - alpha L made once per
    (alpha, device, dtype) and :func:`torch_cg` (symmetric M - alpha L, with a
    BiCGSTAB fallback) / :func:`torch_bicgstab`.  ``tol`` is the relative residual
    of the iterative solvers.  ``symmetric``: whether L and M are symmetric, when the caller knows
    (None: checked, which costs a transposed copy of each); ``amg``: the pyamg hierarchy
    (:data:`AMG_HIERARCHIES`; None: Ruge–Stüben for a symmetric system, else smoothed aggregation).
    ``L`` and ``mass`` are kept, not copied, when they are CSR matrices already.
    Results keep the input's shape, dtype and device.
    """

    def __init__(
        self,
        L: Any,
        shape: Sequence[int] | int,
        mass: Any = None,
        solver: str = "auto",
        tol: float = 1e-10,
        symmetric: bool | None = None,
        amg: str | None = None,
    ) -> None:
        self.L = sp.csr_matrix(L)
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        n = int(np.prod(self.shape)) if self.shape else 1
        if self.L.shape != (n, n):
            raise IntegratorError(
                f"the linear operator has shape {self.L.shape} but the state has "
                f"{n} unknowns (shape {self.shape})"
            )
        self.mass = None if mass is None else sp.csr_matrix(mass)
        if self.mass is not None and self.mass.shape != (n, n):
            raise IntegratorError(
                f"the mass matrix has shape {self.mass.shape}, expected {(n, n)}"
            )
        self.solver = _check_solver(solver)
        self.tol = tol
        self.n = n
        self.amg = amg
        # checking costs a transposed copy of each matrix: a caller that knows says so
        self.symmetric = bool(symmetric) if symmetric is not None else _is_symmetric(self.L) and (
            self.mass is None or _is_symmetric(self.mass)
        )
        self._cpu_cache: OrderedDict[float, _ScipySolver] = OrderedDict()
        self._torch_cache: dict[tuple, torch.Tensor] = {}

    # -- helpers
    def _identity(self) -> sp.csr_matrix:
        return sp.identity(self.n, format="csr")

    def _shifted(self, alpha: float) -> sp.csr_matrix:
        M = self.mass if self.mass is not None else self._identity()
        return sp.csr_matrix(M - alpha * self.L)

    def _torch_op(self, key: str, alpha: float, u: torch.Tensor) -> torch.Tensor:
        k = (key, alpha, u.device, u.dtype)
        if k not in self._torch_cache:
            if key == "L":
                S = self.L
            elif key == "M":
                S = self.mass
            else:
                S = self._shifted(alpha)
            if len(self._torch_cache) > 3 * _CACHE_SIZE:
                self._torch_cache.clear()
            self._torch_cache[k] = _to_torch_csr(S, u.device, u.dtype)
        return self._torch_cache[k]

    @staticmethod
    def _to_numpy(u: torch.Tensor) -> np.ndarray:
        return u.detach().reshape(-1).cpu().numpy()

    def _from_numpy(self, x: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(x).to(dtype=like.dtype, device=like.device).reshape(like.shape)

    # -- interface
    def matvec(self, u: torch.Tensor) -> torch.Tensor:
        """L u."""
        if u.is_cuda:
            A = self._torch_op("L", 0.0, u)
            return (A @ u.reshape(-1, 1)).reshape(u.shape)
        return self._from_numpy(self.L @ self._to_numpy(u), u)

    def apply_mass(self, u: torch.Tensor) -> torch.Tensor:
        """M u."""
        if self.mass is None:
            return u
        if u.is_cuda:
            A = self._torch_op("M", 0.0, u)
            return (A @ u.reshape(-1, 1)).reshape(u.shape)
        return self._from_numpy(self.mass @ self._to_numpy(u), u)

    def solve_shifted(self, alpha: float, rhs: torch.Tensor) -> torch.Tensor:
        """x with (M - alpha L) x = rhs; :class:`NonFiniteStage` when ``rhs`` holds NaN or infinite values."""
        alpha = float(alpha)
        if alpha == 0.0 and self.mass is None:
            return rhs
        check_finite(rhs)
        if rhs.is_cuda:
            A = self._torch_op("S", alpha, rhs)
            x = _torch_krylov(A, rhs.reshape(-1), self.solver, self.symmetric, self.tol)
            return x.reshape(rhs.shape)
        solver = self._cpu_cache.get(alpha)
        if solver is None:
            kind = _pick_kind(self.solver, self.n)
            solver = _ScipySolver(self._shifted(alpha), kind, self.symmetric, self.tol, self.amg)
            self._cpu_cache[alpha] = solver
            if len(self._cpu_cache) > _CACHE_SIZE:
                self._cpu_cache.popitem(last=False)
        else:
            self._cpu_cache.move_to_end(alpha)
        return self._from_numpy(solver.solve(self._to_numpy(rhs)), rhs)
