"""Processes: one under plain ``python``, several under ``torchrun``.

* :func:`distributed` joins the process group that ``torchrun`` describes in
  the environment (``WORLD_SIZE`` > 1): gloo on CPU, NCCL on CUDA.  Without
  ``torchrun`` it is rank 0 of 1 and nothing is initialised, so the same
  training code runs unchanged in one process or many.
* :func:`wrap` puts a model in :class:`~torch.nn.parallel.DistributedDataParallel`
  when there are several processes: gradients are averaged across them.
* :func:`shard` gives each rank its share of a batch; :func:`average` and
  :func:`average_all` take means of numbers over the processes.
"""

from __future__ import annotations

import atexit
import os
import weakref
from dataclasses import dataclass
from typing import Sequence

import torch



@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its rank among ``world`` processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 writes files and shows progress."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world > 1


def distributed(device: str = "cpu") -> DistInfo:
    """Join the ``torchrun`` process group if there is one; rank 0 of 1 otherwise.

    The backend is gloo for ``cpu`` and NCCL for ``cuda``; with CUDA each
    process takes the GPU of its local rank.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
        atexit.register(_leave)
    return DistInfo(rank=rank, world=world, local_rank=local)


#: the DistributedDataParallel wrappers :func:`wrap` made that are still alive
_WRAPPED: "weakref.WeakSet[torch.nn.Module]" = weakref.WeakSet()


def _leave() -> None:
    """Leave the process group together before the interpreter exits.

    A process that exits with the group still up tears gloo's threads down
    while a peer may still talk to it, and the C++ runtime then aborts
    ("terminate called without an active exception"); waiting for every rank
    and destroying the group first makes the exit orderly.
    """
    import gc

    import torch.distributed as dist

    if not dist.is_initialized():
        return
    # a DistributedDataParallel still alive at exit keeps the group in its reducer and logger, and tearing them
    # down after the group aborted the same way (3 of 30 two-process runs of a DDP script on a loaded machine,
    # 0 of 36 with them released here first)
    for model in list(_WRAPPED):
        for name in ("reducer", "logger"):
            if hasattr(model, name):
                delattr(model, name)
    gc.collect()
    try:
        dist.barrier()
    finally:
        dist.destroy_process_group()


def device_for(device: str, info: DistInfo) -> torch.device:
    """The torch device of this process: ``cuda:<local rank>`` under torchrun with CUDA."""
    if device.startswith("cuda") and info.is_distributed:
        return torch.device("cuda", info.local_rank)
    return torch.device(device)


def wrap(model: torch.nn.Module, info: DistInfo, broadcast_buffers: bool = True) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when several processes train, else unchanged.

    ``broadcast_buffers=False`` leaves the buffers alone in every forward pass
    (they must then be the same on every process by construction): DDP's copy
    of rank 0's buffers is an in-place write, which a forward pass inside a
    ``torch.func`` transform (Taylor-mode derivatives) may not make.
    """
    if not info.is_distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    devices = None
    param = next(model.parameters(), None)
    if param is not None and param.device.type == "cuda":
        devices = [param.device.index]
    wrapped = DistributedDataParallel(model, device_ids=devices, broadcast_buffers=broadcast_buffers)
    _WRAPPED.add(wrapped)  # released before the group is left at exit (_leave)
    return wrapped


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside a DistributedDataParallel wrapper (for saving)."""
    return getattr(model, "module", model)


def shard(n: int, info: DistInfo) -> range:
    """This rank's indices of ``n`` items: ``range(rank, n, world)``.

    With ``n`` a multiple of ``world``, every rank gets ``n / world`` items and
    DDP's gradient average equals the full batch's mean gradient.
    """
    return range(info.rank, n, info.world)


def average(value: float, info: DistInfo) -> float:
    """The mean of ``value`` over all processes (itself with one process)."""
    return average_all([value], info)[0]


def average_all(values: Sequence[float], info: DistInfo) -> list[float]:
    """The mean of each of ``values`` over all processes, in one collective call (themselves with one process)."""
    if not info.is_distributed:
        return [float(v) for v in values]
    import torch.distributed as dist

    # NCCL reduces only CUDA tensors (each process's own GPU, see :func:`distributed`); gloo CPU ones
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return [float(v) / info.world for v in t.tolist()]
