"""symop: write a PDE in a small language, solve it in PyTorch.

Public names: :func:`load`, :func:`parse`, :func:`lower`, :func:`solve`, :func:`train`,
:class:`Problem`, :class:`SymopError`.
"""

from __future__ import annotations

from symop.errors import SymopError

__version__ = "0.1.0"

__all__ = ["SymopError", "Problem", "load", "parse", "lower", "solve", "train", "__version__"]


#: modules the documentation calls through ``symop.<name>``, imported on first use
SUBMODULES = ("api", "mms", "converge", "bench", "catalogue", "evaluation", "solution", "training", "nn", "plugins")


def __getattr__(name: str):
    # Lazy so that `import symop` stays cheap (torch and sympy load on first use).
    if name in ("load", "parse", "lower", "solve", "train"):
        from symop import api

        return getattr(api, name)
    if name == "Problem":
        from symop.model.problem import Problem

        return Problem
    if name in SUBMODULES:  # `symop.mms.random_solution(...)` after a plain `import symop`, as the README writes it
        import importlib

        return importlib.import_module(f"symop.{name}")
    raise AttributeError(f"module 'symop' has no attribute {name!r}")
