"""A trained operator applied to one member of its family: zero-shot, then optionally fine-tuned."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from symop.errors import SymopError
from symop.plugins import Program

from . import store
from .encoding import Encoder
from .fno import FNO, FNOConfig
from .grid import build
from .options import OPTIONS, dtype_of, weights_of
from .physics import GridPhysics
from .train import finetune, forward


class NoModelError(SymopError):
    """``pino`` was asked to solve without a trained model."""


class PINOProgram(Program):
    """A trained operator applied to one member, optionally fine-tuned on its physics."""

    def __init__(self, problem, options: Mapping[str, Any], values: Mapping[str, Any] | None = None) -> None:
        self.problem = problem
        self.options = dict(options)
        path = self.options.get("model") or ""
        if not path:
            if not problem.param_distributions:  # one problem: `symop train` would refuse it, so say so now
                raise NoModelError(f"pino solves with a model trained on a family of problems, and "
                                   f"`{problem.name}` is one problem (no parameter has a range): give a parameter "
                                   "one (`param k in [1, 2]`), train with `symop train FILE --method pino "
                                   "--samples N -o model.pt` and pass `--set model=model.pt`; or solve it with "
                                   "pinn, fd or fem.")
            raise NoModelError("pino solves with a trained model: give one with `--set model=model.pt` "
                               "(train it with `symop train FILE --method pino --samples N -o model.pt`).")
        self.path = Path(path)
        self.data = store.load(self.path)
        store.check_family(self.data, problem, self.path)
        saved = self.data["grid"]
        n = self.options.get("n") or saved["cells"][0]
        nt = self.options.get("nt") or (saved["cells"][-1] if saved["time"] else None)
        self.grid = build(problem, n, nt)
        self.dtype = dtype_of(self.data["options"].get("dtype", "float32"))
        self.encoder = Encoder(problem, self.grid, Encoder.distributions_from(self.data["distributions"]))
        self.random = self.encoder.random
        self.values = dict(values) if values is not None else self.encoder.values_of(problem)
        if not self.options.get("finetune"):  # fine-tuning fits this member's physics itself
            for sentence in untrained(self.encoder.distributions, self.values, self.path):
                warnings.warn(sentence, UserWarning, stacklevel=2)
        self.member = _instantiate(problem, self.values)
        self.physics = self._physics("cpu")
        self.source = (f"# pino: FNO {self.data['config']} on a {' x '.join(map(str, self.grid.shape))} grid "
                       f"({', '.join(self.grid.names)}); physics loss:\n" + self.physics.source)

    def _physics(self, device) -> GridPhysics:
        return GridPhysics(self.problem, self.grid, self.data["options"].get("order", 2), self.dtype, device,
                           random=self.random)

    def network(self, device) -> FNO:
        net = FNO(FNOConfig.from_dict(self.data["config"]))
        net.load_state_dict(self.data["model"])
        return net.to(device=device, dtype=self.dtype)

    def run(self, device: str = "cpu", progress: bool = False):
        from symop.solution import Grid, Solution

        start = time.perf_counter()
        physics = self.physics if device == "cpu" else self._physics(device)
        encoded = self.encoder.encode([self.values], self.dtype, device)
        inputs, params, _ = encoded.take(slice(None))
        net = self.network(device)
        weights = weights_of(self.data["options"], self.data.get("scales"))
        no_data = weights.without_data()

        def residuals() -> dict[str, float]:
            with torch.no_grad():
                terms = physics.terms_of(forward(net, physics, inputs, params, weights), params)
            out = {k: float(v.sum()) for k, v in terms.items()}
            out["total"] = float(no_data.total(terms).sum())
            return out

        info: dict[str, Any] = {"model": str(self.path), "family": self.data["family"]["name"],
                                "grid": list(self.grid.shape), "residual_zero_shot": residuals()}
        steps = int(self.options.get("finetune") or 0)
        if steps > 0:
            losses = finetune(net, physics, inputs, params, weights, steps, self.options["lr"], progress)
            info["finetune_losses"] = losses[:: max(1, len(losses) // 50)] + [losses[-1]]
            info["residual"] = residuals()
        with torch.no_grad():
            out = forward(net, physics, inputs, params, weights)[0].detach().cpu().numpy().astype(np.float64)
        from symop.interpolate import GridInterpolant, grid_degree

        g = self.grid
        space = Grid(g.axes()[: g.space_dimension], g.names[: g.space_dimension])
        # between the nodes: Lagrange polynomials one degree above the physics stencils' order
        interpolant = GridInterpolant.of_lattice(g, grid_degree(self.data["options"].get("order", 2)),
                                                 g.space_dimension)
        names = self.problem.field_names
        if g.time:
            fields = {f: out[i][..., -1] for i, f in enumerate(names)}
            history = {f: np.moveaxis(out[i], -1, 0) for i, f in enumerate(names)}
            return Solution(self.member, "pino", self.options, space, fields, time=g.hi[-1], times=g.axis(g.dimension - 1),
                            history=history, device=device, wall_time=time.perf_counter() - start, info=info,
                            interpolant=interpolant)
        fields = {f: out[i] for i, f in enumerate(names)}
        return Solution(self.member, "pino", self.options, space, fields, device=device,
                        wall_time=time.perf_counter() - start, info=info, interpolant=interpolant)


def predict(problem, values: Mapping[str, Any] | None = None, *, device: str = "cpu", **options: Any):
    """The solution of the member ``values`` of the family ``problem`` by a trained model (``model=PATH``).

    ``values`` maps random parameters to numbers or field expressions (as
    drawn by :func:`symop.model.family.draw`); omitted, the problem's own
    parameter values are used.  ``options`` are the ``pino`` options
    (``model``, ``finetune``, ``lr``, ``n``, ``nt``).
    """
    from symop.plugins import resolve_options

    return PINOProgram(problem, resolve_options("pino", OPTIONS, options), values).run(device=device)


def untrained(distributions: Mapping[str, Any], values: Mapping[str, Any], path: str | Path) -> list[str]:
    """One sentence per random parameter whose value in ``values`` lies outside what the model at ``path`` was
    trained on (``distributions``, name → :class:`~symop.model.family.Distribution`): a uniform or loguniform
    value outside its bounds, a choice outside the smallest and largest choice, a normal value more than
    3 standard deviations from the mean.  There the operator extrapolates, and its answer is unchecked."""
    import sympy as sp

    from symop.writer import number_text

    out = []
    for name, dist in distributions.items():
        value = sp.sympify(values.get(name, dist.representative))
        if not value.is_number or dist.kind not in ("uniform", "loguniform", "choice", "normal"):
            continue  # a random field: no range to leave
        x, args = float(value), [float(a) for a in dist.args]
        if dist.kind == "normal":
            lo, hi = args[0] - 3 * abs(args[1]), args[0] + 3 * abs(args[1])
            trained = (f"drawn from {dist.describe()}, so mostly within [{number_text(lo)}, {number_text(hi)}] "
                       "(3 standard deviations)")
        else:
            lo, hi = min(args), max(args)
            trained = (f"the values {', '.join(number_text(a) for a in args)}" if dist.kind == "choice"
                       else f"[{number_text(lo)}, {number_text(hi)}]")
        slack = 1e-9 * max(abs(lo), abs(hi), 1e-300)
        if lo - slack <= x <= hi + slack:
            continue
        out.append(f"the parameter `{name}` = {number_text(x)} lies outside what the pino model `{path}` was "
                   f"trained on ({trained}), so the operator extrapolates and its answer there is unchecked; "
                   f"train on a family whose `{name}` covers {number_text(x)}, or fine-tune on this member "
                   "with `--set finetune=STEPS`.")
    return out


def _instantiate(problem, values: Mapping[str, Any]):
    """The member with ``values`` (the problem itself when there are none)."""
    if not values:
        return problem
    from symop.model.family import instantiate

    return instantiate(problem, values)
