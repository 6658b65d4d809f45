"""The time loop: equal steps from t0 to t1, snapshots, blow-up detection."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch

from symop import trackers as _trackers
from symop.errors import SolveError

from .explicit import IntegratorError, NonFiniteStage, Stepper
from .monitor import GrowthMonitor
from .monitor import max_abs as _largest

Progress = Callable[[int, int, float], None]
#: ``fields(t, u)`` -> the state ``u`` at ``t`` as named fields (what trackers see)
Fields = Callable[[float, torch.Tensor], Mapping[str, Any]]


@dataclass
class Trajectory:
    """Snapshots of a run: ``states[i]`` is the solution at ``times[i]``.

    ``steps`` is the number of time steps taken, ``dt`` the step actually used;
    ``stopped`` says why a tracker ended the run early (``None`` otherwise),
    and the last snapshot is then the state where it stopped.
    """

    times: list[float] = field(default_factory=list)
    states: list[torch.Tensor] = field(default_factory=list)
    steps: int = 0
    dt: float = 0.0
    stopped: str | None = None

    @property
    def final(self) -> torch.Tensor:
        """The state at the last snapshot (t1)."""
        return self.states[-1]

    def __len__(self) -> int:
        return len(self.times)


def step_count(t0: float, t1: float, dt: float) -> int:
    """n = ceil((t1 - t0)/dt - 1e-12): the equal steps dt' = (t1 - t0)/n <= dt."""
    return max(1, math.ceil((t1 - t0) / dt - 1e-12))


def _save_times(save_times: Sequence[float] | int | None, t0: float, t1: float) -> list[float]:
    if save_times is None:
        times = [t0, t1]
    elif isinstance(save_times, numbers.Integral) and not isinstance(save_times, bool):
        save_times = int(save_times)
        if save_times < 2:
            raise IntegratorError(f"save_times must count at least 2 snapshots, got {save_times}")
        times = [t0 + (t1 - t0) * i / (save_times - 1) for i in range(save_times)]
    else:
        times = [float(s) for s in save_times]
        span = t1 - t0
        tol = 1e-12 * max(1.0, abs(t0), abs(t1))
        for s in times:
            if (s - t0) * (s - t1) > tol * max(1.0, abs(span)):
                raise IntegratorError(f"save time {s:g} lies outside [{t0:g}, {t1:g}]")
        times = times + [t0, t1]
    return sorted(set(times))


def _check(u: torch.Tensor, step: int, t: float, dt: float, max_abs: float,
           measure: Callable[[torch.Tensor], float] | None = None) -> None:
    """Raise :class:`SolveError` when ``u`` has NaN/inf or max|u| > ``max_abs``.

    ``measure(u)``, when given, is max|u| over the whole state (NaN when any
    value is NaN): a stepper on a grid split across processes
    (``stepper.max_abs``) reduces it over all of them, so that every process
    stops at the same step.
    """
    # max|u| in one pass: NaN when any value is NaN, else inf when any is infinite
    big = measure(u) if measure is not None else _largest(u)
    if math.isfinite(big):
        if big <= max_abs:
            return
        what = f"exceeded |u| = {max_abs:g} (max |u| = {big:.3g})"
    else:
        what = "became NaN" if math.isnan(big) else "became infinite"
    raise SolveError(_unstable(what, step, t, dt))


def _unstable(what: str, step: int, t: float, dt: float) -> str:
    """The driver's stability sentence: the solution ``what`` at ``step`` (time ``t``) with the step ``dt``."""
    return (f"the solution {what} at step {step} (t = {t:g}); the time step dt = {dt:g} "
            "may exceed the stability limit: try a smaller dt or an implicit scheme "
            "such as --set scheme=crank-nicolson")


def _step(stepper: Stepper, t: float, u: torch.Tensor, dt: float, step: int, h: float) -> torch.Tensor:
    """``stepper.step(t, u, dt)``; a blow-up inside it (:class:`NonFiniteStage`) becomes the stability sentence."""
    try:
        return stepper.step(t, u, dt)
    except NonFiniteStage:
        raise SolveError(_unstable("became NaN or infinite inside a time step", step, t + dt, h)) from None


