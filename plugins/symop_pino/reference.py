r"""Reference solutions for the data term: the exact solution, or finite differences.

``data: auto`` uses the family's ``exact`` lines when every field has one, else
finite-difference references when ``fd`` accepts the problem, else none
(physics alone, also with a warning when ``fd`` accepted the family but fails on a member); ``exact`` insists on exact solutions; ``fd``
solves every member with the ``fd`` method on the same grid (steady problems
directly, time-dependent ones with one snapshot per time node), which is the
discrete solution the physics loss is minimised by; ``none`` trains on physics
alone.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import torch

from symop.errors import SymopError

from .encoding import Encoded
from .grid import SpaceTimeGrid
from .options import KINDS
from .physics import GridPhysics


class ReferenceError(SymopError):
    """Reference data of the kind asked for cannot be made."""


def fd_reference(member, grid: SpaceTimeGrid, order: int) -> np.ndarray:
    """The ``fd`` solution of one member on ``grid``: ``(F, *grid)``."""
    import symop

    n = grid.cells[0]
    if grid.time:
        steps = grid.cells[-1]
        sol = symop.solve(member, method="fd", n=n, order=order, save=steps + 1)
        times = np.asarray(sol.times)
        if len(times) != steps + 1:
            raise ReferenceError(f"the fd reference kept {len(times)} snapshots, not the {steps + 1} time nodes.")
        return np.stack([np.moveaxis(sol.history[f], 0, -1) for f in member.field_names])
    sol = symop.solve(member, method="fd", n=n, order=order)
    return np.stack([sol.fields[f] for f in member.field_names])


def fd_references(members: Sequence[Any], grid: SpaceTimeGrid, order: int, info=None) -> list[np.ndarray]:
    """:func:`fd_reference` of every member; under torchrun each process solves its share and all exchange them."""
    if info is None or not info.is_distributed:
        return [fd_reference(m, grid, order) for m in members]
    import torch.distributed as dist

    from symop.training import shard

    mine = {i: fd_reference(members[i], grid, order) for i in shard(len(members), info)}
    parts: list[dict[int, np.ndarray]] = [{} for _ in range(info.world)]
    dist.all_gather_object(parts, mine)
    solved = {i: a for part in parts for i, a in part.items()}
    return [solved[i] for i in range(len(members))]


def attach(kind: str, encoded: Encoded, physics: GridPhysics, members: Sequence[Any] = (),
           order: int = 2, info=None) -> str:
    """Set ``encoded.reference`` as ``kind`` asks; returns the kind actually used (``exact``, ``fd`` or ``none``).

    ``members`` are the instantiated problems (only ``fd`` needs them); ``info``
    (a :class:`symop.training.DistInfo`) shares the fd solves across processes.
    """
    if kind == "none":
        return "none"
    if kind in ("auto", "exact"):
        _, params, _ = encoded.take(slice(None))
        ref = physics.exact_values(params, len(encoded))
        if ref is not None:
            encoded.reference = ref.detach().to(encoded.inputs.dtype)
            return "exact"
        if kind == "exact":
            raise ReferenceError("`data: exact` needs an `exact` line for every field of the family; "
                                 "use `data: fd` for finite-difference references or `data: none` for physics alone.")
        from symop.plugins import get_discretization

        try:
            fd = get_discretization("fd")
        except SymopError:
            return "none"
        if not members or fd.accepts(members[0]) is not None:
            return "none"
        try:  # auto: fd accepted the family, but a member it cannot solve leaves physics alone, said aloud
            refs = fd_references(list(members), physics.grid, order, info)
        except SymopError as error:
            warnings.warn(f"pino trains on the physics alone: the fd references (data: auto) could not be made "
                          f"({str(error).rstrip('.')}); set data: none to skip them.", UserWarning, stacklevel=2)
            return "none"
        encoded.reference = torch.as_tensor(np.stack(refs), dtype=encoded.inputs.dtype, device=encoded.inputs.device)
        return "fd"
    if kind == "fd":
        if not members:
            raise ReferenceError("`data: fd` needs the family members to solve.")
        refs = fd_references(list(members), physics.grid, order, info)
        encoded.reference = torch.as_tensor(np.stack(refs), dtype=encoded.inputs.dtype, device=encoded.inputs.device)
        return "fd"
    raise ReferenceError(f"`data` must be one of {', '.join(KINDS)}, not `{kind}`.")
