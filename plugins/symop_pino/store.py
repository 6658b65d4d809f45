"""The model file: network weights plus what they were trained for.

A file written by ``symop train --method pino`` holds the FNO's configuration
and weights, the family (its name, text and a hash of its structure), the grid,
the input channels, the options and the loss history.  The hash covers what a
trained operator depends on: coordinates, time interval, domain, fields,
equations, boundary and initial conditions with the fixed parameters
substituted, and the names of the random parameters; it ignores comments,
titles, ``solve`` lines, the values given to random parameters and their
distributions (stored beside it), so ``--set k=3`` asks the same model about
another member.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

import sympy as sp

from symop.errors import SymopError
from symop.training import load_checkpoint

from .physics import fixed_constants, random_names

FORMAT = "symop-pino/1"


class ModelFileError(SymopError):
    """A model file is missing, unreadable or made for another problem family."""


def signature(problem, random: list[str] | None = None) -> str:
    """A canonical text of the family's structure (see the module docstring).

    ``random`` names the parameters read as member values (default: the
    problem's random parameters); a model checks a problem with its own list,
    so a parameter that ``--set`` made fixed still matches.
    """
    random = random_names(problem) if random is None else list(random)
    fixed = fixed_constants(problem, random)

    def e(x) -> str:
        return sp.srepr(sp.sympify(x).xreplace(fixed))

    lines = [
        "space " + ",".join(problem.space.names),
        "time " + (f"{problem.t} {problem.time.start} {problem.time.end}" if problem.time else "-"),
        f"domain {problem.domain.kind} {getattr(problem.domain, 'axes', '')}",
        "periodic " + ",".join(problem.periodic),
        "fields " + ",".join(problem.field_names),
        "random " + ",".join(random),
    ]
    lines += [f"eq {eq.field} {e(eq.residual)}" for eq in problem.equations]
    lines += [f"bc {','.join(bc.parts)} {bc.field} {e(bc.residual)}" for bc in problem.boundary]
    lines += [f"ic {ic.field} {ic.order} {e(ic.value)}" for ic in problem.initial]
    return "\n".join(lines)


def family_hash(problem, random: list[str] | None = None) -> str:
    return hashlib.sha256(signature(problem, random).encode()).hexdigest()[:16]


def family_record(problem) -> dict[str, Any]:
    source = getattr(problem, "source", None)
    return {"name": problem.name, "text": getattr(source, "text", ""), "file": getattr(source, "filename", None),
            "hash": family_hash(problem)}


def load(path: str | Path, device: str = "cpu") -> dict[str, Any]:
    """Read a model file and check that it is a pino model."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"there is no model file `{path}`; train one with "
                             f"`symop train FILE --method pino --samples N -o {path}`.")
    data = load_checkpoint(path, device)
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise ModelFileError(f"`{path}` is not a pino model file (it was not written by `symop train --method pino`).")
    return dict(data)


def check_family(data: Mapping[str, Any], problem, path: str | Path) -> None:
    """Raise a :class:`ModelFileError` unless the model was trained on ``problem``'s family."""
    random = list(data["distributions"])
    missing = [n for n in random if n not in problem.params]
    extra = [n for n in random_names(problem) if n not in random]
    if missing or extra or family_hash(problem, random) != data["family"]["hash"]:
        raise ModelFileError(
            f"the model `{path}` was trained on the family `{data['family']['name']}`, which differs from "
            f"`{problem.name}` (in its equations, conditions, domain or random parameters); "
            "train a model for this family with `symop train`.")
