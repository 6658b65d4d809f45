"""``python -m symop``: the ``symop`` command (also what ``torchrun -m symop`` runs)."""

from __future__ import annotations

import sys

from symop.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
