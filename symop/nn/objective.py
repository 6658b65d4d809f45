"""A physics-informed loss as the objective of the shared training loop.

:func:`objective` gives :func:`symop.training.optimize` the two functions it
takes for a :class:`~symop.nn.loss.PhysicsLoss`: ``batch(step)`` draws the
step's collocation points (seeded by ``(seed, step)``) with the seed of its
STDE directions, and ``loss(batch)`` reseeds a stochastic engine with that
seed before every evaluation, so that an optimizer that evaluates several
times per step (L-BFGS) sees the same directions each time, and a resumed
run the same as an uninterrupted one.  ``loss.linearise(batch)`` gives the
weighted residual vector and its Jacobian (:func:`symop.nn.linearise.linearise`),
which Gauss–Newton optimizers such as ``engd`` use, and ``loss.kronecker(batch)``
the Kronecker factors of its Gauss–Newton matrix (:func:`symop.nn.kfac.kronecker`)
for ``kfac``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from .kfac import Factors, estimate_engine, kronecker
from .linearise import Linearisation, linearise
from .loss import PhysicsLoss

__all__ = ["objective"]


def objective(model: Callable[[torch.Tensor], torch.Tensor], loss: PhysicsLoss
              ) -> tuple[Callable[[int], Any], Callable[[Any], tuple[torch.Tensor, dict[str, float]]]]:
    """``batch(step)`` and ``loss(batch) -> (total, terms)`` of ``loss`` for ``model``."""

    def batch(step: int) -> tuple[list, int]:
        return loss.sample(step), loss.seed * 1_000_003 + step

    class Value:
        """``value(batch)``: the loss and its terms; ``value.linearise(batch)``: residuals and Jacobian."""

        def __call__(self, data: tuple[list, int]) -> tuple[torch.Tensor, dict[str, float]]:
            points, seed = data
            if getattr(loss.engine, "stochastic", False):
                loss.engine.reseed(seed, loss.device)
            return loss(model, points)

        def linearise(self, data: tuple[list, int]) -> Linearisation:
            return linearise(loss, model, data[0], seed=data[1])

        def kronecker(self, data: tuple[list, int]) -> Factors:
            return kronecker(loss, model, data[0], estimate_engine(loss, data[1]))

    return batch, Value()
