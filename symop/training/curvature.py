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
the ENGD paper; it stops at the first rise after a fall), ``backtracking`` halves from 1 until the loss falls, ``none``
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

__all__ = ["ENGD", "KFAC", "KFAC_STEPS", "ResidualClosure", "apply_kronecker_basis", "gauss_newton_direction",
           "inverse_kronecker_sum", "kronecker_basis", "LINE_SEARCHES", "SOLVERS"]

from .choices import LINE_SEARCHES, SOLVERS  # noqa: E402 - plain data, read without torch



def _begin(optimizer: torch.optim.Optimizer, closure: "ResidualClosure | None", name: str):
    """The parameter group, the loss where a curvature step starts and the closure's terms there.

    The closure must be the training loop's :class:`ResidualClosure`; it is
    evaluated first if it has not been yet.
    """
    if not isinstance(closure, ResidualClosure):
        raise SolveError(f"{name} steps need the training loop's residual closure (a loss with residuals).")
    if closure.last is None:
        closure()
    return optimizer.param_groups[0], closure.last[0].detach(), closure.last

class ResidualClosure:
    """What a Gauss–Newton optimizer's ``step`` gets: the loss of the batch, and its linearisation.

    ``closure()`` evaluates the loss (no parameter gradient) and remembers
    ``(total, terms)`` of the last evaluation in :attr:`last`;
    ``closure.linearise()`` returns a :class:`~symop.nn.linearise.Linearisation`
    (residual vector and Jacobian) at the current parameters.
    """

    def __init__(self, value: Callable[[], Any], linearise: Callable[[], Any],
                 params: Sequence[torch.nn.Parameter], kronecker: Callable[[], Any] | None = None) -> None:
        self._value, self._linearise, self.params = value, linearise, list(params)
        self._kronecker = kronecker
        self.last: Any = None
        self.evaluations = 0

    def gradient(self) -> torch.Tensor:
        """The gradient of the loss at the current parameters, flattened in the parameters' order."""
        total, _ = self._value()
        grads = torch.autograd.grad(total, self.params, allow_unused=True)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                          for g, p in zip(grads, self.params)])

    def kronecker(self):
        """The Kronecker factors of the Gauss–Newton matrix (:func:`symop.nn.kfac.kronecker`)."""
        if self._kronecker is None:
            raise OptionError("kfac needs the Kronecker factors of the loss, which this training loss does not "
                              "give; use engd.")
        return self._kronecker()

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


class _GaussNewton(torch.optim.Optimizer):
    """What ENGD and KFAC share: their one group's parameters as one flat vector, for the state they keep per
    step (``_flat_state``, ``_set_state``) and for moving the parameters along a direction (``_move``)."""

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


class ENGD(_GaussNewton):
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

    def step(self, closure: ResidualClosure | None = None):  # type: ignore[override]
        """One Gauss–Newton step; returns the loss where it ended (the closure's ``last`` holds its terms)."""
        group, start, start_last = _begin(self, closure, "engd")
        lin = closure.linearise()
        J, r = lin.jacobian, lin.residual
        if not (torch.isfinite(J).all() and torch.isfinite(r).all()):
            raise SolveError("the Jacobian of the residuals is not finite; warm up with adam (`warmup`) or train "
                             "in float64.")
        previous = self._flat_state("direction") if group["momentum"] else None
        d = gauss_newton_direction(J, r, group["current"], group["solver"], previous, group["momentum"])
        best_eta = _line_search(self, closure, d, group, start, start_last)
        _adapt(group, best_eta)
        if group["momentum"]:
            self._set_state("direction", d * (1.0 if best_eta else 0.0))
        for p in self._params:
            self.state[p]["step"] = self.state[p].get("step", torch.tensor(0.0)) + 1
        return closure.last[0].detach()


def _line_search(opt, closure: ResidualClosure, d: torch.Tensor, group: dict, start, start_last) -> float:
    """Move ``opt``'s parameters to ``θ - η d`` for the ``η`` its line search picks (0: none lowered the loss)."""
    base = [p.detach().clone() for p in opt._params]
    best, best_eta, best_last = float(start), 0.0, start_last
    if group["line_search"] == "none":
        etas = [group["lr"]]
    elif group["line_search"] == "grid":
        etas = [group["lr"] * 0.5 ** k for k in range(group["grid"])]
    else:
        etas = None
    if etas is not None:
        for eta in etas:
            opt._move(base, d, eta)
            value = float(closure())
            if value < best or group["line_search"] == "none":
                best, best_eta, best_last = value, eta, closure.last
            elif best_eta:  # past the lowest point of the grid (the loss along d is taken as unimodal)
                break
    else:
        eta = group["lr"]
        for _ in range(group["grid"]):
            opt._move(base, d, eta)
            value = float(closure())
            if value < best:
                best, best_eta, best_last = value, eta, closure.last
                break
            eta *= 0.5
    opt._move(base, d, best_eta)
    closure.last = best_last
    return best_eta