def integrate(
    stepper: Stepper,
    u0: torch.Tensor,
    t0: float,
    t1: float,
    dt: float,
    *,
    save_times: Sequence[float] | int | None = None,
    progress: Progress | None = None,
    check_every: int = 10,
    max_abs: float = 1e12,
    monitor: bool = True,
    fields: Fields | None = None,
) -> Trajectory:
    """Integrate from ``t0`` to ``t1`` with ``n = ceil((t1 - t0)/dt - 1e-12)`` equal
    steps dt' = (t1 - t0)/n, t^k = t0 + k dt'.

    ``save_times``: None (t0 and t1 only), an int count (that many equally spaced
    snapshots including t0 and t1) or a sequence of times in [t0, t1] (t0 and t1
    are always added).  A time on the grid (within 1e-9 dt') takes the grid
    state; a time between t^k and t^{k+1} is reached by an extra partial step of
    length s - t^k from t^k, which does not perturb the main grid.

    ``progress(step, total, t)`` is called after each step.  Every
    ``check_every`` steps and at the end the state is checked for NaN/inf and
    for max|u| > ``max_abs``; failure raises :class:`SolveError` naming the step,
    the time and dt.  With ``monitor``, a :class:`~symop.integrate.monitor.GrowthMonitor`
    also watches max|u| (every step on the CPU, every ``check_every`` steps
    elsewhere) and stops a growth that depends on the time step (an unstable
    explicit scheme) long before ``max_abs``.

    Trackers (:mod:`symop.trackers`) of the solve in progress are called at
    step 0, every ``every`` steps and at the last step with the time and the
    fields ``fields(t, u)`` names; one that raises
    :class:`~symop.trackers.StopRun` ends the loop there: the trajectory then
    ends with that state and ``stopped`` holds the reason.
    """
    if not dt > 0:
        raise IntegratorError(f"the time step must be positive, got dt = {dt}")
    if not t1 > t0:
        raise IntegratorError(f"the end time t1 = {t1} must exceed the start time t0 = {t0}")
    check_every = max(1, int(check_every))
    measure = getattr(stepper, "max_abs", None)  # max|u| of a state split across processes
    n = step_count(t0, t1, dt)
    h = (t1 - t0) / n
    wanted = _save_times(save_times, t0, t1)
    traj = Trajectory(steps=n, dt=h)
    watch = GrowthMonitor(stepper, h) if monitor else None
    if watch is not None:
        watch.start(u0)
    # elsewhere each look is a device synchronisation; a stepper that is one compiled pass over the state
    # (``watch_every_step = False``) would spend a third of its time on the look
    every_step = u0.device.type == "cpu" and getattr(stepper, "watch_every_step", True)
    eps = 1e-9 * h

    u = u0
    idx = 0  # next wanted snapshot
    while idx < len(wanted) and wanted[idx] <= t0 + eps:
        traj.times.append(wanted[idx])
        traj.states.append(u0.clone())
        idx += 1
    run = _trackers.active()
    if run is not None and _observe(run, 0, n, t0, u0, fields, False):
        return _stopped(traj, run, 0, t0, u0)
    t = t0
    for k in range(1, n + 1):
        t_prev = t
        u_prev = u
        t = t1 if k == n else t0 + k * h
        # snapshots strictly inside (t_prev, t): partial steps from t_prev
        while idx < len(wanted) and wanted[idx] < t - eps:
            s = wanted[idx]
            v = _step(stepper, t_prev, u_prev, s - t_prev, k, h)
            _check(v, k, s, h, max_abs, measure)
            traj.times.append(s)
            traj.states.append(v)
            idx += 1
        u = _step(stepper, t_prev, u, h, k, h)
        if k % check_every == 0 or k == n:
            _check(u, k, t, h, max_abs, measure)
        if watch is not None and (every_step or k % check_every == 0 or k == n):
            watch.observe(k, t, u)
        while idx < len(wanted) and wanted[idx] <= t + eps:
            if not (k % check_every == 0 or k == n):
                _check(u, k, t, h, max_abs, measure)
            traj.times.append(wanted[idx])
            traj.states.append(u)
            idx += 1
        if progress is not None:
            progress(k, n, t)
        if run is not None and run.due(k, k == n) and _observe(run, k, n, t, u, fields, k == n):
            return _stopped(traj, run, k, t, u)
    return traj


def _observe(run: "_trackers.Run", k: int, n: int, t: float, u: torch.Tensor, fields: Fields | None,
             last: bool) -> bool:
    """Show the trackers step ``k``; ``True`` when one of them stops the run."""
    convert = (lambda: fields(t, u)) if fields is not None else None
    return run.observe(_trackers.StepState(k, n, t, "time", u, converter=convert), last)


def _stopped(traj: Trajectory, run: "_trackers.Run", k: int, t: float, u: torch.Tensor) -> Trajectory:
    """``traj`` ended at step ``k``: its last snapshot is ``u`` at ``t``."""
    if not traj.times or traj.times[-1] < t:
        traj.times.append(t)
        traj.states.append(u if k else u.clone())
    traj.steps = k
    traj.stopped = (run.stopped or {}).get("reason", "stopped")
    return traj
