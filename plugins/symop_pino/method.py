"""The ``pino`` discretization: train a Fourier neural operator on a family, solve members zero-shot, fine-tune."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from symop.plugins import Discretization, Program, Refinement, TrainingReport

from .options import OPTIONS, TRAIN_OPTIONS


class PINO(Discretization):
    name = "pino"
    description = "physics-informed Fourier neural operator on box grids: trained on a family, zero-shot, fine-tuned"
    options = OPTIONS
    train_options = TRAIN_OPTIONS
    trains = True
    #: studies double the grid the operator is evaluated on; a trained operator declares no order
    refinement = Refinement(cells="n")

    def accepts(self, problem) -> str | None:
        from .grid import box_reason

        reason = box_reason(problem)
        if reason:
            return reason
        for bc in problem.boundary:
            if bc.kind not in ("dirichlet", "neumann", "robin"):
                return (f"pino needs boundary conditions of the form alpha*u + beta*dn(u) = g; the condition on "
                        f"{', '.join(bc.parts)} is not")
        return None

    def lower(self, problem, options: Mapping[str, Any]) -> Program:
        from .program import PINOProgram

        return PINOProgram(problem, options)

    def train(self, problem, options: Mapping[str, Any], *, samples: int, output: Path, device: str = "cpu",
              progress: bool = False, resume: bool = False, seed: int = 0) -> TrainingReport:
        from .trainer import train_family

        return train_family(problem, options, samples=samples, output=output, device=device, progress=progress,
                            resume=resume, seed=seed)
