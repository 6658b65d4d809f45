r"""Zero-shot solutions and delta-PINN refinement.

The zero-shot solution of an instance is the generated network
:math:`u_0 = s\,\mathrm{PINN}(\theta)`, :math:`\theta = H(I)`.  Refinement
(HyPINO's iterative scheme) repeats, for :math:`k = 0, 1, \dots, K-1`:

1. the residuals of the current sum :math:`U_k = \sum_{i \le k} u_i`,
   :math:`r = L U_k - f` inside and :math:`r^b = a U_k + b\,\partial_\nu U_k - g`
   on the boundary, define the *delta problem* :math:`L\delta = -r`,
   :math:`a\delta + b\,\partial_\nu\delta = -r^b` (same operator, geometry and
   boundary kinds; only the data change), whose exact solution is
   :math:`u - U_k`;
2. the hypernetwork maps the delta problem's encoding (its own data scale
   :math:`s_\delta`, so the small residual looks like an ordinary instance)
   to a delta PINN :math:`\delta`, optionally trained for ``delta_steps``
   Adam steps on the delta problem's physics loss;
3. :math:`U_{k+1} = U_k + \lambda\delta` with the step :math:`\lambda`
   minimising the physics loss of :math:`U_{k+1}` on the collocation points
   — a one-dimensional least-squares problem, as the residual is affine in
   :math:`\lambda`:

   .. math:: \lambda = -\frac{\langle r, L\delta\rangle + w_b\langle r^b, B\delta\rangle}
                             {\|L\delta\|^2 + w_b \|B\delta\|^2},

   so the physics loss never increases (:math:`\lambda = 0` is allowed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from symop.training import Phase, optimize
from symop_hypino.encoding import Instance, image
from symop_hypino.hypernet import HyperNetwork
from symop_hypino.physics import boundary_residual, interior_residual


@dataclass
class Ensemble:
    """:math:`U(z) = \\sum_i w_i\\,\\mathrm{PINN}(\\theta_i)(z)` on one instance's bounding box (``w_i`` includes the scale)."""

    hyper: HyperNetwork
    lo: torch.Tensor
    hi: torch.Tensor
    thetas: list[torch.Tensor] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def __call__(self, Z: torch.Tensor) -> torch.Tensor:
        """``Z`` ``(1, N, 2)`` → ``(1, N)``."""
        out = torch.zeros(Z.shape[:-1], dtype=Z.dtype, device=Z.device)
        for theta, w in zip(self.thetas, self.weights):
            out = out + w * self.hyper.target.apply(theta[None], Z, self.lo[None], self.hi[None])
        return out


@dataclass
class Residual:
    """Residuals of a network on an instance: interior ``r`` ``(N,)``, boundary ``rb`` ``(M,)``, grid ``grid`` ``(G, G)``."""

    r: torch.Tensor
    rb: torch.Tensor
    grid: torch.Tensor | None = None

    def loss(self, boundary_weight: float = 1.0) -> float:
        """:math:`\\overline{r^2} + w_b\\,\\overline{(r^b)^2}`."""
        return float((self.r ** 2).mean() + boundary_weight * (self.rb ** 2).mean())


def residual(engine, net, inst: Instance, grid: bool = False) -> Residual:
    """The residuals of ``net`` on ``inst`` (detached), with the grid residual when ``grid``."""
    r, _ = interior_residual(engine, net, inst.Z[None], inst.coef[None], inst.f[None])
    rb, _ = boundary_residual(engine, net, inst.Zb[None], inst.nu[None], inst.a[None], inst.b[None], inst.g[None])
    rg = None
    if grid:
        G = inst.inside.shape[0]
        coef = inst.grid_coef.reshape(6, -1).T[None]
        rg, _ = interior_residual(engine, net, inst.grid_points[None], coef, inst.grid_source.reshape(1, -1))
        rg = (rg[0].reshape(G, G) * inst.inside).detach()
    return Residual(r[0].detach(), rb[0].detach(), rg)


def generate(hyper: HyperNetwork, inst: Instance) -> torch.Tensor:
    """The flat PINN parameters the hypernetwork gives ``inst``."""
    with torch.no_grad():
        return hyper(image(inst)[None])[0]


def zero_shot(hyper: HyperNetwork, inst: Instance) -> Ensemble:
    """The generated PINN of ``inst``, as a one-term ensemble."""
    return Ensemble(hyper, inst.lo, inst.hi, [generate(hyper, inst)], [float(inst.scale)])


def _train_delta(hyper: HyperNetwork, engine, delta: Instance, theta: torch.Tensor, steps: int, lr: float,
                 boundary_weight: float) -> torch.Tensor:
    """``steps`` Adam steps (:func:`symop.training.optimize`) on the delta problem's physics loss, from ``theta``."""
    holder = torch.nn.Module()
    holder.theta = torch.nn.Parameter(theta.clone())
    s = float(delta.scale)
    net = lambda Z: s * hyper.target.apply(holder.theta[None], Z, delta.lo[None], delta.hi[None])  # noqa: E731

    def loss(step: int):
        r, _ = interior_residual(engine, net, delta.Z[None], delta.coef[None], delta.f[None])
        rb, _ = boundary_residual(engine, net, delta.Zb[None], delta.nu[None], delta.a[None], delta.b[None], delta.g[None])
        total = ((r ** 2).mean() + boundary_weight * (rb ** 2).mean()) / s ** 2
        return total, {"interior": (r ** 2).mean() / s ** 2, "boundary": (rb ** 2).mean() / s ** 2}

    optimize(holder, loss, [Phase(steps, "adam", lr)], label="hypino delta", hint="lower `delta_lr`")
    return holder.theta.detach()


def refine(hyper: HyperNetwork, engine, inst: Instance, ensemble: Ensemble, steps: int, *, delta_steps: int = 0,
           delta_lr: float = 1e-3, boundary_weight: float = 1.0) -> list[dict]:
    """``steps`` refinement steps on ``ensemble`` in place; one record per state (the first is before refining)."""
    current = residual(engine, ensemble, inst, grid=True)
    history = [{"step": 0, "residual": current.loss(boundary_weight)}]
    for k in range(1, steps + 1):
        delta = inst.with_data(-current.r, -current.rb, -current.grid)
        theta = generate(hyper, delta)
        if delta_steps > 0:
            theta = _train_delta(hyper, engine, delta, theta, delta_steps, delta_lr, boundary_weight)
        s = float(delta.scale)
        step_net = Ensemble(hyper, inst.lo, inst.hi, [theta], [s])
        # L(delta) and B(delta): residuals of delta for zero data
        zero = inst.with_data(torch.zeros_like(inst.f), torch.zeros_like(inst.g), torch.zeros_like(inst.grid_source))
        Ld = residual(engine, step_net, zero)
        num = float((current.r * Ld.r).mean() + boundary_weight * (current.rb * Ld.rb).mean())
        den = float((Ld.r ** 2).mean() + boundary_weight * (Ld.rb ** 2).mean())
        lam = -num / den if den > 0 else 0.0
        ensemble.thetas.append(theta)
        ensemble.weights.append(lam * s)
        current = residual(engine, ensemble, inst, grid=True)
        history.append({"step": k, "residual": current.loss(boundary_weight), "lambda": lam})
    return history
