"""The module that generated functions belong to.

Generated source runs in a fresh namespace whose ``__name__`` is
``symop.codegen.generated``; this real module, holding the same globals
(``torch`` and ``math``), lets tools that look a function's module up
(``torch.compile``, ``inspect``, pickling) find it.
"""

from __future__ import annotations

import math

import torch

__all__ = ["math", "torch"]
