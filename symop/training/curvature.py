r"""Gauss–Newton optimizers in function space: energy natural gradient (ENGD) and its Woodbury/SPRING form.

For a loss that is a sum of squared residuals, :math:`L(\theta) = |r(\theta)|^2`
with :math:`r` the weighted residuals of every term at every point (interior,
boundary, initial; :mod:`symop.nn.linearise`), one step of ``engd`` is

.. math::  d = (J^\top J + \lambda I)^{-1} J^\top r
             = J^\top (J J^\top + \lambda I)^{-1} r,
           \qquad \theta \leftarrow \theta - \eta\, d,

the Gauss–Newton direction of the linearised residual :math:`r + J\delta`
(Müller & Zeinhofer 2023: for a linear PDE this is the natural gradient of the
energy).  The first form solves a :math:`P\times P` system (``dense``), the second
an :math:`M\times M` one (``woodbury``, Guzmán-Cordero et al. 2025), cheaper when
there are fewer residual rows :math:`M` than parameters :math:`P`; both give the
same direction.  The damping is :math:`\lambda = ` ``damping`` times the mean
diagonal of :math:`J J^\top` (the mean squared row norm), the same in both forms.  With ``momentum`` :math:`\mu > 0` the
direction is SPRING's (Goldshlager et al. 2024),
:math:`d_k = (J^\top J + \lambda)^{-1} J^\top (r - \mu J d_{k-1}) + \mu\, d_{k-1}`,
the previous direction kept in the optimizer's state (and checkpoints).

The step :math:`\eta` comes from a line search on the loss: ``grid`` tries
:math:`\eta = 2^{-k}`, :math:`k = 0..` ``grid``-1 and keeps the lowest loss (as in
the ENGD paper), ``backtracking`` halves from 1 until the loss falls, ``none``
takes ``lr``.  A step that lowers nothing leaves the parameters where they were.

The weights of the loss terms enter :math:`r` as :math:`\sqrt{w_t/N_t}`, so the
Gauss–Newton system weighs each term exactly as the loss does: the terms are
balanced consistently by construction, and a term's scale changes the step only
through its share of the least-squares problem.

An optimizer here has ``residuals=True`` in its :class:`OptimizerSpec`; the
training loop then calls ``step(closure)`` with a :class:`ResidualClosure`:
``closure()`` is the loss at the current parameters (no gradient) and
``closure.linearise()`` the residuals and their Jacobian.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from symop.errors import OptionError, SolveError

__all__ = ["ENGD", "ResidualClosure", "gauss_newton_direction", "LINE_SEARCHES", "SOLVERS"]

LINE_SEARCHES = ("grid", "backtracking", "none")
SOLVERS = ("auto", "dense", "woodbury")


class ResidualClosure:
    """What a Gauss–Newton optimizer's ``step`` gets: the loss of the batch, and its linearisation.

    ``closure()`` evaluates the loss (no parameter gradient) and remembers
    ``(total, terms)`` of the last evaluation in :attr:`last`;
    ``closure.linearise()`` returns a :class:`~symop.nn.linearise.Linearisation`
    (residual vector and Jacobian) at the current parameters.
    """

    def __init__(self, value: Callable[[], Any], linearise: Callable[[], Any],
                 params: Sequence[torch.nn.Parameter]) -> None:
        self._value, self._linearise, self.params = value, linearise, list(params)
        self.last: Any = None
        self.evaluations = 0

    def __call__(self) -> torch.Tensor:
        flags = [p.requires_grad for p in self.params]
        for p in self.params:
            p.requires_grad_(False)
        try:
            self.last = self._value()
        finally:
            for p, flag in zip(self.params, flags):
                p.requires_grad_(flag)
        self.evaluations += 1
        return self.last[0].detach()

    def linearise(self):
        """The residuals and their Jacobian at the current parameters."""
        return self._linearise()


def gauss_newton_direction(J: torch.Tensor, r: torch.Tensor, damping: float, solver: str = "auto",
                           previous: torch.Tensor | None = None, momentum: float = 0.0) -> torch.Tensor:
    r"""The damped Gauss–Newton direction :math:`d` (see the module docstring), ``(P,)``.

    ``solver`` ``dense`` solves with :math:`J^\top J + \lambda I`, ``woodbury``
    with :math:`J J^\top + \lambda I`; ``auto`` takes the smaller.  With
    ``momentum`` and a ``previous`` direction, SPRING's direction.
    """
    M, P = J.shape
    if solver == "auto":
        solver = "woodbury" if M < P else "dense"
    rhs = r
    if previous is not None and momentum:
        rhs = r - momentum * (J @ previous)
    lam = damping * float((J * J).sum()) / max(M, 1) + torch.finfo(J.dtype).tiny  # damping x mean diag(J J^T)
    if solver == "woodbury":
        d = J.T @ _solve(J @ J.T, lam, rhs)
    else:
        d = _solve(J.T @ J, lam, J.T @ rhs)
    if previous is not None and momentum:
        d = d + momentum * previous
    return d


def _solve(A: torch.Tensor, lam: float, b: torch.Tensor) -> torch.Tensor:
    """``(A + lam I)^{-1} b`` for symmetric positive semi-definite ``A``: Cholesky, or eigenvalues if that fails."""
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    L, info = torch.linalg.cholesky_ex(A + lam * eye)
    if int(info) == 0:
        return torch.cholesky_solve(b[:, None], L)[:, 0]
    w, V = torch.linalg.eigh(A)
    keep = w > w.max() * torch.finfo(A.dtype).eps * A.shape[0]
    inv = torch.where(keep, 1.0 / (w.clamp_min(0) + lam), torch.zeros_like(w))
    return V @ (inv * (V.T @ b))


class ENGD(torch.optim.Optimizer):
    """Energy natural gradient descent: a damped Gauss–Newton step on the residuals plus a line search.

    Options: ``damping`` (relative, see the module docstring), ``solver``
    (``auto``/``dense``/``woodbury``), ``line_search`` (``grid``/``backtracking``/
    ``none``), ``grid`` (points of the grid search), ``momentum`` (SPRING's
    :math:`\\mu`), ``adapt`` (Levenberg–Marquardt: multiply the damping by 10 after a
    step shorter than :math:`2^{-6}` ``lr`` and divide it by 10, down to its start
    value, after one of at least ``lr``/4).
    """

    def __init__(self, params, lr: float = 1.0, damping: float = 1e-10, solver: str = "auto",
                 line_search: str = "grid", grid: int = 20, momentum: float = 0.0, adapt: bool = True) -> None:
        if solver not in SOLVERS:
            raise OptionError(f"there is no Gauss–Newton solver `{solver}`; the solvers are {', '.join(SOLVERS)}.")
        if line_search not in LINE_SEARCHES:
            raise OptionError(f"there is no line search `{line_search}`; the line searches are "
                              f"{', '.join(LINE_SEARCHES)}.")
        if not damping >= 0 or not 0 <= momentum < 1 or int(grid) < 1:
            raise OptionError("engd needs damping >= 0, 0 <= momentum < 1 and a grid of at least one point.")
        super().__init__(params, dict(lr=lr, damping=float(damping), solver=solver, line_search=line_search,
                                      grid=int(grid), momentum=float(momentum), adapt=bool(adapt),
                                      current=float(damping)))
        if len(self.param_groups) != 1:
            raise OptionError("engd takes a single group of parameters.")

    @property
    def _params(self) -> list[torch.nn.Parameter]:
        return self.param_groups[0]["params"]

    def _flat_state(self, key: str) -> torch.Tensor | None:
        parts = [self.state[p].get(key) for p in self._params]
        if any(v is None for v in parts):
            return None
        return torch.cat([v.reshape(-1) for v in parts])

    def _set_state(self, key: str, flat: torch.Tensor) -> None:
        k = 0
        for p in self._params:
            self.state[p][key] = flat[k:k + p.numel()].reshape(p.shape).clone()
            k += p.numel()

    def _move(self, base: list[torch.Tensor], d: torch.Tensor, eta: float) -> None:
        k = 0
        with torch.no_grad():
            for p, b in zip(self._params, base):
                p.copy_(b - eta * d[k:k + p.numel()].reshape(p.shape))
                k += p.numel()

    def step(self, closure: ResidualClosure | None = None):  # type: ignore[override]
        """One Gauss–Newton step; returns the loss where it ended (the closure's ``last`` holds its terms)."""
        if not isinstance(closure, ResidualClosure):
            raise SolveError("engd steps need the training loop's residual closure (a loss with residuals).")
        group = self.param_groups[0]
        if closure.last is None:
            closure()
        start, start_last = closure.last[0].detach(), closure.last
        lin = closure.linearise()
        J, r = lin.jacobian, lin.residual
        if not (torch.isfinite(J).all() and torch.isfinite(r).all()):
            raise SolveError("the Jacobian of the residuals is not finite; lower the damping's adaptivity or "
                             "warm up with adam.")
        previous = self._flat_state("direction") if group["momentum"] else None
        d = gauss_newton_direction(J, r, group["current"], group["solver"], previous, group["momentum"])
        base = [p.detach().clone() for p in self._params]
        best, best_eta, best_last = float(start), 0.0, start_last
        if group["line_search"] == "none":
            etas = [group["lr"]]
        elif group["line_search"] == "grid":
            etas = [group["lr"] * 0.5 ** k for k in range(group["grid"])]
        else:
            etas = None
        if etas is not None:
            for eta in etas:
                self._move(base, d, eta)
                value = float(closure())
                if value < best or group["line_search"] == "none":
                    best, best_eta, best_last = value, eta, closure.last
        else:
            eta = group["lr"]
            for _ in range(group["grid"]):
                self._move(base, d, eta)
                value = float(closure())
                if value < best:
                    best, best_eta, best_last = value, eta, closure.last
                    break
                eta *= 0.5
        self._move(base, d, best_eta)
        closure.last = best_last
        if group["adapt"]:  # Levenberg-Marquardt: long steps trust the model, short ones damp it
            if best_eta >= 0.25 * group["lr"]:
                group["current"] = max(group["current"] / 10, group["damping"])
            elif best_eta < 2 ** -6 * group["lr"]:
                group["current"] = min(max(group["current"], 1e-12) * 10, 1.0)
        if group["momentum"]:
            self._set_state("direction", d * (1.0 if best_eta else 0.0))
        for p in self._params:
            self.state[p]["step"] = self.state[p].get("step", torch.tensor(0.0)) + 1
        return torch.as_tensor(best)
