r"""Training the hypernetwork on a list of instances (one process or many under ``torchrun``).

Each step draws a global batch of ``batch`` instance indices from a generator
seeded by ``(seed, step)`` — so a resumed run and a distributed run see the
same batches — and each process takes its :func:`symop.training.shard` of
it.  The loss is

.. math:: \mathcal L = \frac1B\sum_j w_p\,\mathcal L^{\text{phys}}_j + w_d\,\mathcal L^{\text{data}}_j

(see :mod:`symop_hypino.physics`); DistributedDataParallel averages the
gradients of the shards, which equals the gradient of the full batch when
``batch`` is a multiple of the number of processes.  Adam with a cosine decay
of the learning rate to a tenth, gradient norm clipped at 1.  Checkpoints
(model, optimizer, scheduler, step, losses) are written atomically by rank 0
every ``checkpoint_every`` steps; a resumed run continues from the last one
and ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import math
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
               device) -> torch.Tensor:
    """The mean loss of ``instances`` (``model`` is ``hyper`` or its DDP wrapper)."""
    b = {k: v.to(device) for k, v in collate(instances).items()}
    theta = model(b["image"])
    parts = losses(engine, generated(hyper.target, theta, b), b, opts.boundary_weight)
    return (opts.physics_weight * parts["physics"] + opts.data_weight * parts["data"]).mean()


def fit(hyper: HyperNetwork, instances: list[Instance], engine, opts: FitOptions, *, info=None, device="cpu",
        checkpoint: Path | None = None, resume: bool = False, progress: bool = False,
        callback: Callable[[int], None] | None = None) -> list[float]:
    """Train ``hyper`` in place; returns the loss of every step (averaged over processes)."""
    from symop import training

    info = info or training.DistInfo()
    if opts.batch % info.world:
        raise SolveError(f"the batch ({opts.batch}) must be a multiple of the number of processes ({info.world}).")
    model = training.wrap(hyper, info)
    optimizer = torch.optim.Adam(hyper.parameters(), lr=opts.lr)
    total = max(opts.steps, 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: 0.1 + 0.45 * (1 + math.cos(math.pi * min(k, total) / total)))
    start, history = 0, []
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = training.load_checkpoint(checkpoint, device)
        hyper.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, history = int(state["step"]), list(state["history"])
    every = max(1, int(opts.checkpoint_every))
    with training.progress_bar("hypino", opts.steps, progress and info.is_main, completed=start,
                               loss=float("nan")) as update:
        for step in range(start, opts.steps):
            idx = batch_indices(len(instances), opts.batch, opts.seed, step)
            mine = [instances[int(idx[i])] for i in training.shard(opts.batch, info)]
            loss = batch_loss(hyper, model, engine, mine, opts, device)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(hyper.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            value = training.average(float(loss.detach()), info)
            if not math.isfinite(value):
                raise SolveError(f"the hypino training loss became {value} at step {step}; lower lr.")
            history.append(value)
            update(step + 1, loss=value)
            if checkpoint is not None and ((step + 1) % every == 0 or step + 1 == opts.steps):
                training.save_checkpoint(checkpoint, {"model": hyper.state_dict(), "optimizer": optimizer.state_dict(),
                                                      "scheduler": scheduler.state_dict(), "step": step + 1,
                                                      "history": history}, info)
            if callback is not None:
                callback(step + 1)
    return history
