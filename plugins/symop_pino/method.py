"""The ``pino`` discretization: train a Fourier neural operator on a family, solve members zero-shot, fine-tune."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from symop.errors import SymopError
from symop.plugins import Discretization, Option, Program, TrainingReport

from . import store
from .encoding import Encoder
from .fno import FNO, FNOConfig
from .grid import box_reason, build
from .physics import GridPhysics
from .reference import KINDS, attach
from .train import Schedule, Weights, finetune, fit, forward, term_scales

DEFAULT_CELLS = 32

OPTIONS = (
    Option("model", str, "", "model file written by `symop train --method pino`"),
    Option("finetune", int, 0, "Adam steps of instance fine-tuning on the physics loss alone (0: zero-shot)"),
    Option("lr", float, 1e-3, "Adam learning rate (training and fine-tuning; decays tenfold over the run)"),
    Option("n", int, 0, f"cells per space axis (training: default {DEFAULT_CELLS}; solving: default the model's grid)"),
    Option("nt", int, 0, "cells along time for time-dependent problems (default: as in space, or the model's)"),
)

TRAIN_OPTIONS = (
    Option("width", int, 32, "channels of the Fourier layers"),
    Option("modes", int, 12, "Fourier modes kept per axis (at most half the nodes of an axis)"),
    Option("layers", int, 4, "Fourier layers"),
    Option("padding", float, 0.125, "zero padding of non-periodic axes, as a fraction of their nodes"),
    Option("steps", int, 500, "Adam steps"),
    Option("batch", int, 8, "family members per step (the global batch, split across torchrun processes)"),
    Option("data", str, "auto", "reference data: auto (exact solutions, else fd solves, else none), exact, fd, or none", KINDS),
    Option("order", int, 2, "accuracy order of the finite differences of the physics loss", (2, 4)),
    Option("physics_weight", float, 1.0, "weight of the equation residuals"),
    Option("boundary_weight", float, 1.0, "weight of the boundary residuals"),
    Option("initial_weight", float, 1.0, "weight of the initial residuals"),
    Option("data_weight", float, 1.0, "weight of the data term"),
    Option("hard_dirichlet", bool, False, "set the nodes of Dirichlet sides to their values instead of penalising them"),
    Option("normalize", bool, True, "divide each loss term by its value for u = 0 (relative residuals)"),
    Option("checkpoint_every", int, 0, "steps between checkpoints (0: a tenth of the run)"),
    Option("dtype", str, "float32", "floating-point precision", ("float32", "float64")),
)


class NoModelError(SymopError):
    """``pino`` was asked to solve without a trained model."""


def _dtype(name: str) -> torch.dtype:
    return torch.float64 if name == "float64" else torch.float32


def _weights(o: Mapping[str, Any], scales: Mapping[str, float] | None = None) -> Weights:
    return Weights(o.get("physics_weight", 1.0), o.get("boundary_weight", 1.0), o.get("initial_weight", 1.0),
                   o.get("data_weight", 1.0), dict(scales or {}), bool(o.get("hard_dirichlet", False)))


# ------------------------------------------------------------------ solving
class PINOProgram(Program):
    """A trained operator applied to one member, optionally fine-tuned on its physics."""

    def __init__(self, problem, options: Mapping[str, Any], values: Mapping[str, Any] | None = None) -> None:
        self.problem = problem
        self.options = dict(options)
        path = self.options.get("model") or ""
        if not path:
            raise NoModelError("pino solves with a trained model: give one with `--set model=model.pt` "
                               "(train it with `symop train FILE --method pino --samples N -o model.pt`).")
        self.path = Path(path)
        self.data = store.load(self.path)
        store.check_family(self.data, problem, self.path)
        saved = self.data["grid"]
        n = self.options.get("n") or saved["cells"][0]
        nt = self.options.get("nt") or (saved["cells"][-1] if saved["time"] else None)
        self.grid = build(problem, n, nt)
        self.dtype = _dtype(self.data["options"].get("dtype", "float32"))
        self.encoder = Encoder(problem, self.grid, Encoder.distributions_from(self.data["distributions"]))
        self.random = self.encoder.random
        self.values = dict(values) if values is not None else self.encoder.values_of(problem)
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
        weights = _weights(self.data["options"], self.data.get("scales"))
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
            losses = finetune(net, physics, inputs, params, weights, steps, self.options["lr"])
            info["finetune_losses"] = losses[:: max(1, len(losses) // 50)] + [losses[-1]]
            info["residual"] = residuals()
        with torch.no_grad():
            out = forward(net, physics, inputs, params, weights)[0].detach().cpu().numpy().astype(np.float64)
        g = self.grid
        space = Grid(g.axes()[: g.space_dimension], g.names[: g.space_dimension])
        names = self.problem.field_names
        if g.time:
            fields = {f: out[i][..., -1] for i, f in enumerate(names)}
            history = {f: np.moveaxis(out[i], -1, 0) for i, f in enumerate(names)}
            return Solution(self.member, "pino", self.options, space, fields, time=g.hi[-1], times=g.axis(g.dimension - 1),
                            history=history, device=device, wall_time=time.perf_counter() - start, info=info)
        fields = {f: out[i] for i, f in enumerate(names)}
        return Solution(self.member, "pino", self.options, space, fields, device=device,
                        wall_time=time.perf_counter() - start, info=info)


def predict(problem, values: Mapping[str, Any] | None = None, *, device: str = "cpu", **options: Any):
    """The solution of the member ``values`` of the family ``problem`` by a trained model (``model=PATH``).

    ``values`` maps random parameters to numbers or field expressions (as
    drawn by :func:`symop.model.family.draw`); omitted, the problem's own
    parameter values are used.  ``options`` are the ``pino`` options
    (``model``, ``finetune``, ``lr``, ``n``, ``nt``).
    """
    from symop.plugins import resolve_options

    return PINOProgram(problem, resolve_options("pino", OPTIONS, options), values).run(device=device)


def _instantiate(problem, values: Mapping[str, Any]):
    """The member with ``values`` (the problem itself when there are none)."""
    if not values:
        return problem
    from symop.model.family import instantiate

    return instantiate(problem, values)


# ------------------------------------------------------------------ training
def train_family(problem, options: Mapping[str, Any], *, samples: int, output: Path, device: str = "cpu",
                 progress: bool = False, resume: bool = False, seed: int = 0) -> TrainingReport:
    """Train an FNO on ``samples`` members of ``problem`` and save it to ``output`` (see :mod:`symop_pino.train`)."""
    from symop.model.family import members
    from symop.training import device_for, distributed, save_checkpoint, wrap

    o = dict(options)
    start = time.perf_counter()
    info = distributed(device)
    dev = device_for(device, info)
    dtype = _dtype(o.get("dtype", "float32"))
    n = o.get("n") or DEFAULT_CELLS
    grid = build(problem, n, o.get("nt") or None)
    encoder = Encoder(problem, grid)
    physics = GridPhysics(problem, grid, o.get("order", 2), dtype, dev)
    drawn = members(problem, samples, seed)
    encoded = encoder.encode([v for v, _ in drawn], dtype, dev)
    used = attach(o.get("data", "auto"), encoded, physics, [m for _, m in drawn], o.get("order", 2), info)
    scales = term_scales(physics, encoded) if o.get("normalize", True) else {}
    limit = min(s // 2 for s in grid.shape)
    modes = max(1, min(int(o.get("modes", 12)), limit))
    config = FNOConfig(inputs=len(encoder.channels), outputs=len(problem.fields), dimension=grid.dimension,
                       width=int(o.get("width", 32)), modes=modes, layers=int(o.get("layers", 4)),
                       padding=float(o.get("padding", 0.125)),
                       periodic=grid.periodic)
    torch.manual_seed(int(seed))
    net = FNO(config).to(device=dev, dtype=dtype)
    model = wrap(net, info)
    output = Path(output)
    record = {"format": store.FORMAT, "family": store.family_record(problem), "grid": grid.describe(),
              "config": config.to_dict(), "channels": encoder.channels, "distributions": encoder.describe(), "data": used, "samples": int(samples),
              "seed": int(seed), "scales": scales, "options": {k: v for k, v in o.items() if k not in ("model", "finetune")}}
    schedule = Schedule(steps=int(o.get("steps", 500)), batch=int(o.get("batch", 8)), lr=float(o.get("lr", 1e-3)),
                        seed=int(seed), every=int(o.get("checkpoint_every", 0)))
    checkpoint = output.with_name(output.name + ".ckpt")
    if resume and checkpoint.exists():
        previous = store.load_checkpoint(checkpoint, dev).get("family_hash")
        if previous != record["family"]["hash"]:
            raise store.ModelFileError(f"the checkpoint `{checkpoint}` belongs to another family; "
                                       "delete it or train without `--resume`.")
    history = fit(model, physics, encoded, _weights(o, scales), schedule, info=info, checkpoint=checkpoint, resume=resume,
                  progress=progress, extra={"family_hash": record["family"]["hash"]})
    save_checkpoint(output, {**record, "model": net.state_dict(), "losses": history.losses}, info)
    summary = {"data": used, "grid": list(grid.shape), "channels": encoder.channels, "parameters": net.parameter_count(),
               "start_step": history.start_step, "world": info.world, "modes": modes, "checkpoint": str(checkpoint)}
    return TrainingReport(path=output, losses=history.losses, wall_time=time.perf_counter() - start, info=summary)


class PINO(Discretization):
    name = "pino"
    description = "physics-informed Fourier neural operator on box grids: trained on a family, zero-shot, fine-tuned"
    options = OPTIONS
    train_options = TRAIN_OPTIONS
    trains = True

    def accepts(self, problem) -> str | None:
        reason = box_reason(problem)
        if reason:
            return reason
        for bc in problem.boundary:
            if bc.kind not in ("dirichlet", "neumann", "robin"):
                return (f"pino needs boundary conditions of the form alpha*u + beta*dn(u) = g; the condition on "
                        f"{', '.join(bc.parts)} is not")
        return None

    def lower(self, problem, options: Mapping[str, Any]) -> Program:
        return PINOProgram(problem, options)

    def train(self, problem, options: Mapping[str, Any], *, samples: int, output: Path, device: str = "cpu",
              progress: bool = False, resume: bool = False, seed: int = 0) -> TrainingReport:
        return train_family(problem, options, samples=samples, output=output, device=device, progress=progress,
                            resume=resume, seed=seed)
