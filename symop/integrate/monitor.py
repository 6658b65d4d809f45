"""A growth monitor for time loops: a solution that grows because of the time step stops with a sentence.

An explicit scheme run beyond its stability limit amplifies its stiffest modes
by :math:`|R(z)| > 1` per step (:math:`R` the scheme's stability function,
:math:`z = \\lambda\\,\\Delta t`); the norm then grows geometrically while the
true solution decays, and without a guard the run ends with a confident,
meaningless answer (or fails only when :math:`|u|` passes :math:`10^{12}`).

Growth alone does not tell an instability from a solution that really grows
(a reaction term, a forcing).  What does is how the growth depends on the
step: for a solution the scheme resolves, one step of :math:`\\Delta t`, two of
:math:`\\Delta t/2` and four of :math:`\\Delta t/4` grow :math:`\\max|u|` by
nearly the same factor (they differ by :math:`O(\\Delta t^p)`); for an unstable
mode they differ by large factors (forward Euler at :math:`z = -6` gives 5, 4
and 0.06).  :class:`GrowthMonitor` watches :math:`M_k = \\max|u^k|`; each time
it has grown :attr:`~GrowthMonitor.factor` times past its reference (the
initial :math:`M_0`, or the first nonzero value when the run starts from
zero) it makes that probe from the current state, and stops the run with a
:class:`~symop.errors.SolveError` naming the step, the time and the measured
factors when they disagree by more than :attr:`~GrowthMonitor.tolerance`.
Otherwise the growth is accepted and the reference moves up to :math:`M_k`,
so a really growing solution costs one probe (seven extra steps) per decade.

A probe whose steps fail (an implicit stage's solve meets the overflowing
values, a :class:`~symop.errors.SolveError`) cannot finish its measurement.  A
failure that follows a measured factor of :attr:`~GrowthMonitor.blow_up`
(``1e5``) or more, or factors that already disagree, is itself the
instability and stops the run with the same sentence (ARS(2,2,2) on Burgers'
equation beyond its step grew max|u| by 1.8e5 in one step and 3e24 in two
half steps before the solves of four quarter steps failed; accepting it ended
the run at max|u| = 2.6e7).  A failure with no such measurement still counts
as "cannot measure", and the growth is accepted.

What it cannot see is growth that the time step does not cause: an eigenvalue
of the spatial operator itself in the wrong place (a boundary closure whose
complex eigenvalues make a wave grow like :math:`e^{\\mu t}` at any
:math:`\\Delta t`) is resolved by the scheme, so the probe's factors agree (to
1 % in such a run, where :math:`\\max|u|` grew by 10^8) and the growth passes as
the solution's.  Such operators have to be stable by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from symop.errors import SolveError, SymopError

from .explicit import Stepper


def max_abs(u: torch.Tensor) -> float:
    """:math:`\\max_i |u_i|` of a state (0 for an empty one); NaN or inf when the state has them."""
    if u.numel() == 0:
        return 0.0
    if u.is_complex():
        return float(u.detach().abs().max())
    # one pass without an |u| temporary (NaN and inf propagate, as in max(|u|))
    low, high = torch.aminmax(u.detach())
    return max(-float(low), float(high))


@dataclass
class GrowthMonitor:
    """Watches :math:`\\max|u|` over a run of ``stepper`` with step ``dt`` and stops numerical growth.

    :param factor: growth of :math:`\\max|u|` past the reference that triggers a probe.
    :param tolerance: the largest ratio between the growth factors of 1, 2 and 4
        substeps that still counts as a resolved, real growth.
    :param substeps: the substep counts of the probe.
    :param max_probes: probes per run at most (one per decade of accepted growth),
        so that a run from a tiny initial state costs a bounded number of extra steps.
    :param blow_up: a growth factor of one probe measurement past which a failure of
        the probe's further steps counts as numerical growth (a resolved solution does
        not grow 10^5-fold within one step, and its finer steps do not fail).
    """

    stepper: Stepper
    dt: float
    factor: float = 10.0
    tolerance: float = 2.0
    substeps: tuple[int, ...] = (1, 2, 4)
    max_probes: int = 24
    blow_up: float = 1e5
    reference: float = 0.0
    initial: float = 0.0
    probes: int = 0
    history: list[tuple[int, float, float]] = field(default_factory=list)
    #: why the last probe's steps failed (None: they did not)
    failure: str | None = None

    def start(self, u0: torch.Tensor) -> None:
        """Take :math:`M_0 = \\max|u^0|` as the reference."""
        m = self._measure(u0)
        self.initial = m if math.isfinite(m) else 0.0
        self.reference = self.initial

    def _measure(self, u: torch.Tensor) -> float:
        """max|u| over the whole state: ``stepper.max_abs`` when the stepper has one (a grid split across
        processes reduces it over all of them, so every process probes at the same step), else :func:`max_abs`."""
        return getattr(self.stepper, "max_abs", max_abs)(u)

    def observe(self, step: int, t: float, u: torch.Tensor) -> None:
        """Check the state ``u`` after ``step`` steps (time ``t``); raise :class:`SolveError` on numerical growth."""
        m = self._measure(u)
        if not math.isfinite(m) or m == 0.0:
            return  # non-finite states are the driver's blow-up check's to report
        if self.reference <= 0.0:
            self.reference = m  # a run from rest: the first nonzero state sets the scale
            return
        if m < self.factor * self.reference or self.probes >= self.max_probes:
            return
        growth = self.probe(t, u, m)
        self.history.append((step, t, m))
        if growth is not None:
            raise SolveError(self._message(step, t, m, growth))
        self.reference = m

    def probe(self, t: float, u: torch.Tensor, m: float) -> list[float] | None:
        """The growth factors of one step ``dt`` made as 1, 2, 4 substeps from ``u`` at ``t``,
        when they disagree (numerical growth); ``None`` when they agree or cannot be measured.

        When the steps of a substep count fail after a factor of :attr:`blow_up` or more, or after factors
        that disagree already, the factors measured so far are returned (numerical growth, :attr:`failure`
        says why the rest failed); a failure before any such evidence gives ``None``.
        """
        self.probes += 1
        self.failure = None
        factors: list[float] = []
        try:
            with torch.no_grad():
                for count in self.substeps:
                    h = self.dt / count
                    v = u
                    for j in range(count):
                        v = self.stepper.step(t + j * h, v, h)
                    factors.append(self._measure(v) / m)
        except (SymopError, ArithmeticError, RuntimeError) as e:
            if factors and (max(factors) >= self.blow_up or not math.isfinite(max(factors))
                            or self._disagree(factors)):
                self.failure = str(e).strip() or type(e).__name__
                return factors
            return None
        high = max(factors)
        if not math.isfinite(high):
            return factors
        if self._disagree(factors):
            return factors
        return None

    def _disagree(self, factors: list[float]) -> bool:
        """Whether growth factors differ by more than :attr:`tolerance` (and some growth is measured)."""
        high, low = max(factors), min(factors)
        return high > 1.0 and high > self.tolerance * max(low, 1e-300)

    def _message(self, step: int, t: float, m: float, growth: list[float]) -> str:
        factors = [f"{g:.3g} in one step" if c == 1 else f"{g:.3g} in {c} steps of dt/{c}"
                   for c, g in zip(self.substeps, growth)]
        start = f"{self.initial:.3g}" if self.initial > 0 else "0"
        measured = factors[0] if len(factors) == 1 else ", by ".join(factors[:-1]) + f" and by {factors[-1]}"
        if len(growth) < len(self.substeps):  # the probe's further steps failed
            c = self.substeps[len(growth)]
            reason = (self.failure or "").rstrip(".")
            measured += f", and {'one step' if c == 1 else f'{c} steps of dt/{c}'} failed" + (
                f" ({reason})" if reason else "")
        return (
            f"the solution grew from max |u| = {start} to {m:.3g} at step {step} (t = {t:.6g}), and the growth "
            f"depends on the time step dt = {self.dt:.3g}: from there max |u| grows by "
            + measured + ". "
            "The scheme is unstable at this dt (or does not resolve the growth), so the result would be wrong: "
            "try a smaller dt or an implicit scheme such as "
            "--set scheme=crank-nicolson"
        )
