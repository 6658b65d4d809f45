r"""The state protocol: a state is a function of space, and states combine linearly.

An integrator of :mod:`symop.integrate` (:class:`~symop.integrate.ExplicitRK`,
:class:`~symop.integrate.LieSplitting`, :class:`~symop.integrate.StrangSplitting`)
adds states and multiplies them by numbers; here a state is a callable
``X (N, D) -> (N, C)`` of the points (spatial columns first, a time column
that it ignores), so that

* a :class:`Snapshot` is a frozen copy of a network (a fitted time step),
* a :class:`Live` state is the network being trained,
* a :class:`Rate` is the right-hand side :math:`F(t, u)` of :math:`u' = F(t, u)`
  applied to another state (evaluated by a derivative engine at the points),
* a :class:`Combination` :math:`\sum_i c_i s_i` is what ``u + dt * k`` builds.

Every one of them is differentiable in the points, so a rate of a combination
(the stages of an explicit Runge–Kutta method) is evaluated exactly like a
rate of a network.  They also give Taylor-mode jets (``jet``, ``jet2_sum``, as
:mod:`symop.nn.stde` reads them): a network's own where it has them, a
combination's the same combination of its states' jets, any other state's by
nested forward mode.
"""

from __future__ import annotations

import copy
from typing import Callable, Sequence

import torch

__all__ = ["Combination", "Live", "Rate", "Snapshot", "State"]


class State:
    """A function of space ``X (N, D) -> (N, C)`` that integrators add and scale."""

    def __call__(self, X: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __add__(self, other: "State") -> "Combination":
        return Combination(((1.0, self), (1.0, other)))

    def __sub__(self, other: "State") -> "Combination":
        return Combination(((1.0, self), (-1.0, other)))

    def __mul__(self, scale: float) -> "Combination":
        return Combination(((float(scale), self),))

    __rmul__ = __mul__

    def jet(self, X: torch.Tensor, directions, order: int) -> list[torch.Tensor]:
        """``[f_0 (N, 1, C), f_1, ..., f_order (N, S, C)]`` along ``directions`` (:func:`symop.nn.stde.jet`)."""
        from symop.nn.taylor import generic_jet

        return generic_jet(self, X, directions, order, X.shape[-1])

    def jet2_sum(self, X: torch.Tensor, directions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(f_0 (N, C), f_1 (N, S, C), sum_s f_2 (N, C))`` along ``directions``."""
        f = self.jet(X, directions, 2)
        return f[0][:, 0], f[1], f[2].sum(1)


class Snapshot(State):
    """A frozen copy of ``module`` (no parameter takes gradients): one stored time step."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = copy.deepcopy(module)
        for p in self.module.parameters():
            p.requires_grad_(False)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return self.module(X)

    def jet(self, X: torch.Tensor, directions, order: int) -> list[torch.Tensor]:
        from symop.nn import stde

        return stde.jet(self.module, X, directions, order)

    def jet2_sum(self, X: torch.Tensor, directions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from symop.nn import stde

        return stde.jet2_sum(self.module, X, directions)

    @property
    def floats(self) -> int:
        """The numbers this state stores: its network's parameters."""
        return sum(p.numel() for p in self.module.parameters())


class Live(State):
    """The network being fitted, as a state (its parameters take gradients)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return self.module(X)

    jet, jet2_sum = Snapshot.jet, Snapshot.jet2_sum


class Combination(State):
    r""":math:`\sum_i c_i s_i(X)` of states ``terms = ((c_i, s_i), ...)``."""

    def __init__(self, terms: Sequence[tuple[float, State]]) -> None:
        flat: list[tuple[float, State]] = []
        for c, s in terms:
            if isinstance(s, Combination):
                flat += [(c * c2, s2) for c2, s2 in s.terms]
            else:
                flat.append((float(c), s))
        self.terms = tuple(flat)

    def _sum(self, part: Callable[[State], Sequence[torch.Tensor]]) -> list[torch.Tensor]:
        r""":math:`\sum_i c_i` ``part(s_i)`` entry by entry, the terms with :math:`c_i = 0` skipped (all of them
        zero: ``part`` of the first state times 0)."""
        out = None
        for c, s in self.terms:
            if c == 0.0:
                continue
            f = [c * fj for fj in part(s)]
            out = f if out is None else [a + b for a, b in zip(out, f)]
        return [0.0 * fj for fj in part(self.terms[0][1])] if out is None else out

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return self._sum(lambda s: [s(X)])[0]

    def jet(self, X: torch.Tensor, directions, order: int) -> list[torch.Tensor]:
        return self._sum(lambda s: s.jet(X, directions, order))

    def jet2_sum(self, X: torch.Tensor, directions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return tuple(self._sum(lambda s: s.jet2_sum(X, directions)))


class Rate(State):
    """:math:`F(t, u)` of the state ``u`` (``rhs(t, u, X) -> (N, C)``), a state itself."""

    def __init__(self, rhs: Callable[[float, State, torch.Tensor], torch.Tensor], t: float, u: State) -> None:
        self.rhs, self.t, self.u = rhs, float(t), u

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return self.rhs(self.t, self.u, X)
