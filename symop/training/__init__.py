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

from typing import TYPE_CHECKING

from symop.lazy import exports

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

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import (CHECKPOINT_FORMAT, HEADER_ENTRY, MAX_HEADER_BYTES, TENSORS_ENTRY, load_checkpoint,
                             save_checkpoint)
    from .dist import DistInfo, average, average_all, device_for, distributed, shard, unwrap, wrap
    from .loop import Checkpoint, CheckpointError, NonFiniteLoss, Phase, Result, StepRecord, optimize
    from .optimizers import (OPTIMIZERS, SCHEDULES, OptimizerSetup, OptimizerSpec, Schedule, get_optimizer,
                             make_optimizer, optimizer_names, register_optimizer)
    from .progress import progress_bar


__getattr__, __dir__ = exports(__name__, _HOMES)

__all__ = [
    "CHECKPOINT_FORMAT", "HEADER_ENTRY", "MAX_HEADER_BYTES", "TENSORS_ENTRY", "load_checkpoint", "save_checkpoint",
    "DistInfo", "average", "average_all", "device_for", "distributed", "shard", "unwrap", "wrap",
    "Checkpoint", "CheckpointError", "NonFiniteLoss", "Phase", "Result", "StepRecord", "optimize",
    "OPTIMIZERS", "SCHEDULES", "OptimizerSetup", "OptimizerSpec", "Schedule", "get_optimizer", "make_optimizer",
    "optimizer_names", "register_optimizer", "progress_bar",
]
