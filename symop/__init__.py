"""symop: write a PDE in a small language, solve it in PyTorch.

Public names: :func:`load`, :func:`parse`, :func:`solve`, :func:`converge`,
:mod:`symop.mms`, :class:`SymopError`.
"""

from __future__ import annotations

from symop.errors import SymopError

__version__ = "0.1.0"

__all__ = ["SymopError", "__version__"]
