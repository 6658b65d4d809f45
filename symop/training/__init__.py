"""What every trainable method needs: one training loop, processes, checkpoints, a progress bar.

* :func:`optimize` (:mod:`symop.training.loop`) is the loop every trainer
  calls with its loss: phases of registered optimizers with learning-rate
  schedules, seeded batches, checkpoints and resuming, a non-finite loss
  stopped with an error naming the step and the terms, progress with the loss
  terms, DDP.
* :mod:`symop.training.optimizers`: optimizers by name (:data:`OPTIMIZERS`,
  :func:`register_optimizer`) and :class:`Schedule`.
* :mod:`symop.training.dist`: :func:`distributed` joins the process group that
  ``torchrun`` describes (gloo on CPU, NCCL on CUDA) and is rank 0 of 1
  without it; :func:`wrap` puts a model in DistributedDataParallel when
  several processes train; :func:`shard` gives each rank its share of a
  batch; :func:`average` takes means over processes.
* :mod:`symop.training.checkpoint`: :func:`save_checkpoint` writes a model
  file atomically and only on rank 0, :func:`load_checkpoint` reads one.  A
  model file is data: a JSON header plus tensors read with
  ``weights_only=True``; nothing in it can run code when it is loaded.
* :func:`progress_bar` is a rich progress bar (rank 0 only) with live fields
  such as the loss.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: where each public name lives; a submodule is imported when one of its names is first used, so that the
#: optimizer registry (names and costs, for `symop plugins`) is read without importing torch
_HOMES = {
    "checkpoint": ("CHECKPOINT_FORMAT", "HEADER_ENTRY", "MAX_HEADER_BYTES", "TENSORS_ENTRY", "load_checkpoint",
                   "save_checkpoint"),
    "dist": ("DistInfo", "average", "average_all", "device_for", "distributed", "shard", "unwrap", "wrap"),
    "loop": ("Checkpoint", "CheckpointError", "NonFiniteLoss", "Phase", "Result", "StepRecord", "optimize"),
    "optimizers": ("OPTIMIZERS", "SCHEDULES", "OptimizerSetup", "OptimizerSpec", "Schedule", "get_optimizer",
                   "make_optimizer", "optimizer_names", "register_optimizer"),
    "progress": ("progress_bar",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import (CHECKPOINT_FORMAT, HEADER_ENTRY, MAX_HEADER_BYTES, TENSORS_ENTRY, load_checkpoint,
                             save_checkpoint)
    from .dist import DistInfo, average, average_all, device_for, distributed, shard, unwrap, wrap
    from .loop import Checkpoint, CheckpointError, NonFiniteLoss, Phase, Result, StepRecord, optimize
    from .optimizers import (OPTIMIZERS, SCHEDULES, OptimizerSetup, OptimizerSpec, Schedule, get_optimizer,
                             make_optimizer, optimizer_names, register_optimizer)
    from .progress import progress_bar


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its submodule on first use (PEP 562)."""
    module = _HOME_OF.get(name)
    if module is None and name in _HOMES:  # a submodule itself, e.g. `symop.training.dist`
        return import_module(f"{__name__}.{name}")
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = import_module(f"{__name__}.{module}")
    globals().update({other: getattr(loaded, other) for other in _HOMES[module]})
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME_OF))


__all__ = [
    "CHECKPOINT_FORMAT", "HEADER_ENTRY", "MAX_HEADER_BYTES", "TENSORS_ENTRY", "load_checkpoint", "save_checkpoint",
    "DistInfo", "average", "average_all", "device_for", "distributed", "shard", "unwrap", "wrap",
    "Checkpoint", "CheckpointError", "NonFiniteLoss", "Phase", "Result", "StepRecord", "optimize",
    "OPTIMIZERS", "SCHEDULES", "OptimizerSetup", "OptimizerSpec", "Schedule", "get_optimizer", "make_optimizer",
    "optimizer_names", "register_optimizer", "progress_bar",
]
