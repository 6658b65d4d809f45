"""The choices of the Gauss–Newton optimizers' options, as plain data.

Methods offer them as option choices (``symop plugins pinn``), which must be
readable without importing torch; :mod:`symop.training.curvature` uses them.
"""

from __future__ import annotations

#: engd and kfac: how a step length is chosen (a grid of 2^-k, backtracking from 1, or the learning rate)
LINE_SEARCHES = ("grid", "backtracking", "none")
#: engd: how the Gauss–Newton system is solved (P x P dense, M x M Woodbury, or the smaller of the two)
SOLVERS = ("auto", "dense", "woodbury")
