"""Writers and plots for :class:`~symop.solution.Solution`: VTK files and PNG/GIF figures."""

from __future__ import annotations
