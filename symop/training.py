"""What every trainable method needs: processes, checkpoints, a progress bar.

* :func:`distributed` joins the process group that ``torchrun`` describes in
  the environment (``WORLD_SIZE`` > 1): gloo on CPU, NCCL on CUDA.  Without
  ``torchrun`` it is rank 0 of 1 and nothing is initialised, so the same
  training code runs unchanged in one process or many.
* :func:`wrap` puts a model in :class:`~torch.nn.parallel.DistributedDataParallel`
  when there are several processes: gradients are averaged across them.
* :func:`shard` gives each rank its share of a batch.
* :func:`save_checkpoint` writes atomically and only on rank 0;
  :func:`load_checkpoint` reads one onto a device.
* :func:`progress_bar` is a rich progress bar (rank 0 only) with live fields
  such as the loss.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from symop.errors import SymopError


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
    return DistInfo(rank=rank, world=world, local_rank=local)


def device_for(device: str, info: DistInfo) -> torch.device:
    """The torch device of this process: ``cuda:<local rank>`` under torchrun with CUDA."""
    if device.startswith("cuda") and info.is_distributed:
        return torch.device("cuda", info.local_rank)
    return torch.device(device)


def wrap(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when several processes train, else unchanged."""
    if not info.is_distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    devices = None
    param = next(model.parameters(), None)
    if param is not None and param.device.type == "cuda":
        devices = [param.device.index]
    return DistributedDataParallel(model, device_ids=devices)


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
    if not info.is_distributed:
        return float(value)
    import torch.distributed as dist

    t = torch.tensor([float(value)], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / info.world


def save_checkpoint(path: str | Path, state: dict[str, Any], info: DistInfo | None = None) -> None:
    """Write ``state`` with :func:`torch.save` to ``path`` atomically (rank 0 only)."""
    if info is not None and not info.is_main:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`, its tensors moved to ``device``."""
    path = Path(path)
    if not path.exists():
        raise SymopError(f"there is no model file `{path}`; train one first with `symop train`.")
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise SymopError(f"`{path}` is not a model file symop can read ({type(err).__name__}: {err}).") from None


@contextmanager
def progress_bar(label: str, total: int, enabled: bool = True, completed: int = 0,
                 **fields: Any) -> Iterator[Callable[..., None]]:
    """A rich progress bar; yields ``update(completed, **fields)``.

    ``fields`` name live values shown after the bar (e.g. ``loss=float('nan')``,
    printed with 3 significant digits).  Disabled, it yields a function that
    does nothing, so training loops call it unconditionally.
    """
    if not enabled:
        yield lambda *args, **kw: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn(f"[bold]{label}[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}")]
    columns += [TextColumn(f"{name} {{task.fields[{name}]:.3e}}") for name in fields]
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    bar = Progress(*columns, transient=False)
    task = bar.add_task(label, total=total, completed=completed, **fields)

    def update(done: int, **values: Any) -> None:
        bar.update(task, completed=done, **values)

    with bar:
        yield update
