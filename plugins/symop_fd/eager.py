"""The right-hand side of every component in one eager pass, with few temporaries.

Each component's right-hand side splits into a part linear in the field nodes
with *numeric* coefficients and the rest:

.. math::

    F_c(t, u) = \\sum_k a_{ck}\\, D_k u_{j(k)} + R_c(t, x, u, \\ldots),

where :math:`D_k` is the stencil of node ``k`` (a derivative, or the identity).
The linear part is one stencil per component: the weights of all its nodes
merged by offset (:math:`a\\,w_o/h^m` per offset ``o``; for the Laplacian in 2D
the centre weight is :math:`-2/h_x^2 - 2/h_y^2`), so it costs one in-place
``add_`` per distinct offset into the output, read from views of the padded
field.  The rest (non-constant coefficients, nonlinear terms, sources) goes
through the generated function as before and is written into the same output.
The stage ``k`` is then one ``[C, *shape]`` tensor: no list of node tensors,
no product per stencil weight, no stacking.

The value equals :class:`~symop_fd.lowering.Evaluator`'s up to rounding (the
terms are summed in another order).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import product

import sympy as sp
import torch

from symop.discrete import stencils
from symop.model.analysis import bounded_expand

from .lowering import Lowered, collect, freeze, multi_index

Offsets = tuple[int, ...]


def node_stencil(mi: tuple[int, ...], h: tuple[float, ...], order: int) -> dict[Offsets, float]:
    """The weights of the derivative ``mi`` by offset: the product of the 1-D central stencils
    :math:`h_a^{-m_a} w^{(m_a)}_{o_a}` over the axes (offset 0 on an axis not differentiated)."""
    per_axis = []
    for m, ha in zip(mi, h):
        if m == 0:
            per_axis.append([(0, 1.0)])
            continue
        w = stencils.weights(m, order)
        r = len(w) // 2
        per_axis.append([(j, wj / ha**m) for j, wj in zip(range(-r, r + 1), w) if wj != 0.0])
    out: dict[Offsets, float] = {}
    for combo in product(*per_axis):
        weight = 1.0
        for _, w in combo:
            weight *= w
        out[tuple(o for o, _ in combo)] = weight
    return out


def _linear_piece(term: sp.Expr, index: dict[sp.Symbol, int]) -> tuple[int, float] | None:
    """(node index, coefficient) when ``term`` is a real number times one frozen node, else None."""
    present = term.free_symbols & index.keys()
    if len(present) != 1:
        return None
    s = next(iter(present))
    coeff = sp.diff(term, s)
    if not coeff.is_number or coeff.has(s) or not coeff.is_real or bounded_expand(term - coeff * s) != 0:
        return None
    return index[s], float(coeff)


class EagerRHS:
    """``F(t, U)`` of every component of ``low`` as one ``[C, *shape]`` tensor (a new one per call)."""

    def __init__(self, low: Lowered) -> None:
        self.low = low
        #: the grid this evaluates on and its boundaries (a block's under several processes: :meth:`localize`)
        self.shape, self.bsets = tuple(low.shape), low.bsets
        comps = low.comps
        nodes = collect([c.rhs for c in comps], comps)
        #: per component: {(component read, offsets): weight} of the linear part with numeric coefficients
        self.linear: list[dict[tuple[int, Offsets], float]] = []
        rests: dict[str, sp.Expr] = {}
        for c in comps:
            frozen, syms = freeze(c.rhs, nodes)
            index = {s: k for k, s in enumerate(syms)}
            back = dict(zip(syms, nodes))
            weights: dict[tuple[int, Offsets], float] = defaultdict(float)
            rest = []
            for top in sp.Add.make_args(frozen):
                # a term of the right-hand side goes to the stencil when all of it, expanded, is linear in the
                # nodes with numeric coefficients (node-free pieces stay with the rest); else it stays whole
                pieces = sp.Add.make_args(bounded_expand(top)) if top.free_symbols & index.keys() else (top,)
                found = [_linear_piece(p, index) for p in pieces] if len(pieces) <= 64 else [None]
                if any(f is None and p.free_symbols & index.keys() for f, p in zip(found, pieces)):
                    rest.append(top)
                    continue
                for f, p in zip(found, pieces):
                    if f is None:
                        rest.append(p)
                        continue
                    k, coeff = f
                    cj, mi = multi_index(nodes[k], comps, low.coords)
                    for offsets, w in node_stencil(mi, low.grid.h, low.order).items():
                        weights[(cj, offsets)] += coeff * w
            self.linear.append({k: w for k, w in weights.items() if w != 0.0})
            rests[c.name] = sp.Add(*rest).xreplace(back)
        self.rest_of = [i for i, c in enumerate(comps) if rests[c.name] != 0]
        self.rest = (low.evaluator({comps[i].name: rests[comps[i].name] for i in self.rest_of}, "rest")
                     if self.rest_of else None)
        self.padded_reads = sorted({cj for lin in self.linear for (cj, o) in lin if any(o)})

    def localize(self, blocks) -> "EagerRHS":
        """This right-hand side on this process's block of ``blocks`` (a
        :class:`symop_fd.distributed.Blocks`): its shape, its boundaries, whose padding exchanges the ghost
        layers with the neighbouring blocks. Every point then sums the same terms in the same order as one
        process does, so a split explicit run equals one process's bit for bit."""
        import copy

        local = copy.copy(self)
        local.shape, local.bsets = tuple(blocks.shape), blocks.bsets
        local.rest = blocks.localize(self.rest) if self.rest is not None else None
        return local

    def __call__(self, t, U: torch.Tensor) -> torch.Tensor:
        low = self.low
        parts = list(U.unbind(0))
        shape = self.shape
        out = torch.empty((len(low.comps), *shape), dtype=U.dtype, device=U.device)
        g = low.grid.ghost
        padded = {cj: self.bsets[cj].pad(parts[cj], t) for cj in self.padded_reads}
        written = [False] * len(low.comps)
        if self.rest is not None:
            for i, v in zip(self.rest_of, self.rest.outputs(t, parts)):
                out[i].copy_(v)
                written[i] = True
        for c, lin in enumerate(self.linear):
            target = out[c]
            for (cj, offsets), w in lin.items():
                if any(offsets):
                    view = padded[cj]
                    for a, (o, n) in enumerate(zip(offsets, shape)):
                        view = view.narrow(a, g + o, n)
                else:
                    view = parts[cj]
                if written[c]:
                    target.add_(view, alpha=w)
                else:
                    torch.mul(view, w, out=target)
                    written[c] = True
            if not written[c]:
                target.zero_()
        return out
