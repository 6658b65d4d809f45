r"""Fine-tuning a generated solution as an ordinary PINN.

:func:`as_module` turns an :class:`~symop_hypino.refine.Ensemble`
:math:`U = \sum_i w_i\,\mathrm{PINN}(\theta_i)` into a sum of
:class:`symop.nn.MLP`\ s with the generated weights (each weight
:math:`w_i` folded into its last layer), so that the ``pinn`` method's own
physics loss (:class:`symop.nn.PhysicsLoss`) trains it.
:func:`finetune` runs a registered optimizer (Adam at a constant rate by
default; ``engd``'s Gauss–Newton steps with their line search; ``kfac`` on a
single generated MLP without Fourier features) on that loss
with fresh collocation points every step, in the shared loop
(:func:`symop.training.optimize`), and calls back every ``every`` steps (the
benchmark measures the error there).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from symop.nn import MLP, objective
from symop.training import Phase, get_optimizer, optimize
from symop_hypino.refine import Ensemble


class Sum(nn.Module):
    """``x ↦ Σ_k net_k(x)``, inputs ``(N, 2)`` → ``(N, 1)``."""

    def __init__(self, nets: list[nn.Module]) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(net(x) for net in self.nets)


def as_module(ensemble: Ensemble) -> nn.Module:
    """The ensemble as trainable :class:`~symop.nn.MLP`\\ s (same function): the one MLP itself when there
    is one term (no refinement), which ``kfac`` takes Kronecker factors of, else their :class:`Sum`."""
    cfg = ensemble.hyper.config
    target = ensemble.hyper.target
    lo, hi = ensemble.lo.double(), ensemble.hi.double()
    nets = []
    for theta, w in zip(ensemble.thetas, ensemble.weights):
        mlp = MLP(2, 1, cfg.width, cfg.depth, cfg.activation, cfg.fourier, cfg.sigma,
                  shift=(lo + hi) / 2, scale=(hi - lo) / 2)
        layers = target.layers(theta[None].detach())
        with torch.no_grad():
            if cfg.fourier > 0:
                mlp.B.copy_(target.B)
            for lin, (W, b) in zip(list(mlp.hidden) + [mlp.last], layers):
                lin.weight.copy_(W[0])
                lin.bias.copy_(b[0])
            mlp.last.weight.mul_(w)
            mlp.last.bias.mul_(w)
        nets.append(mlp)
    if len(nets) == 1:
        return nets[0].to(ensemble.lo.dtype)
    return Sum(nets).to(ensemble.lo.dtype)


def finetune(model: nn.Module, loss, steps: int, lr: float = 1e-3, every: int = 0,
             callback: Callable[[int, nn.Module], None] | None = None, progress: bool = False,
             optimizer: str = "adam") -> list[float]:
    """``steps`` steps of ``optimizer`` on ``loss`` (a :class:`~symop.nn.PhysicsLoss`); returns the losses.

    A Gauss–Newton optimizer (``engd``) takes its step lengths from its line
    search; ``lr`` is then its largest step (1).

    ``callback(step, model)`` runs before training and after every ``every`` steps.
    """
    calls = []
    if callback is not None and every:
        callback(0, model)
        calls.append(lambda record: callback(record.step, model) if record.step % every == 0 else None)
    batch, value = objective(model, loss)
    phase = Phase(steps, optimizer, 1.0 if get_optimizer(optimizer).residuals else lr)
    return optimize(model, value, [phase], batch=batch, progress=progress,
                    label="hypino fine-tune", hint="lower `finetune_lr`", callbacks=calls).losses
