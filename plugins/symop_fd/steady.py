"""Steady problems: Newton's method on R(u) = 0 with the sparse Jacobian
J = sum_k diag(dR/dnode_k) D_k (one step when R is affine)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps
import torch

from symop.errors import SolveError
from symop.integrate import solve_sparse

from .lowering import Lowered


def residual(low: Lowered, U: torch.Tensor) -> torch.Tensor:
    R = torch.stack(low.rhs(None, U))
    for ci, b in enumerate(low.bsets):
        if b.dirichlet:
            g = b.set_dirichlet(torch.zeros_like(U[ci]), None, rate=False)
            R[ci][torch.as_tensor(b.mask, device=U.device)] = (U[ci] - g)[torch.as_tensor(b.mask, device=U.device)]
    return R


def solve_steady(low: Lowered, solver: str = "auto", tol: float = 1e-10, maxiter: int = 50):
    C, shape = len(low.comps), low.shape
    U = torch.zeros((C, *shape), dtype=low.dtype, device=low.device)
    for ci, b in enumerate(low.bsets):
        b.set_dirichlet(U[ci], None, rate=False)
    parts = low.jacobian_parts([c.rhs for c in low.comps])
    mask = low.dirichlet_mask.reshape(-1)
    keep = sps.diags((~mask).astype(np.float64))
    ident = sps.diags(mask.astype(np.float64))
    R = residual(low, U)
    scale = max(float(torch.linalg.vector_norm(R)), 1e-300)
    history = [1.0]
    # affine R: the Jacobian coefficients do not depend on the unknowns
    linear = parts[2] is None or not parts[2].fn.nodes
    for it in range(1, maxiter + 1):
        A = keep @ low.assemble(parts, None, U)
        # the Dirichlet rows (u - g = 0) scaled to the size of the other rows: next to the h^-4 rows of a fourth-order
        # operator, rows of size 1 would take O(eps h^-4) errors from the solve (the normwise backward error)
        diag = np.abs(A.diagonal())[~mask]
        weight = float(diag.max()) if diag.size and diag.max() > 0 and np.isfinite(diag.max()) else 1.0
        J = sps.csr_matrix(A + weight * ident)
        b = -R.reshape(-1)
        if weight != 1.0 and mask.any():
            b = torch.where(torch.as_tensor(mask, device=b.device), weight * b, b)
        delta = solve_sparse(J, b, solver=solver, tol=min(tol, 1e-12) if solver != "direct" else tol)
        U = U + delta.reshape(U.shape)
        R = residual(low, U)
        rel = float(torch.linalg.vector_norm(R)) / scale
        history.append(rel)
        if not np.isfinite(rel):
            break
        if rel <= tol or (linear and rel <= 1e3 * tol):
            return U, {"newton_iterations": it, "residuals": history}
        step = float(torch.linalg.vector_norm(delta)) / max(float(torch.linalg.vector_norm(U)), 1e-300)
        if step < 1e-14:
            return U, {"newton_iterations": it, "residuals": history}
    raise SolveError(
        f"Newton's method did not converge in {len(history) - 1} iterations: the relative residual "
        f"went {history[1]:.3g} → {history[-1]:.3g} (tolerance {tol:g}); try a finer grid, a better "
        "initial guess, or check that the problem has a solution."
    )
