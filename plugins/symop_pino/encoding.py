r"""Family members as tensors on the operator's grid: the network's input channels.

The input of member :math:`i` is a stack of channels on the grid:

1. the coordinates, scaled to :math:`[0, 1]` per axis (time included);
2. every random parameter: a constant broadcast to the grid, scaled by its
   distribution (uniform: :math:`2(v - m)/(b - a)`; loguniform: the same on
   :math:`\log v`; normal: :math:`(v - \mu)/\sigma`; choice: by the mean and
   spread of the choices), a ``field`` parameter as its values on the grid;
3. the data that vary across the family: each initial value :math:`g(x)`
   (repeated along time) and each boundary value :math:`g(x, t)` whose
   expression holds a random parameter, evaluated on the whole grid (data
   ``dn(e)`` of a known ``e``, one channel per side: :math:`\nabla e\cdot n`
   with that side's outward normal).

The same routine encodes training members and the member a user asks for, so
prediction sees exactly what training saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp
import torch

from symop.errors import SymopError
from symop.model.analysis import has_normal_data, normal_data
from symop.model.family import fixed_constants
from symop.writer import language_text

from .grid import SpaceTimeGrid


class EncodingError(SymopError):
    """A family member cannot be put on the grid."""


@dataclass
class Encoded:
    """Members on the grid: ``inputs (N, C, *grid)``, ``params`` name → ``(N,)`` or ``(N, *grid)``, optional ``reference (N, F, *grid)``."""

    inputs: torch.Tensor
    params: dict[str, torch.Tensor]
    reference: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def take(self, index) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        """Inputs, physics parameters (batch last) and reference of the members ``index``."""
        params = {n: (v[index] if v.dim() == 1 else v[index].movedim(0, -1)) for n, v in self.params.items()}
        ref = self.reference[index] if self.reference is not None else None
        return self.inputs[index], params, ref


def _scale(dist, value: float) -> float:
    kind, args = dist.kind, tuple(float(a) for a in dist.args)
    if kind == "uniform":
        return 2.0 * (value - 0.5 * (args[0] + args[1])) / max(args[1] - args[0], 1e-300)
    if kind == "loguniform":
        lo, hi = math.log(args[0]), math.log(args[1])
        return 2.0 * (math.log(value) - 0.5 * (lo + hi)) / max(hi - lo, 1e-300)
    if kind == "normal":
        return (value - args[0]) / (args[1] or 1.0)
    if kind == "choice":
        spread = float(np.std(args)) or 1.0
        return (value - float(np.mean(args))) / spread
    return value


class Encoder:
    """Channels of a family on a grid; :meth:`encode` turns drawn values into tensors."""

    def __init__(self, problem, grid: SpaceTimeGrid, distributions: Mapping[str, Any] | None = None) -> None:
        """``distributions`` (name → Distribution) default to the family's; a trained model passes its own,
        so that a parameter fixed by ``--set`` is still read as a member value, scaled as in training."""
        self.problem, self.grid = problem, grid
        if distributions is None:
            distributions = getattr(problem, "param_distributions", {}) or {}
        self.distributions = dict(distributions)
        self.random = list(self.distributions)
        self.rsyms = {problem.param_symbols[n]: n for n in self.random}
        self.fixed = fixed_constants(problem, self.random)
        self.mesh = grid.mesh()
        self.data: list[tuple[str, sp.Expr, bool]] = []  # (channel name, expression, is initial)
        for j, ic in enumerate(problem.initial if grid.time else ()):
            if set(self.rsyms) & sp.sympify(ic.value).free_symbols:
                self.data.append((f"initial[{ic.field}:{ic.order}]", ic.value, True))
        for j, bc in enumerate(problem.boundary):
            if not set(self.rsyms) & sp.sympify(bc.value).free_symbols:
                continue
            if has_normal_data(bc.value):  # dn(e) of a known e: grad(e).n differs from side to side
                parts = tuple(problem.domain.sides) if "all" in bc.parts else bc.parts
                for side in parts:
                    value = normal_data(bc.value, problem.domain, side, problem.space.coords)
                    self.data.append((f"boundary{j}[{bc.field}:{side}]", value, False))
            else:
                self.data.append((f"boundary{j}[{bc.field}]", bc.value, False))

    @property
    def channels(self) -> list[str]:
        return list(self.grid.names) + list(self.random) + [name for name, _, _ in self.data]

    def _on_grid(self, expr: sp.Expr, initial: bool = False) -> np.ndarray:
        expr = sp.sympify(expr).xreplace(self.fixed)
        symbols = list(self.grid.symbols)
        leftover = expr.free_symbols - set(symbols)
        if leftover:
            raise EncodingError(f"the expression `{language_text(expr, self.problem)}` depends on "
                                f"`{language_text(sorted(leftover, key=str)[0], self.problem)}`, "
                                "which has no value on the grid.")
        mesh = list(self.mesh)
        if initial and self.grid.time:
            mesh[-1] = np.full_like(mesh[-1], self.grid.lo[-1])
        fn = sp.lambdify(symbols, expr, "numpy")
        return np.broadcast_to(np.asarray(fn(*mesh), dtype=np.float64), self.grid.shape)

    def values_of(self, problem) -> dict[str, Any]:
        """The member's values of the random parameters, read from a problem of the same family
        (the representative value of a parameter still random, the value of one fixed by ``--set``)."""
        return {n: problem.params.get(n, self.distributions[n].representative) for n in self.random}

    def describe(self) -> dict[str, dict]:
        """The distributions as plain data (for the model file)."""
        return {n: {"kind": d.kind, "args": list(d.args), "options": dict(d.options)}
                for n, d in self.distributions.items()}

    @staticmethod
    def distributions_from(data: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The inverse of :meth:`describe`."""
        from symop.model.family import Distribution

        return {n: Distribution(n, d["kind"], tuple(d["args"]), dict(d["options"])) for n, d in data.items()}

    def encode(self, members: Sequence[Mapping[str, Any]], dtype=torch.float32, device="cpu") -> Encoded:
        """Tensors for a list of members, each a mapping random parameter → number or field expression."""
        g = self.grid
        coords = [(m - lo) / (hi - lo) for m, lo, hi in zip(self.mesh, g.lo, g.hi)]
        inputs, params = [], {n: [] for n in self.random}
        for values in members:
            missing = [n for n in self.random if n not in values]
            if missing:
                raise EncodingError(f"the member gives no value for the random parameter `{missing[0]}`.")
            channels = list(coords)
            for n in self.random:
                v = sp.sympify(values[n])
                dist = self.distributions.get(n)
                if v.is_number:
                    x = float(v)
                    params[n].append(np.asarray(x))
                    channels.append(np.full(g.shape, _scale(dist, x) if dist is not None else x))
                else:
                    arr = self._on_grid(v)
                    params[n].append(arr)
                    amp = float(dist.options.get("amplitude", 1.0)) if dist is not None else 1.0
                    channels.append(arr / (amp or 1.0))
            sub = {s: sp.sympify(values[n]) for s, n in self.rsyms.items()}
            for _, expr, initial in self.data:
                channels.append(self._on_grid(sp.sympify(expr).xreplace(sub), initial))
            inputs.append(np.stack(channels))

        def tensor(a):
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

        out_params = {}
        for n, vs in params.items():
            if all(np.ndim(v) == 0 for v in vs):
                out_params[n] = tensor(np.array([float(v) for v in vs]))
            else:
                out_params[n] = tensor(np.stack([np.broadcast_to(v, g.shape) for v in vs]))
        return Encoded(tensor(np.stack(inputs)), out_params)
