r"""Operator training over a family, and instance fine-tuning.

A step draws a global batch of :math:`B` members (seeded by ``(seed, step)``, so
a resumed or distributed run sees the same batches) and minimises

.. math::

    L = \frac1B \sum_{i \in \text{batch}} \Big( w_p \sum_{\text{eq}} \overline{r_i^2}
        + w_b \sum_{\text{sides}} \overline{b_i^2} + w_0 \sum_{\text{initial}} \overline{c_i^2}
        + w_d\, \overline{(u_i - u_{\text{ref},i})^2} \Big)

with Adam, the learning rate decaying tenfold over the run.  Under ``torchrun``
each of :math:`P` processes takes every :math:`P`-th member of the batch and
scales its partial sum by :math:`P/B`; DDP's gradient average then equals the
gradient of :math:`L`, so any number of processes follows the same path as one.
Checkpoints (weights, optimizer, step, history) are written atomically every
``every`` steps and at the end; a resumed run continues from the last one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from symop.errors import SolveError
from symop.training import DistInfo, average, load_checkpoint, progress_bar, save_checkpoint, shard, unwrap

from .encoding import Encoded
from .physics import GridPhysics


@dataclass(frozen=True)
class Weights:
    """Weights of the loss terms (equations, boundary, initial, data) and the scale each term is divided by."""

    physics: float = 1.0
    boundary: float = 1.0
    initial: float = 1.0
    data: float = 1.0
    scales: Mapping[str, float] = field(default_factory=dict)
    #: set Dirichlet nodes to their values (:meth:`GridPhysics.constrain`) instead of penalising them
    hard: bool = False

    def without_data(self) -> "Weights":
        return replace(self, data=0.0)

    def total(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Weighted sum of the per-member terms divided by their scales, ``(B,)``."""
        out = 0.0
        for name, value in terms.items():
            value = value / self.scales.get(name, 1.0)
            if name == "data":
                w = self.data
            elif name.startswith("pde"):
                w = self.physics
            elif name.startswith("bc"):
                w = self.boundary
            else:
                w = self.initial
            if w:
                out = out + w * value
        return out


def forward(model: torch.nn.Module, physics: GridPhysics, inputs: torch.Tensor,
            params: Mapping[str, torch.Tensor], weights: Weights) -> torch.Tensor:
    """The network's output, with the Dirichlet nodes set when ``weights.hard``."""
    out = model(inputs)
    return physics.constrain(out, params) if weights.hard else out


def term_scales(physics: GridPhysics, data: Encoded, floor: float = 1e-8) -> dict[str, float]:
    r"""Each term's mean over the training members for the output :math:`u = 0`.

    Dividing by these makes every term relative (the equation residual relative
    to the forcing, the data term relative to :math:`\overline{u_{\text{ref}}^2}`),
    so that the weights compare terms of different units and grid spacings.  A
    term that vanishes at :math:`u = 0` (homogeneous boundary data) takes the
    data scale, else that of the initial values, else 1.
    """
    inputs, params, ref = data.take(slice(None))
    zero = torch.zeros(len(data), len(physics.problem.fields), *physics.grid.shape, dtype=inputs.dtype,
                       device=inputs.device)
    with torch.no_grad():
        terms = physics.terms_of(zero, params, ref)
    means = {k: float(v.mean()) for k, v in terms.items()}
    # a scale in the units of u squared: the data, else the initial values, else 1
    candidates = [means.get("data", 0.0)] + [v for k, v in means.items() if k.startswith("ic[") and k.endswith(":0]")]
    fallback = next((v for v in candidates if v > floor), 1.0)
    return {k: (v if v > floor else fallback) for k, v in means.items()}


@dataclass
class Schedule:
    """Steps, global batch, learning rate, seed, checkpoint interval."""

    steps: int
    batch: int
    lr: float = 1e-3
    seed: int = 0
    every: int = 0


@dataclass
class History:
    losses: list[float] = field(default_factory=list)
    start_step: int = 0
    wall_time: float = 0.0


def batch_indices(count: int, batch: int, seed: int, step: int) -> np.ndarray:
    """The members of the global batch at ``step``: ``min(batch, count)`` distinct indices."""
    rng = np.random.default_rng([int(seed), 7, int(step)])
    return np.sort(rng.choice(count, size=min(batch, count), replace=False))


def learning_rate(lr: float, step: int, steps: int) -> float:
    """``lr`` decayed tenfold over ``steps``: ``lr * 0.1**(step/steps)``."""
    return lr * 0.1 ** (step / max(steps, 1))


def fit(model: torch.nn.Module, physics: GridPhysics, data: Encoded, weights: Weights, schedule: Schedule, *,
        info: DistInfo, checkpoint: Path | None = None, resume: bool = False, progress: bool = False,
        extra: Mapping[str, Any] | None = None) -> History:
    """Train ``model`` (already wrapped for DDP when ``info`` is distributed) on ``data``.

    ``extra`` is stored in every checkpoint (the caller's metadata).
    """
    net = unwrap(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=schedule.lr)
    history = History()
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, next(net.parameters()).device)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history.start_step = int(state["step"])
        history.losses = list(state["losses"])
    every = schedule.every or max(1, schedule.steps // 10)

    def save(step: int) -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                                         "step": step, "losses": list(history.losses), **(extra or {})}, info)

    t0 = time.perf_counter()
    with progress_bar("pino", schedule.steps, progress and info.is_main, completed=history.start_step,
                      loss=float("nan")) as update:
        for step in range(history.start_step, schedule.steps):
            idx = batch_indices(len(data), schedule.batch, schedule.seed, step)
            mine = idx[list(shard(len(idx), info))]
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(schedule.lr, step, schedule.steps)
            optimizer.zero_grad(set_to_none=True)
            inputs, params, ref = data.take(torch.as_tensor(mine, dtype=torch.long, device=data.inputs.device))
            out = forward(model, physics, inputs, params, weights)
            per_member = weights.total(physics.terms_of(out, params, ref))
            loss = per_member.sum() * (info.world / len(idx))
            loss.backward()
            optimizer.step()
            value = average(float(loss.detach()), info)
            if not math.isfinite(value):
                raise SolveError(f"the pino training loss became {value} at step {step}; lower `lr`.")
            history.losses.append(value)
            update(step + 1, loss=value)
            if (step + 1) % every == 0 or step + 1 == schedule.steps:
                save(step + 1)
    history.wall_time = time.perf_counter() - t0
    return history


def finetune(model: torch.nn.Module, physics: GridPhysics, inputs: torch.Tensor, params: Mapping[str, torch.Tensor],
             weights: Weights, steps: int, lr: float, progress: bool = False) -> list[float]:
    """Instance fine-tuning: Adam on the physics loss of one member alone (no data); returns the losses."""
    weights = weights.without_data()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    with progress_bar("pino fine-tune", int(steps), progress, loss=float("nan")) as update:
        for step in range(int(steps)):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(lr, step, steps)
            optimizer.zero_grad(set_to_none=True)
            loss = weights.total(physics.terms_of(forward(model, physics, inputs, params, weights), params)).sum()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            update(step + 1, loss=losses[-1])
    return losses
