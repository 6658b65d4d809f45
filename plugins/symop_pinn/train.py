"""Training a PINN in the shared loop (:func:`symop.training.optimize`): Adam, then optionally L-BFGS.

The objective of step ``k`` (:func:`symop.nn.objective.objective`) is the
physics loss at fresh collocation points drawn by ``loss.sample(k)``, with the
STDE directions (when the engine is stochastic) reseeded from ``(seed, k)``
before every evaluation, so the run is seeded throughout and a checkpoint
resumes it exactly.  Adam's learning rate decays exponentially to
``lr * lr_decay`` over its steps; L-BFGS then runs up to ``lbfgs`` iterations
as one step on the points of step ``steps``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from symop.nn import objective
from symop.training import Checkpoint, Phase, Schedule, StepRecord, optimize


def train(model, loss, *, steps: int = 2000, lr: float = 1e-3, lr_decay: float = 0.1, lbfgs: int = 0,
          checkpoint: str = "", progress: bool = False, log_every: int = 50, label: str = "pinn",
          hint: str = "lower `lr`", callbacks: Sequence[Callable[[StepRecord], None]] = ()) -> dict[str, Any]:
    """Minimise ``loss(model, batch)``; returns the losses, a sparse history and timings.

    A ``checkpoint`` file is written every tenth of the Adam steps and after
    each phase, and resumed from when it exists.
    """
    phases = [Phase(steps, "adam", lr, Schedule("exponential", lr_decay))]
    if lbfgs > 0:
        phases.append(Phase(1, "lbfgs", 1.0, options={"max_iter": int(lbfgs)}))
    batch, value = objective(model, loss)
    saving = Checkpoint(checkpoint, every=max(1, steps // 10), resume=True) if checkpoint else None
    result = optimize(model, value, phases, batch=batch, checkpoint=saving, progress=progress, label=label,
                      hint=hint, callbacks=callbacks)
    history = [(k, v) for k, v in enumerate(result.losses) if k >= steps or k % log_every == 0 or k == steps - 1]
    return {"losses": result.losses, "history": history, "final_loss": result.final_loss,
            "train_time": result.wall_time, "adam_time": result.phase_times[0], "start_step": result.start_step}
