"""Central finite-difference stencils and their application by tensor slicing.

A derivative of order ``m`` with accuracy ``p`` (even) uses the symmetric points
``-r..r`` with ``r = (m + 1)//2 + p//2 - 1``; the weights solve the moment
conditions ``sum_j w_j j^k = k! delta_km`` (k = 0..2r) exactly in rationals.

Applied to torch tensors by slicing a ghost-padded array (:func:`apply`) or by
rolling a periodic one (:func:`apply_periodic`), or assembled as sparse
matrices (:func:`matrix`); :func:`extrapolation` and :func:`flux_ghost_weights`
give the ghost values of Dirichlet and Neumann/Robin closures.  Finite
differences and the grid physics loss of neural operators both use them.
"""

from __future__ import annotations

from fractions import Fraction
from math import factorial
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - SciPy is imported by the functions that build matrices
    import scipy.sparse as sps

__all__ = [
    "apply",
    "apply_periodic",
    "extrapolation",
    "flux_ghost_weights",
    "half_width",
    "matrix",
    "matrix_1d",
    "weights",
]


def half_width(m: int, order: int) -> int:
    """The half width ``r`` of the central stencil of the ``m``-th derivative with accuracy ``order``:
    ``(m + 1)//2 + order//2 - 1``, and 0 for ``m = 0``."""
    if m == 0:
        return 0
    return (m + 1) // 2 + order // 2 - 1


_WEIGHTS: dict[tuple[int, int], tuple[float, ...]] = {}


def weights(m: int, order: int = 2) -> tuple[float, ...]:
    """Weights for offsets ``-r..r`` of the ``m``-th derivative (unit spacing), cached."""
    key = (m, order)
    if key not in _WEIGHTS:
        _WEIGHTS[key] = _weights(m, order)
    return _WEIGHTS[key]


def _weights(m: int, order: int) -> tuple[float, ...]:
    r = half_width(m, order)
    if m == 0:
        return (1.0,)
    pts = list(range(-r, r + 1))
    n = len(pts)
    # Solve V w = b with V[k][j] = j^k in exact arithmetic (Gauss-Jordan on Fractions).
    A = [[Fraction(j) ** k for j in pts] + [Fraction(factorial(m) if k == m else 0)] for k in range(n)]
    for c in range(n):
        piv = next(i for i in range(c, n) if A[i][c] != 0)
        A[c], A[piv] = A[piv], A[c]
        pv = A[c][c]
        A[c] = [v / pv for v in A[c]]
        for i in range(n):
            if i != c and A[i][c] != 0:
                f = A[i][c]
                A[i] = [a - f * b for a, b in zip(A[i], A[c])]
    return tuple(float(A[i][n]) for i in range(n))


def _along(out, axis: int, m: int, h: float, order: int, shifted):
    """h^{-m} sum_j w_j shifted(out, j): the m-th derivative along ``axis`` from shifted copies."""
    w = weights(m, order)
    r = len(w) // 2
    scale = 1.0 / h ** m
    acc = None
    for j, wj in zip(range(-r, r + 1), w):
        if wj == 0.0:
            continue
        term = shifted(out, j) * (wj * scale)
        acc = term if acc is None else acc + term
    return acc


def apply(padded, multi_index: tuple[int, ...], h: tuple[float, ...], ghost: int, order: int):
    """The derivative ``multi_index`` of a ghost-padded tensor, at the grid nodes."""
    out = padded
    for axis, m in enumerate(multi_index):
        n = out.shape[axis] - 2 * ghost
        if m == 0:
            out = out.narrow(axis, ghost, n)
            continue
        out = _along(out, axis, m, h[axis], order, lambda t, j, a=axis, n=n: t.narrow(a, ghost + j, n))
    return out


def apply_periodic(u, multi_index: tuple[int, ...], h: tuple[float, ...], order: int):
    """The derivative ``multi_index`` of an unpadded tensor periodic in every differentiated axis.

    The node ``i + j`` along axis ``a`` is ``torch.roll(u, -j, a)``, so

        D_a^m u = h_a^{-m} sum_{j=-r..r} w_j roll(u, -j, a)

    needs no ghost layers.  Eagerly every roll is a copy; under ``torch.compile`` it is
    index arithmetic inside one loop, which is why the fused step uses it.
    """
    import torch

    out = u
    for axis, m in enumerate(multi_index):
        if m == 0:
            continue
        out = _along(out, axis, m, h[axis], order, lambda t, j, a=axis: t if j == 0 else torch.roll(t, -j, a))
    return out


def matrix_1d(n: int, m: int, ghost: int, h: float, order: int) -> sps.csr_matrix:
    """(n × n+2g) matrix of the 1-D stencil on a padded line (identity-selection when m = 0)."""
    import scipy.sparse as sps

    w = weights(m, order)
    r = len(w) // 2
    rows, cols, vals = [], [], []
    for j, wj in zip(range(-r, r + 1), w):
        if wj == 0.0:
            continue
        i = np.arange(n)
        rows.append(i)
        cols.append(i + ghost + j)
        vals.append(np.full(n, wj / h**m))
    return sps.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n + 2 * ghost)
    )


def matrix(shape: tuple[int, ...], multi_index: tuple[int, ...], h: tuple[float, ...], ghost: int, order: int):
    """Sparse matrix of the derivative from the flattened padded array to the flattened nodes."""
    import scipy.sparse as sps

    M = None
    for axis, m in enumerate(multi_index):
        T = matrix_1d(shape[axis], m, ghost, h[axis], order)
        M = T if M is None else sps.kron(M, T, format="csr")
    return sps.csr_matrix(M)


def extrapolation(degree: int, k: int) -> np.ndarray:
    """Weights of nodes 0..degree giving the polynomial extrapolation to ``-k``."""
    x = np.arange(degree + 1, dtype=np.float64)
    w = np.ones(degree + 1)
    for i in range(degree + 1):
        for j in range(degree + 1):
            if j != i:
                w[i] *= (-k - x[j]) / (x[i] - x[j])
    return w


def flux_ghost_weights(degree: int, k: int) -> tuple[np.ndarray, float]:
    """Ghost value ``p(-k)`` of the polynomial closure of a Neumann/Robin side.

    With ``xi`` the inward distance from the side in units of h, ``p`` is the
    polynomial of degree ``degree`` with ``p(i) = u_i`` (i = 0..degree-1) and
    ``p'(0) = q``.  Returns ``(L, M)`` with ``p(-k) = sum_i L_i u_i + M q``.
    On a side ``alpha*u + beta*dn(u) = g`` (``dn = -d/dxi / h``) the condition gives
    ``q = h (alpha/beta * u_0 - g/beta)``; the ghost error is O(h^(degree+1)).
    """
    D = degree
    # rows: conditions p(i) (i = 0..D-1) and p'(0); columns: monomials xi^j (j = 0..D)
    A = np.zeros((D + 1, D + 1))
    for i in range(D):
        A[i] = [float(i) ** j for j in range(D + 1)]
    A[D, 1] = 1.0
    # p(-k) = e^T c with c = A^{-1} [u; q]  =>  weights = A^{-T} e
    e = np.array([float(-k) ** j for j in range(D + 1)])
    w = np.linalg.solve(A.T, e)
    return w[:D], float(w[D])
