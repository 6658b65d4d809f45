"""The error the code generator raises."""

from __future__ import annotations

from symop.errors import SymopError


class CodegenError(SymopError):
    """An expression cannot be turned into PyTorch code.

    The message is a sentence naming the offending piece of the expression
    (an unsupported function, a symbol that is neither an argument nor a
    constant, a sum whose bounds are not integers, ...).
    """
