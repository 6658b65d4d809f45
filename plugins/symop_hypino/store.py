"""The model file: a trained hypernetwork with what it needs to be used again.

A symop model file (:func:`symop.training.save_checkpoint`: JSON metadata
plus tensors, never a pickle) of a table: ``format`` (``"symop-hypino/1"``), the network
:class:`~symop_hypino.hypernet.Config`, the sampling :class:`~symop_hypino.encoding.Spec`,
the ``family`` it was trained on (name, variables, whether time is one of
them, the equation as text, the random parameters and the hash of its
structure), the training options and loss history, and the weights.
:func:`check` turns every way a file can be wrong for a problem into a
:class:`~symop_hypino.errors.ModelError` sentence.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from symop import training
from symop.errors import SymopError
from symop.model.family import family_hash, random_names
from symop.model.problem import Problem
from symop.writer import language_text
from symop_hypino.encoding import Spec
from symop_hypino.errors import ModelError
from symop_hypino.hypernet import Config, HyperNetwork
from symop_hypino.linear import variables

FORMAT = "symop-hypino/1"


def family(problem: Problem) -> dict[str, Any]:
    """What identifies the family a model serves: its structure's hash and random parameters, with its name
    and equation for messages (:func:`symop.model.family.family_hash`)."""
    eq = problem.equations[0]
    return {"name": problem.name, "variables": [str(v) for v in variables(problem)], "timed": problem.t is not None,
            "equation": f"{language_text(eq.lhs, problem)} = {language_text(eq.rhs, problem)}",
            "random": random_names(problem),
            "hash": family_hash(problem, data=False)}


def same_family(theirs: dict, problem: Problem) -> bool:
    """Whether ``problem`` is the family a model was trained on, by structure (not by name).

    A hypernetwork reads sources and boundary values from its input, so the
    structure is the operator, domain, boundary kinds and coefficients
    (``family_hash(..., data=False)``).  The problem is hashed with the model's random parameters, so a member
    whose random parameters ``--set`` fixed still matches; a file written
    before models stored a hash is matched by its family's name.
    """
    if "hash" not in theirs:
        return theirs["name"] == problem.name
    random = list(theirs.get("random", []))
    if any(n not in problem.params for n in random) or any(n not in random for n in random_names(problem)):
        return False
    return family_hash(problem, random, data=False) == theirs["hash"]


def save(path: Path, hyper: HyperNetwork, spec: Spec, problem: Problem, options: dict, history: list[float]) -> None:
    """Write the model file (see the module docstring) through :func:`symop.training.save_checkpoint`."""
    state = {"format": FORMAT, "config": hyper.config.as_dict(), "spec": asdict(spec), "family": family(problem),
             "options": {k: v for k, v in options.items() if isinstance(v, (int, float, str, bool))},
             "history": history, "state": hyper.state_dict()}
    training.save_checkpoint(path, state)


def load(path: str | Path, device="cpu") -> tuple[HyperNetwork, Spec, dict]:
    """The hypernetwork, its spec and the whole file's metadata."""
    if not str(path):
        raise ModelError("the hypino method needs a trained model: train one with "
                         "`symop train FILE --method hypino --samples N -o model.pt` and pass it with "
                         "`--set model=model.pt`.")
    p = Path(path)
    if not p.exists():
        raise ModelError(f"there is no model file `{p}`; train one with "
                         f"`symop train FILE --method hypino --samples N -o {p}`.")
    try:
        data = training.load_checkpoint(p, device)
    except SymopError as err:
        raise ModelError(str(err)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelError(f"`{p}` is not a hypino model (it was not written by `symop train --method hypino`).")
    hyper = HyperNetwork(Config(**data["config"]))
    hyper.load_state_dict(data["state"])
    return hyper.to(device).eval(), Spec(**data["spec"]), data


def check(data: dict, problem: Problem, path: str, strict: bool) -> None:
    """Refuse a model trained for another kind of problem (always) or another family (when ``strict``).

    Families are matched by structure (:func:`same_family`): a renamed copy of
    the training file is the same family.
    """
    mine, theirs = family(problem), data["family"]
    if mine["timed"] != theirs["timed"]:
        what = lambda f: "one space variable and time" if f["timed"] else "two space variables"  # noqa: E731
        raise ModelError(f"the model `{path}` was trained on problems in {what(theirs)} ({theirs['name']}), "
                         f"but `{problem.name}` has {what(mine)}.")
    if strict and not same_family(theirs, problem):
        raise ModelError(f"the model `{path}` was trained for the family `{theirs['name']}` "
                         f"({theirs['equation']}), which differs from `{problem.name}` in its equation, conditions, "
                         "domain or random parameters; train one for this family, or set strict=false to apply it "
                         "anyway.")
