r"""Whether the time step resolved the run: the equation's residual at the step ends, measured after the run.

With :math:`u_k` the stored state at :math:`t_k` and :math:`F_k = F(t_k, u_k)`
its right-hand side, a step that moves the field by the average rate
:math:`\tfrac12 (F_k + F_{k+1})` (what the implicit midpoint rule, Crank–Nicolson
and every second-order scheme do to leading order) leaves at its ends the
residual :math:`\partial_t u - F = \pm\tfrac12 (F_{k+1} - F_k)`.  Its size,
relative to the largest rate of the run,

.. math::

    \rho = \frac{\max_k \operatorname{rms}(F_{k+1} - F_k)}{2 \max_k \operatorname{rms} F_k},

is half the relative change of the rate over one step: for a mode that decays
or turns at the rate :math:`\lambda` it is :math:`\lambda \Delta t / 2`.  A
step resolves the dynamics only while :math:`\rho` is small (the local error of
a scheme of order :math:`p` is :math:`O((\lambda \Delta t)^{p+1})`); at
:math:`\rho \gtrsim 1/2` the update no longer follows the solution at all
(a decaying mode may even change sign), whatever the fit's loss says.
Unlike the chord :math:`(u_{k+1} - u_k)/\Delta t`, the rates carry no
:math:`1/\Delta t` amplification of the fits' errors, so a small ``dt`` with
imperfect fits is not mistaken for an unresolved one.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .physics import StepPhysics
from .state import Snapshot

#: the relative residual above which a run warns that its time step is too large for accuracy
LIMIT = 0.1
#: a run whose stored states all stay within this fraction of its size from the first is steady: its rates
#: are the fitted networks' noise, and no step size is measured
STEADY = 1e-2


def time_residual(physics: StepPhysics, nets: Sequence[torch.nn.Module], times: Sequence[float], points: int,
                  seed: int) -> float:
    r""":math:`\rho` of the module docstring for the stored states ``nets`` at ``times``, measured at
    ``points`` interior points (seeded by ``seed``); 0 for a single state or a steady run."""
    if len(nets) < 2:
        return 0.0
    rng = np.random.default_rng((int(seed), 10**9 + 7))
    X = physics.sample(rng, int(points), 0).X
    if physics.loss.engine.name == "autograd":
        X.requires_grad_(True)
    rates, values = [], []
    for net, t in zip(nets, times):
        state = Snapshot(net)
        with torch.enable_grad():
            rate = physics.rate(float(t), state, X).detach()
        rates.append(rate)
        with torch.no_grad():
            values.append(state(physics.with_time(X, float(t))).detach())
    size = max(float(v.pow(2).mean().sqrt()) for v in values)
    moved = max(float((v - values[0]).pow(2).mean().sqrt()) for v in values)
    if not moved > STEADY * size:
        return 0.0
    largest = max(float(r.pow(2).mean().sqrt()) for r in rates)
    change = max(float((b - a).pow(2).mean().sqrt()) for a, b in zip(rates[:-1], rates[1:]))
    return change / (2.0 * largest)


def warning(rho: float, dt: float, points: int) -> str | None:
    """The sentence a run with the measured ``rho`` and step ``dt`` warns with, or ``None`` when it resolved."""
    if not rho > LIMIT:
        return None
    return (f"the time step dt = {dt:.3g} is too large for accuracy: at the step ends the equation's residual "
            f"dt(u) - F(u) is {rho:.2g} of the largest rate (measured at {points} points; below {LIMIT:g} the steps "
            f"resolve the dynamics); a smaller dt, e.g. --set dt={dt * min(0.5, LIMIT / rho):.2g}, follows the "
            "solution more closely.")
