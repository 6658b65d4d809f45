r"""Residuals and losses of generated PINNs, batched over instances.

For a batch of instances with networks :math:`u_j` (any callable on the
points; usually :meth:`Target.apply` with one weight set per instance, times
the data scale :math:`s_j`):

.. math::
   r_j(z) = \sum_\alpha c_{\alpha}(z)\,\partial^\alpha u_j(z) - f_j(z), \qquad
   r^b_j(z) = a(z)\,u_j(z) + b(z)\,\nu\cdot\nabla u_j(z) - g_j(z),

and, with :math:`\overline{\cdot}` the mean over an instance's points,

.. math::
   \mathcal L_{\text{phys}} = \frac1B \sum_j \frac{\overline{r_j^2} + w_b\,\overline{(r^b_j)^2}}{s_j^2},
   \qquad
   \mathcal L_{\text{data}} = \frac1B \sum_j \ell_j\,
   \frac{\overline{(u_j - u^\star_j)^2} + \overline{(u_j - u^\star_j)^2}\big|_{\partial\Omega}}
        {\overline{(u^\star_j)^2} + \overline{(u^\star_j)^2}\big|_{\partial\Omega}},

with :math:`\ell_j = 1` for labelled (manufactured) instances.  Derivatives come
from a :mod:`symop.nn` engine (exact autograd, or Taylor-mode jets
with ``stde``) applied to the flattened batch: rows of different instances
do not interact, so one call differentiates every network at once.
"""

from __future__ import annotations

from typing import Callable

import torch

from symop.nn import Engine, Layout
from symop_hypino.linear import KEYS

#: input columns of each derivative in :data:`KEYS`
COLUMNS: tuple[tuple[int, ...], ...] = tuple(tuple([0] * k0 + [1] * k1) for k0, k1 in KEYS)
_LAYOUT = Layout(2, {}, {"u": 0})

Network = Callable[[torch.Tensor], torch.Tensor]  # (B, N, 2) -> (B, N)


def derivatives(engine: Engine, net: Network, Z: torch.Tensor, which: list[int]) -> dict[int, torch.Tensor]:
    """``{k: ∂^{KEYS[k]} u}`` ``(B, N)`` for the indices ``which`` (0 is ``u`` itself)."""
    B, N, _ = Z.shape
    X = Z.reshape(B * N, 2).detach().requires_grad_(engine.name == "autograd")
    flat = lambda X: net(X.reshape(B, -1, 2)).reshape(-1, 1)  # noqa: E731
    ev = engine.evaluation(flat, X, _LAYOUT)
    out = {}
    for k in which:
        value = ev.out()[:, 0] if k == 0 else engine.partial(ev, 0, COLUMNS[k])
        out[k] = value.reshape(B, N)
    return out


def interior_residual(engine: Engine, net: Network, Z: torch.Tensor, coef: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r, u)`` at interior points: ``r = sum_k coef[..., k] ∂^k u - f``."""
    which = [0] + [k for k in range(1, len(KEYS)) if bool((coef[..., k] != 0).any())]
    d = derivatives(engine, net, Z, which)
    r = sum(coef[..., k] * d[k] for k in which) - f
    return r, d[0]


def boundary_residual(engine: Engine, net: Network, Zb: torch.Tensor, nu: torch.Tensor, a: torch.Tensor,
                      b: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r_b, u)`` at boundary points: ``r_b = a u + b ν·∇u - g``."""
    which = [0, 1, 2] if bool((b != 0).any()) else [0]
    d = derivatives(engine, net, Zb, which)
    r = a * d[0] - g
    if len(which) > 1:
        r = r + b * (nu[..., 0] * d[1] + nu[..., 1] * d[2])
    return r, d[0]


def losses(engine: Engine, net: Network, batch: dict[str, torch.Tensor], boundary_weight: float = 1.0
           ) -> dict[str, torch.Tensor]:
    """Per-instance ``physics`` and ``data`` losses ``(B,)`` (see the module docstring)."""
    s2 = batch["scale"] ** 2
    r, u = interior_residual(engine, net, batch["Z"], batch["coef"], batch["f"])
    rb, ub = boundary_residual(engine, net, batch["Zb"], batch["nu"], batch["a"], batch["b"], batch["g"])
    physics = ((r ** 2).mean(1) + boundary_weight * (rb ** 2).mean(1)) / s2
    norm = ((batch["u"] ** 2).mean(1) + (batch["ub"] ** 2).mean(1)).clamp_min(1e-12)
    data = (((u - batch["u"]) ** 2).mean(1) + ((ub - batch["ub"]) ** 2).mean(1)) / norm * batch["labelled"]
    return {"physics": physics, "data": data}


def generated(target, theta: torch.Tensor, batch: dict[str, torch.Tensor]) -> Network:
    """The batch's generated networks ``u_j = s_j * PINN(theta_j)`` as one callable."""
    lo, hi, s = batch["lo"], batch["hi"], batch["scale"]
    return lambda Z: s[:, None] * target.apply(theta, Z, lo, hi)