def _adapt(group: dict, eta: float) -> None:
    """Levenberg-Marquardt: long steps trust the model (less damping), short ones damp it more."""
    if group["adapt"]:
        if eta >= 0.25 * group["lr"]:
            group["current"] = max(group["current"] / 10, group["damping"])
        elif eta < 2 ** -6 * group["lr"]:
            group["current"] = min(max(group["current"], 1e-12) * 10, 1.0)


def _joint_basis(M1: torch.Tensor, M2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The generalised eigenpairs of ``(M1, M2)``: :math:`\lambda` and :math:`P = L^{-\top} U` with
    :math:`M_2 = L L^\top` and :math:`L^{-1} M_1 L^{-\top} = U \Lambda U^\top`, so that
    :math:`P^\top M_1 P = \Lambda` and :math:`P^\top M_2 P = I`."""
    L = torch.linalg.cholesky(M2)
    Li = torch.linalg.solve_triangular(L, torch.eye(L.shape[0], dtype=L.dtype, device=L.device), upper=False)
    lam, U = torch.linalg.eigh(Li @ M1 @ Li.T)
    return lam, Li.T @ U


def inverse_kronecker_sum(X: torch.Tensor, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    r"""``Y`` with :math:`\sum_g (B_g \otimes A_g)\,\mathrm{vec}(Y) = \mathrm{vec}(X)` (row-major ``vec``), exactly.

    ``pairs`` are one or two ``(A, B)`` of symmetric positive definite factors
    (damped); ``X`` is ``(out, in)``.  One pair: :math:`Y = B^{-1} X A^{-1}`.
    Two: with :math:`A_2 = L L^\top`, :math:`L^{-1} A_1 L^{-\top} = U \Lambda U^\top`
    and :math:`P_A = L^{-\top} U` (so :math:`P_A^\top A_1 P_A = \Lambda`,
    :math:`P_A^\top A_2 P_A = I`), and the same for ``B``,
    :math:`Y = P_B\,[(P_B^\top X P_A) / (\lambda_B \lambda_A^\top + 1)]\,P_A^\top`.
    """
    if len(pairs) == 1:
        A, B = pairs[0]
        return torch.cholesky_solve(torch.cholesky_solve(X.T, torch.linalg.cholesky(A)).T, torch.linalg.cholesky(B))
    (A1, B1), (A2, B2) = pairs

    la, Pa = _joint_basis(A1, A2)
    lb, Pb = _joint_basis(B1, B2)
    return Pb @ ((Pb.T @ X @ Pa) / (lb[:, None] * la[None, :] + 1)) @ Pa.T


KFAC_STEPS = ("model", "search")


class KFAC(_GaussNewton):
    r"""KFAC for PINNs: the Gauss–Newton step with each layer's block replaced by Kronecker factors.

    Each linear layer's block of the Gauss–Newton matrix is approximated by
    :math:`B_\Omega \otimes A_\Omega + B_\partial \otimes A_\partial` (interior
    terms; boundary, initial and periodic terms), the factors from
    :func:`symop.nn.kfac.kronecker` averaged over steps with weight ``ema`` (0:
    the step's own) and refreshed every ``update`` steps (their inverse is kept in
    between); each factor is damped by the square root of ``damping`` times its
    mean diagonal, and the sum is inverted exactly (:func:`inverse_kronecker_sum`).
    The direction is :math:`d = K^{-1} J^\top r`, :math:`J^\top r` half the loss gradient.

    ``step`` ``model`` (Martens & Grosse 2015; Dangel et al. 2024): the update is
    :math:`\delta = -\alpha d + \mu\,\delta_{prev}` with :math:`(\alpha, \mu)`
    minimising the Gauss–Newton model :math:`|r + J\delta|^2` exactly, a 2 x 2
    system from the products :math:`J d` and :math:`J \delta_{prev}` (taken through
    the recorded copies, no further pass); the update is halved, up to ``grid``
    times, while it raises the loss.  ``step`` ``search``: the step length from the
    line searches of :class:`ENGD`, with ``momentum`` that fraction of the previous
    direction added.  A step costs one pass of Taylor-mode jets with one reverse
    pass per term (residuals, gradient, factors and Jacobian products together),
    eigendecompositions of the factors (``width + 1`` square) every ``update``
    steps, and one loss evaluation (``model``) or the line search's.
    """

    def __init__(self, params, lr: float = 1.0, damping: float = 1e-8, ema: float = 0.0, line_search: str = "grid",
                 grid: int = 20, momentum: float = 0.0, adapt: bool = True, step: str = "model",
                 update: int = 1) -> None:
        if line_search not in LINE_SEARCHES:
            raise OptionError(f"there is no line search `{line_search}`; the line searches are "
                              f"{', '.join(LINE_SEARCHES)}.")
        if step not in KFAC_STEPS:
            raise OptionError(f"kfac has no step `{step}`; its steps are {', '.join(KFAC_STEPS)}.")
        if not damping > 0 or not 0 <= ema < 1 or not 0 <= momentum < 1 or int(grid) < 1 or int(update) < 1:
            raise OptionError("kfac needs damping > 0, 0 <= ema < 1, 0 <= momentum < 1, a grid of at least one "
                              "point and an update interval of at least one step.")
        super().__init__(params, dict(lr=lr, damping=float(damping), ema=float(ema), line_search=line_search,
                                      grid=int(grid), momentum=float(momentum), adapt=bool(adapt),
                                      current=float(damping), step=step, update=int(update)))

    def _factors(self, factors) -> list[list[tuple[torch.Tensor, torch.Tensor]]] | None:
        """Per layer, the ``(A, B)`` of each group, averaged over steps (kept in the state of the layer's weight);
        ``None`` when this step keeps the inverse of an earlier one (``update``)."""
        params = self._params
        layers = len(params) // 2
        groups = sorted(factors.A)
        if len(params) != 2 * layers or any(len(factors.A[g]) != layers for g in groups):
            raise OptionError("kfac needs the parameters of an MLP, a weight and a bias per layer, in order.")
        group = self.param_groups[0]
        first = self.state[params[0]]
        count = int(first.get("factor_steps", torch.tensor(0.0)))
        first["factor_steps"] = torch.tensor(float(count + 1))
        if count % group["update"] and "inverse_0" in first:
            return None
        beta = group["ema"]
        out = []
        for l in range(layers):
            state = self.state[params[2 * l]]
            pairs = []
            for g in groups:
                A, B = factors.A[g][l], factors.B[g][l]
                if f"A_{g}" in state:
                    A = beta * state[f"A_{g}"] + (1 - beta) * A
                    B = beta * state[f"B_{g}"] + (1 - beta) * B
                state[f"A_{g}"], state[f"B_{g}"] = A.detach(), B.detach()
                pairs.append((A, B))
            out.append(pairs)
        return out

    def _inverses(self, layers, lam: float) -> list:
        """Per layer the damped factors' eigenbases (:func:`kronecker_basis`), kept in the state between updates."""
        params = self._params
        out = []
        for l in range(len(params) // 2):
            state = self.state[params[2 * l]]
            if layers is not None:
                damped = [(_damp(A, lam ** 0.5), _damp(B, lam ** 0.5)) for A, B in layers[l]]
                try:
                    state["inverse"] = kronecker_basis(damped)
                except torch.linalg.LinAlgError:
                    precision = str(damped[0][0].dtype).replace("torch.", "")
                    raise SolveError(f"the Kronecker factors of layer {l + 1} are singular in {precision} at kfac's "
                                     f"damping {lam:.1e}, and kfac cannot invert them; raise `damping` (1e-8 by "
                                     "default), or train in dtype float64.") from None
                self.state[params[0]]["inverse_0"] = torch.tensor(1.0)
            out.append(state["inverse"])
        return out

    def step(self, closure: ResidualClosure | None = None):  # type: ignore[override]
        """One KFAC step; returns the loss where it ended (the closure's ``last`` holds its terms)."""
        group, start, start_last = _begin(self, closure, "kfac")
        factors = closure.kronecker()
        grad = factors.gradient if factors.gradient is not None else closure.gradient() / 2  # J^T r
        bases = self._inverses(self._factors(factors), group["current"])
        parts, k = [], 0
        for l, basis in enumerate(bases):
            W, b = self._params[2 * l], self._params[2 * l + 1]
            gW = grad[k:k + W.numel()].reshape(W.shape)
            gb = grad[k + W.numel():k + W.numel() + b.numel()]
            k += W.numel() + b.numel()
            Y = apply_kronecker_basis(torch.cat([gW, gb[:, None]], dim=1), basis)
            parts += [Y[:, :-1].reshape(-1), Y[:, -1]]
        d = torch.cat(parts)
        if not torch.isfinite(d).all():
            raise SolveError("the kfac direction is not finite; raise `damping`, or warm up with adam (`warmup`).")
        if group["step"] == "model" and factors.jvp is not None:
            self._model_step(closure, factors, grad, d, group, start, start_last)
            return closure.last[0].detach()
        if group["momentum"]:
            previous = self._flat_state("direction")
            if previous is not None:
                d = d + group["momentum"] * previous
        best_eta = _line_search(self, closure, d, group, start, start_last)
        _adapt(group, best_eta)
        if group["momentum"]:
            self._set_state("direction", d * (1.0 if best_eta else 0.0))
        return closure.last[0].detach()

    def _model_step(self, closure: ResidualClosure, factors, h: torch.Tensor, d: torch.Tensor, group: dict,
                    start, start_last) -> None:
        """Move by the update minimising the Gauss–Newton model over ``-d`` and the previous update (halved while
        it raises the loss); the update taken is kept for the next step."""
        Jd = factors.jvp(d)
        previous = self._flat_state("update")
        dd, hd = float(Jd @ Jd), float(h @ d)
        if previous is not None and bool(previous.any()):
            Jp = factors.jvp(previous)
            dp, pp, hp = float(Jd @ Jp), float(Jp @ Jp), float(h @ previous)
            # minimise 2 h.delta + |J delta|^2 over delta = -a d + m p:  [[dd, -dp], [-dp, pp]] (a, m) = (hd, -hp)
            M = torch.tensor([[dd, -dp], [-dp, pp]], dtype=torch.float64)
            M += 1e-12 * torch.diag(M.diagonal().abs() + torch.finfo(torch.float64).tiny)
            a, m = torch.linalg.solve(M, torch.tensor([hd, -hp], dtype=torch.float64)).tolist()
            delta = -a * d + m * previous
        else:
            delta = -(hd / max(dd, torch.finfo(d.dtype).tiny)) * d
        delta = delta * group["lr"]
        base = [p.detach().clone() for p in self._params]
        best, best_last, taken = float(start), start_last, torch.zeros_like(d)
        for _ in range(group["grid"]):
            self._move(base, -delta, 1.0)
            value = float(closure())
            if value < best:
                best, best_last, taken = value, closure.last, delta
                break
            delta = delta / 2
        self._move(base, -taken, 1.0)
        closure.last = best_last
        _adapt(group, 1.0 if taken.any() else 0.0)
        self._set_state("update", taken)


def kronecker_basis(pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]):
    r"""What :func:`inverse_kronecker_sum` needs of one or two damped pairs ``(A, B)``, to apply it many times:
    ``(P_A, λ_A, P_B, λ_B, c)`` with :math:`Y = P_B [(P_B^\top X P_A) / (\lambda_B \lambda_A^\top + c)] P_A^\top`."""
    if len(pairs) == 1:
        (A, B), = pairs
        la, Pa = torch.linalg.eigh(A)
        lb, Pb = torch.linalg.eigh(B)
        return Pa, la, Pb, lb, 0.0
    (A1, B1), (A2, B2) = pairs

    la, Pa = _joint_basis(A1, A2)
    lb, Pb = _joint_basis(B1, B2)
    return Pa, la, Pb, lb, 1.0


def apply_kronecker_basis(X: torch.Tensor, basis) -> torch.Tensor:
    """``Y`` of :func:`inverse_kronecker_sum` from a :func:`kronecker_basis`."""
    Pa, la, Pb, lb, c = basis
    return Pb @ ((Pb.T @ X @ Pa) / (lb[:, None] * la[None, :] + c)) @ Pa.T


def _damp(M: torch.Tensor, rel: float) -> torch.Tensor:
    """``M + rel * mean(diag(M)) I`` (at least the smallest positive number on the diagonal)."""
    shift = rel * float(M.diagonal().mean()) + torch.finfo(M.dtype).tiny ** 0.5
    return M + shift * torch.eye(M.shape[0], dtype=M.dtype, device=M.device)
