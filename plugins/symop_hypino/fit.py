r"""Training the hypernetwork on a list of instances (one process or many under ``torchrun``).

Each step draws a global batch of ``batch`` instance indices from a generator
seeded by ``(seed, step)`` — so a resumed run and a distributed run see the
same batches — and each process takes its :func:`symop.training.shard` of
it.  The loss is

.. math:: \mathcal L = \frac1B\sum_j w_p\,\mathcal L^{\text{phys}}_j + w_d\,\mathcal L^{\text{data}}_j

(see :mod:`symop_hypino.physics`); DistributedDataParallel averages the
gradients of the shards, which equals the gradient of the full batch when
``batch`` is a multiple of the number of processes.  Adam with a cosine decay
of the learning rate to a tenth, gradient norm clipped at 1, in the shared
loop :func:`symop.training.optimize`.  Checkpoints (the loop's: model,
optimizer, step, losses) are written atomically by rank 0 every
``checkpoint_every`` steps; a resumed run continues from the last one and ends
with the same weights as an uninterrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from symop.errors import SolveError
from symop_hypino.encoding import Instance, collate
from symop_hypino.hypernet import HyperNetwork
from symop_hypino.physics import generated, losses


@dataclass(frozen=True)
class FitOptions:
    steps: int = 200
    batch: int = 8
    lr: float = 1e-3
    data_weight: float = 1.0
    physics_weight: float = 1.0
    boundary_weight: float = 1.0
    seed: int = 0
    checkpoint_every: int = 50


def batch_indices(count: int, batch: int, seed: int, step: int) -> np.ndarray:
    """The global batch of step ``step``: ``batch`` indices into ``count`` instances."""
    rng = np.random.default_rng((int(seed), int(step), 3))
    return rng.choice(count, size=batch, replace=count < batch)


def batch_loss(hyper: HyperNetwork, model, engine, instances: list[Instance], opts: FitOptions,
               device) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The mean loss of ``instances`` and its unweighted ``physics`` and ``data`` terms."""
    b = {k: v.to(device) for k, v in collate(instances).items()}
    theta = model(b["image"])
    parts = losses(engine, generated(hyper.target, theta, b), b, opts.boundary_weight)
    total = (opts.physics_weight * parts["physics"] + opts.data_weight * parts["data"]).mean()
    return total, {"physics": parts["physics"].mean(), "data": parts["data"].mean()}


def fit(hyper: HyperNetwork, instances: list[Instance], engine, opts: FitOptions, *, info=None, device="cpu",
        checkpoint: Path | None = None, resume: bool = False, progress: bool = False,
        callback: Callable[[int], None] | None = None) -> list[float]:
    """Train ``hyper`` in place; returns the loss of every step (averaged over processes)."""
    from symop import training

    info = info or training.DistInfo()
    if opts.batch % info.world:
        raise SolveError(f"the batch ({opts.batch}) must be a multiple of the number of processes ({info.world}).")
    model = training.wrap(hyper, info)

    def draw(step: int) -> list[Instance]:
        idx = batch_indices(len(instances), opts.batch, opts.seed, step)
        return [instances[int(idx[i])] for i in training.shard(opts.batch, info)]

    phase = training.Phase(opts.steps, "adam", opts.lr, training.Schedule("cosine", 0.1), clip=1.0)
    saving = None
    if checkpoint is not None:
        saving = training.Checkpoint(checkpoint, max(1, int(opts.checkpoint_every)), resume)
    calls = [] if callback is None else [lambda record: callback(record.step)]
    result = training.optimize(model, lambda mine: batch_loss(hyper, model, engine, mine, opts, device), [phase],
                               batch=draw, info=info, checkpoint=saving, progress=progress, label="hypino",
                               hint="lower `lr`", callbacks=calls)
    return result.losses
