"""Writers and plots for :class:`~symop.solution.Solution`: VTK files, PNG/GIF figures, and
the checks that keep results from being lost (output folders, bounded file names)."""

from __future__ import annotations
