"""Networks and derivative engines that every network-based method shares.

Public API:

* :class:`MLP`, :func:`activate`, :data:`ACTIVATIONS`: a fully connected network
  with optional random Fourier features, whose layers are explicit so that
  Taylor-mode jets pass through them (:mod:`symop.nn.network`);
* derivative engines that evaluate the derivative nodes of the symbolic model on a
  network: :func:`make_engine` (``autograd`` or ``stde``), :class:`Engine`,
  :class:`AutogradEngine`, :class:`StdeEngine`, :data:`AUTOGRAD`, with
  :class:`Layout` (model inputs and outputs ↔ the problem's symbols),
  :class:`Evaluation` and :class:`EngineError` (:mod:`symop.nn.engines`);
* :mod:`taylor <symop.nn.taylor>`: Taylor-mode jets through an :class:`MLP`, and by
  nested ``jvp`` through any callable;
* :mod:`stde <symop.nn.stde>`: stochastic Taylor derivative estimators (Laplacian,
  biharmonic, mixed partials) and exact polarized partial derivatives;
* :class:`PhysicsLoss` and :class:`Term`: the physics-informed loss generated from a
  problem (interior, boundary, initial and periodic residuals at sampled points),
  evaluated with an engine, and :func:`unsupported`, why an engine cannot
  evaluate a problem's loss (:mod:`symop.nn.loss`);
* :func:`objective`: a :class:`PhysicsLoss` as the ``batch``/``loss`` pair that
  :func:`symop.training.optimize` takes, with seeded points and STDE directions.

Physics-informed networks (``pinn``) and hypernetworks (``hypino``) import these
names; nothing here knows about a plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from symop.lazy import exports

#: the activation functions an :class:`MLP` offers (a method's ``activation`` choices, read without torch)
ACTIVATIONS = ("tanh", "sin")

#: where each public name lives; a submodule is imported when one of its names is first used, so that
#: ``symop plugins`` reads the methods' options without importing torch
_HOMES = {
    "engines": ("AUTOGRAD", "AutogradEngine", "Engine", "EngineError", "Evaluation", "Layout", "StdeEngine",
                "make_engine"),
    "loss": ("PhysicsLoss", "Term", "unsupported"),
    "network": ("MLP", "activate"),
    "objective": ("objective",),
}
_SUBMODULES = ("engines", "kfac", "linearise", "loss", "network", "objective", "stde", "taylor")

if TYPE_CHECKING:  # pragma: no cover
    from . import stde, taylor
    from .engines import AUTOGRAD, AutogradEngine, Engine, EngineError, Evaluation, Layout, StdeEngine, make_engine
    from .loss import PhysicsLoss, Term, unsupported
    from .network import MLP, activate
    from .objective import objective


__getattr__, __dir__ = exports(__name__, _HOMES, _SUBMODULES)

__all__ = [
    "ACTIVATIONS",
    "AUTOGRAD",
    "AutogradEngine",
    "Engine",
    "EngineError",
    "Evaluation",
    "Layout",
    "MLP",
    "PhysicsLoss",
    "StdeEngine",
    "Term",
    "activate",
    "make_engine",
    "objective",
    "stde",
    "taylor",
    "unsupported",
]
