"""Training a PINN in the shared loop (:func:`symop.training.optimize`): an optimizer, then optionally L-BFGS.

The objective of step ``k`` (:func:`symop.nn.objective.objective`) is the
physics loss at fresh collocation points drawn by ``loss.sample(k)``, with the
STDE directions (when the engine is stochastic) reseeded from ``(seed, k)``
before every evaluation, so the run is seeded throughout and a checkpoint
resumes it exactly.  With ``optimizer`` ``adam`` (or ``soap``) the learning
rate decays exponentially to ``lr * lr_decay`` over its steps; with a
Gauss–Newton optimizer (``engd``) ``warmup`` Adam steps come first (rate
``lr`` decayed the same way), then ``steps`` steps of the optimizer whose step
lengths come from its line search.  L-BFGS then runs up to ``lbfgs``
iterations as one step on the points of the last step.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from symop.errors import OptionError
from symop.nn import objective
from symop.threads import SMALL_WORK_ELEMENTS, small_work_threads
from symop.training import Checkpoint, DistInfo, Phase, Schedule, StepRecord, get_optimizer, optimize

#: below this many elements in a step's widest layer input (collocation points x max(width, d)) pinn trains on
#: the CPU on one intra-op thread.  Such a step is a few hundred operations of tens of microseconds to about a
#: millisecond each, and every one torch splits over OpenMP threads ends at a barrier: on 2 cores shared with
#: other jobs (load average 5-6; benchmarks/RESULTS.md, pinn) a training step of the 100-point Sine-Gordon
#: example took 2-4x (at times 100x) the CPU and wall time on two threads that it took on one, the master
#: spinning while its peer waited for a time slice; with OMP_WAIT_POLICY=passive two threads took the one
#: thread's time, so the second thread bought nothing at these sizes.  The same bound as fd's eager steps
#: (2^20 grid points); larger steps keep torch's threads.
ONE_THREAD_ELEMENTS = SMALL_WORK_ELEMENTS


def training_threads(points: int, width: int, dim: int, device: Any = "cpu") -> int | None:
    """The intra-op thread count pinn trains with: 1 on the CPU when ``points * max(width, dim)`` is below
    :data:`ONE_THREAD_ELEMENTS` and torch has more than one thread, else None (torch's setting stays)."""
    return small_work_threads(points * max(width, dim), device)


def phases_for(optimizer: str = "adam", steps: int = 2000, lr: float = 1e-3, lr_decay: float = 0.1,
               warmup: int = 0, lbfgs: int = 0, options: Mapping[str, Any] | None = None) -> list[Phase]:
    """The training phases of the options: ``warmup`` Adam steps, ``steps`` of ``optimizer``, then L-BFGS."""
    spec = get_optimizer(optimizer)
    phases = []
    decay = Schedule("exponential", lr_decay)
    if spec.residuals:
        if warmup > 0:
            phases.append(Phase(warmup, "adam", lr, decay))
        phases.append(Phase(steps, optimizer, 1.0, options=dict(options or {})))
    else:
        if warmup > 0 and optimizer != "adam":
            phases.append(Phase(warmup, "adam", lr, decay))
        phases.append(Phase(steps, optimizer, lr, decay if optimizer != "lbfgs" else Schedule(),
                            options=dict(options or {})))
    return phases


def train(model, loss, *, steps: int = 2000, lr: float = 1e-3, lr_decay: float = 0.1, lbfgs: int = 0,
          checkpoint: str = "", progress: bool = False, log_every: int = 50, label: str = "pinn",
          hint: str | Callable[[Phase], str] | None = None, callbacks: Sequence[Callable[[StepRecord], None]] = (),
          optimizer: str = "adam", warmup: int = 0, options: Mapping[str, Any] | None = None,
          resample: bool = True, info: DistInfo | None = None, stamp: Mapping[str, Any] | None = None
          ) -> dict[str, Any]:
    """Minimise ``loss(model, batch)``; returns the losses, a sparse history and timings.

    A ``checkpoint`` file is written every tenth of the steps and after each
    phase, and resumed from when it exists.  Without ``resample`` every step
    trains on the points of step 0.  With ``info`` of several processes
    (``model`` wrapped for DDP) each process trains on its shard of every
    term's points (:func:`shard_points`): the loss and the gradient are the
    whole set's, averaged over the processes.  ``stamp`` (the problem, the
    network's options, the optimizer: :func:`run_stamp`) is written into the
    checkpoint, and a checkpoint written with another is refused, not resumed.
    ``hint`` ends the error of a non-finite loss (by default :func:`nonfinite_hint`).
    """
    phases = phases_for(optimizer, steps, lr, lr_decay, warmup, 0, options)
    steps = sum(p.steps for p in phases)
    if lbfgs > 0:
        phases.append(Phase(1, "lbfgs", 1.0, options={"max_iter": int(lbfgs)}))
    batch, value = objective(model, loss)
    if not resample:
        draw = batch
        batch = lambda step: draw(0)  # noqa: E731 - the same points every step
    if info is not None and info.is_distributed:
        whole = batch
        shard_points(whole(0)[0], info)  # uneven shards are refused before any step

        def batch(step: int):  # noqa: F811 - this process's share of the step's points
            points, seed = whole(step)
            return shard_points(points, info), seed
    saving = (Checkpoint(checkpoint, every=max(1, steps // 10), resume=True, extra=dict(stamp or {}))
              if checkpoint else None)
    result = optimize(model, value, phases, batch=batch, info=info, checkpoint=saving, progress=progress, label=label,
                      hint=nonfinite_hint if hint is None else hint, callbacks=callbacks)
    history = [(k, v) for k, v in enumerate(result.losses) if k >= steps or k % log_every == 0 or k == steps - 1]
    return {"losses": result.losses, "history": history, "final_loss": result.final_loss,
            "train_time": result.wall_time, "adam_time": result.phase_times[0], "start_step": result.start_step,
            "phase_times": result.phase_times}


def nonfinite_hint(phase: Phase) -> str:
    """What to change when the loss of ``phase`` became infinite or NaN: the rate of a first-order optimizer; the
    damping, the precision or an Adam warm-up of a Gauss–Newton one (which finds its own step)."""
    if get_optimizer(phase.optimizer).residuals:
        return (f"raise `damping` ({phase.optimizer}'s regularisation), train in dtype float64, or warm up with adam "
                "(`warmup`)")
    return "lower `lr`"


#: the options of a pinn run that its checkpoint must have been written with: those that make the network, the
#: optimizer (whose state the checkpoint holds), and the problem (:func:`run_stamp`)
STAMPED = ("width", "depth", "activation", "fourier", "sigma", "hard", "output_scale", "optimizer")

#: the name an option has in the checkpoint, where the loop's own keys (:data:`~symop.training.loop.CHECKPOINT_KEYS`)
#: are taken
STAMP_NAMES = {"optimizer": "optimizer option"}


def run_stamp(problem, options: Mapping[str, Any]) -> dict[str, Any]:
    """What a pinn checkpoint records of its run, to refuse resuming another: the problem (the hash of its
    equations, conditions, domain, time interval and parameter values, :func:`~symop.model.family.family_hash`)
    and the :data:`STAMPED` options."""
    from symop.model.family import family_hash

    stamp: dict[str, Any] = {"problem": family_hash(problem, [])}
    for name in STAMPED:
        value = options.get(name)
        stamp[STAMP_NAMES.get(name, name)] = float(value) if isinstance(value, float) else value
    return stamp


def shard_points(points: Sequence[tuple[Any, Any]], info: DistInfo) -> list[tuple[Any, Any]]:
    """Every term's points ``X[rank::world]`` (and their normals or paired points) for this process.

    Every process draws the whole seeded set and keeps its share, so the shards
    together are the one-process set; each term's mean over a shard, averaged
    over the processes, is the whole set's mean only when the shards are equally
    large, so a count that ``world`` does not divide is refused.
    """
    out = []
    for X, other in points:
        if X.shape[0] % info.world:
            raise OptionError(f"pinn splits its collocation points evenly over the {info.world} processes, and a "
                              f"term has {X.shape[0]} points per step; make points and boundary_points (per side "
                              f"of a boundary condition) multiples of {info.world}.")
        out.append((X[info.rank::info.world], other[info.rank::info.world] if other is not None else None))
    return out
