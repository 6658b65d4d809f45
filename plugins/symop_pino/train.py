r"""Operator training over a family, and instance fine-tuning.

A step draws a global batch of :math:`B` members (seeded by ``(seed, step)``, so
a resumed or distributed run sees the same batches) and minimises

.. math::

    L = \frac1B \sum_{i \in \text{batch}} \Big( w_p \sum_{\text{eq}} \overline{r_i^2}
        + w_b \sum_{\text{sides}} \overline{b_i^2} + w_0 \sum_{\text{initial}} \overline{c_i^2}
        + w_d\, \overline{(u_i - u_{\text{ref},i})^2} \Big)

with Adam, the learning rate decaying tenfold over the run, in the shared loop
:func:`symop.training.optimize`.  Under ``torchrun`` each of :math:`P`
processes takes every :math:`P`-th member of the batch and scales its partial
sum by :math:`P/B`; DDP's gradient average then equals the gradient of
:math:`L`, so any number of processes follows the same path as one.
Checkpoints (the loop's: weights, optimizer, step, losses) are written
atomically every ``every`` steps and at the end; a resumed run continues from
the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from symop.training import Checkpoint, DistInfo, Phase, optimize, save_checkpoint, shard
from symop.training import Schedule as Rate

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

    def weight(self, name: str) -> float:
        """The weight of the term ``name`` (by its kind: ``data``, ``pde...``, ``bc...``, else initial)."""
        if name == "data":
            return self.data
        if name.startswith("pde"):
            return self.physics
        if name.startswith("bc"):
            return self.boundary
        return self.initial

    def parts(self, terms: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The per-member terms that count (non-zero weight), each divided by its scale, ``(B,)`` each."""
        return {name: value / self.scales.get(name, 1.0) for name, value in terms.items() if self.weight(name)}

    def combine(self, parts: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum of scaled terms (:meth:`parts`), ``(B,)``."""
        out = 0.0
        for name, value in parts.items():
            out = out + self.weight(name) * value
        return out

    def total(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Weighted sum of the per-member terms divided by their scales, ``(B,)``."""
        return self.combine(self.parts(terms))


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


#: the learning rate decays tenfold over a run, in training and fine-tuning alike
DECAY = Rate("exponential", 0.1)


def objective(model: torch.nn.Module, physics: GridPhysics, data: Encoded, weights: Weights, batch: int,
              seed: int, info: DistInfo):
    """``batch(step)`` and ``loss(batch)`` of operator training (see the module docstring)."""

    def draw(step: int) -> tuple[torch.Tensor, int]:
        idx = batch_indices(len(data), batch, seed, step)
        mine = idx[list(shard(len(idx), info))]
        return torch.as_tensor(mine, dtype=torch.long, device=data.inputs.device), len(idx)

    def loss(drawn: tuple[torch.Tensor, int]):
        mine, size = drawn
        inputs, params, ref = data.take(mine)
        out = forward(model, physics, inputs, params, weights)
        parts = weights.parts(physics.terms_of(out, params, ref))
        scale = info.world / size
        total = weights.combine(parts).sum() * scale
        return total, {name: value.sum() * scale for name, value in parts.items()}

    return draw, loss


def fit(model: torch.nn.Module, physics: GridPhysics, data: Encoded, weights: Weights, schedule: Schedule, *,
        info: DistInfo, checkpoint: Path | None = None, resume: bool = False, progress: bool = False,
        extra: Mapping[str, Any] | None = None) -> History:
    """Train ``model`` (already wrapped for DDP when ``info`` is distributed) on ``data``.

    ``extra`` is stored in every checkpoint (the caller's metadata).
    """
    every = schedule.every or max(1, schedule.steps // 10)
    saving = None
    if checkpoint is not None:
        saving = Checkpoint(checkpoint, every, resume, dict(extra or {}), write=save_checkpoint)
    draw, loss = objective(model, physics, data, weights, schedule.batch, schedule.seed, info)
    result = optimize(model, loss, [Phase(schedule.steps, "adam", schedule.lr, DECAY)], batch=draw, info=info,
                      checkpoint=saving, progress=progress, label="pino", hint="lower `lr`")
    return History(result.losses, result.start_step, result.wall_time)


def finetune(model: torch.nn.Module, physics: GridPhysics, inputs: torch.Tensor, params: Mapping[str, torch.Tensor],
             weights: Weights, steps: int, lr: float, progress: bool = False) -> list[float]:
    """Instance fine-tuning: Adam on the physics loss of one member alone (no data); returns the losses."""
    weights = weights.without_data()

    def loss(step: int):
        parts = weights.parts(physics.terms_of(forward(model, physics, inputs, params, weights), params))
        return weights.combine(parts).sum(), {name: value.sum() for name, value in parts.items()}

    result = optimize(model, loss, [Phase(int(steps), "adam", lr, DECAY)], progress=progress, label="pino fine-tune",
                      hint="lower `lr`")
    return result.losses
