"""The model file: network weights plus what they were trained for.

A file written by ``symop train --method pino`` holds the FNO's configuration
and weights, the family (its name, text and a hash of its structure,
:func:`symop.model.family.family_hash`), the grid, the input channels, the
options and the loss history.  The hash covers what a trained operator depends
on and not the family's name, so a renamed copy of the file is the same family
and ``--set k=3`` asks the same model about another member.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from symop.errors import SymopError
from symop.model.family import family_hash, random_names
from symop.training import load_checkpoint

FORMAT = "symop-pino/1"


class ModelFileError(SymopError):
    """A model file is missing, unreadable or made for another problem family."""


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
