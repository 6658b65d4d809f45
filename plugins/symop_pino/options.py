"""The options of ``pino``: those every run takes, and those only ``symop train`` takes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from symop.plugins import Option

if TYPE_CHECKING:  # pragma: no cover - the options are read without torch (`symop plugins`)
    import torch

    from .train import Weights

DEFAULT_CELLS = 32
#: where reference data come from: exact solutions when the family has them, else fd solves; or as named
KINDS = ("auto", "exact", "fd", "none")

OPTIONS = (
    Option("model", str, "", "model file written by `symop train --method pino`", path=True),
    Option("finetune", int, 0, "Adam steps of instance fine-tuning on the physics loss alone (0: zero-shot)",
           minimum=0),
    Option("lr", float, 1e-3, "Adam learning rate (training and fine-tuning; decays tenfold over the run)",
           minimum=0, exclusive=True),
    Option("n", int, 0, f"cells per space axis (training: default {DEFAULT_CELLS}; solving: default the model's grid)",
           minimum=0),
    Option("nt", int, 0, "cells along time for time-dependent problems (default: as in space, or the model's)",
           minimum=0),
)

TRAIN_OPTIONS = (
    Option("width", int, 32, "channels of the Fourier layers", minimum=1),
    Option("modes", int, 12, "Fourier modes kept per axis (at most half the nodes of an axis)", minimum=1),
    Option("layers", int, 4, "Fourier layers", minimum=1),
    Option("padding", float, 0.125, "zero padding of non-periodic axes, as a fraction of their nodes", minimum=0),
    Option("steps", int, 500, "Adam steps", minimum=0),
    Option("batch", int, 8, "family members per step (the global batch, split across torchrun processes)", minimum=1),
    Option("data", str, "auto", "reference data: auto (exact solutions, else fd solves, else none), exact, fd, or none", KINDS),
    Option("order", int, 2, "accuracy order of the finite differences of the physics loss", (2, 4)),
    Option("physics_weight", float, 1.0, "weight of the equation residuals", minimum=0),
    Option("boundary_weight", float, 1.0, "weight of the boundary residuals", minimum=0),
    Option("initial_weight", float, 1.0, "weight of the initial residuals", minimum=0),
    Option("data_weight", float, 1.0, "weight of the data term", minimum=0),
    Option("hard_dirichlet", bool, False, "set the nodes of Dirichlet sides to their values instead of penalising them"),
    Option("normalize", bool, True, "divide each loss term by its value for u = 0 (relative residuals)"),
    Option("checkpoint_every", int, 0, "steps between checkpoints (0: a tenth of the run)", minimum=0),
    Option("dtype", str, "float32", "floating-point precision", ("float32", "float64")),
)


def dtype_of(name: str) -> torch.dtype:
    import torch

    return torch.float64 if name == "float64" else torch.float32


def weights_of(o: Mapping[str, Any], scales: Mapping[str, float] | None = None) -> Weights:
    from .train import Weights

    return Weights(o.get("physics_weight", 1.0), o.get("boundary_weight", 1.0), o.get("initial_weight", 1.0),
                   o.get("data_weight", 1.0), dict(scales or {}), bool(o.get("hard_dirichlet", False)))
