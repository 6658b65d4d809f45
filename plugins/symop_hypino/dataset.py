r"""Training instances from a family: manufactured (labelled) and plain (unlabelled) members.

Member ``i`` of the family (drawn by :func:`symop.model.family.members`, or the
problem itself when it has no random parameters) becomes

* with probability ``labelled``, a *manufactured* instance: the member's
  operator, geometry and boundary kinds with a random smooth exact solution
  :math:`u^\star` from :func:`symop.mms.random_solution`; source and boundary
  data are derived from :math:`u^\star` (see :func:`symop_hypino.encoding.encode`)
  and :math:`u^\star` is the label — HyPINO's method of manufactured solutions;
* otherwise the member as written, an *unlabelled* instance trained by its
  physics residual alone (labelled when the file has an ``exact`` line).

Everything is a function of ``seed`` and ``i``, so every process of a
distributed run builds the same list.
"""

from __future__ import annotations

import numpy as np

from symop.model.problem import Problem
from symop_hypino.encoding import Instance, Spec, encode
from symop_hypino.linear import linear_form


def members(problem: Problem, count: int, seed: int) -> list[Problem]:
    """``count`` members of the family (copies of ``problem`` when it is a single problem)."""
    from symop.model import family

    if family.is_family(problem):
        return [m for _, m in family.members(problem, count, seed)]
    return [problem] * int(count)


def build(problem: Problem, count: int, seed: int, spec: Spec, *, labelled: float = 0.5, modes: int = 3,
          frequency: int = 2) -> list[Instance]:
    """The training (or held-out) instances: ``count`` members, a fraction ``labelled`` manufactured."""
    from symop.mms import random_solution

    flags = np.random.default_rng((int(seed), 11)).random(int(count)) < float(labelled)
    out = []
    for i, member in enumerate(members(problem, count, seed)):
        form = linear_form(member)
        key = int(seed) * 1_000_003 + i
        exact = None
        if flags[i]:
            exact = random_solution(member, key, modes=modes, max_frequency=frequency)[member.field_names[0]]
        out.append(encode(member, spec, seed=key, form=form, exact=exact))
    return out
