"""Shared by insr's Gauss–Newton and kfac tests: a program from text, and the loss of one step it fits."""

from __future__ import annotations

import torch

import symop
from symop.plugins import discretizations, resolve_options


def program(text: str, **options):
    """insr's program for ``text`` (float64 unless ``options`` say otherwise)."""
    from symop_insr.method import INSRProgram

    method = discretizations()["insr"]
    return INSRProgram(symop.parse(text), resolve_options("insr", method.options, {"dtype": "float64", **options}))


def step_loss(text: str, scheme: str, depth: int = 2, boundary_points: int = 4, **options):
    """The loss of one ``scheme`` step from a perturbed state (width 5, boundary weight 3), its fitter and its
    points: the fit is intercepted, so the loss is the one the optimizer would be handed."""
    from symop_insr.state import Snapshot
    from symop_insr.steps import Fitter, FitSettings, StepLoss

    prog = program(text, scheme=scheme, width=5, boundary_weight=3.0, **options)
    prog.options["depth"] = depth
    physics = prog.physics("cpu")
    live = prog.network(physics).double()
    fitter = Fitter(physics, live, FitSettings(points=10, boundary_points=boundary_points, seed=2))
    u = Snapshot(live)
    with torch.no_grad():
        torch.manual_seed(0)
        for p in live.parameters():
            p.add_(0.3 * torch.randn_like(p))
    caught = {}
    fitter.fit = lambda start, time, residual, iterations=None, label="", live_rows=None: caught.setdefault(
        "loss", StepLoss(fitter, time, residual, live_rows))
    prog.stepper(fitter).step(0.1, u, 0.05)
    return caught["loss"], fitter, fitter.batch(0, 0)
