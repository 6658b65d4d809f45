"""SymPy expressions → readable, compiled, cached PyTorch functions.

>>> import sympy as sp
>>> from symop.codegen import generate
>>> x, y = sp.symbols("x y")
>>> fn = generate(sp.sin(x) * y, [x, y])
>>> fn.arguments
('x', 'y')

See :func:`generate` for the conventions (node arguments, indexed coordinates,
vectorized sums, broadcasting) and :class:`TorchPrinter` for the printing
rules.
"""

from __future__ import annotations

from symop.codegen.compiler import clear_cache
from symop.codegen.errors import CodegenError
from symop.codegen.generate import GeneratedFunction, generate
from symop.codegen.nodes import default_node_name
from symop.codegen.printer import TorchPrinter

__all__ = ["CodegenError", "GeneratedFunction", "TorchPrinter", "clear_cache", "default_node_name", "generate"]
