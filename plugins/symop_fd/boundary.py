"""Boundary closures: ghost layers from periodic wrap, Dirichlet extrapolation or
a Neumann/Robin closure, as torch slicing and as a sparse matrix.

On side ``s`` of axis ``a`` (s = -1 left, +1 right) the outward normal derivative
is ``dn = s * d/dx_a``.  With order 2, ``alpha*u + beta*dn(u) = g`` closes the ghost
``k`` layers out by the central difference over ``2k h``:

    u_ghost(k) = u_inner(k) + 2 k h (g - alpha u_0) / beta

With order 4 the ghosts are values ``p(-k)`` of the polynomial of degree 5 through
the nodes 0..4 whose derivative satisfies the condition
(:func:`symop.discrete.stencils.flux_ghost_weights`): ghost errors O(h^6), so the 4th-order
stencils stay O(h^4) next to the side.

Dirichlet sides set their boundary nodes to ``g`` (the time derivative ``dg/dt``
in the stages of evolution problems, ``g`` again at the end of every step:
:class:`symop_fd.timestep.DirichletAtStepEnd`) and extrapolate ghosts polynomially
(:meth:`BoundarySet.dirichlet_degree`).

A side of a field of fourth order in space holds two conditions (clamped:
``u = g0`` and ``alpha*u + beta*dn(u) = g1``, :class:`SideCondition` with a
``flux``): the boundary nodes take ``g0`` as on a Dirichlet side, and every ghost
layer is ``p(-k)`` of the polynomial through the nodes next to the side whose
slope meets the flux condition (:meth:`BoundarySet.clamped_degree`), so both
conditions hold in the discrete problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp
import torch

from symop.codegen import generate
from symop.errors import MethodError, OptionError
from symop.discrete.stencils import extrapolation, flux_ghost_weights

from .grid import FDGrid

if TYPE_CHECKING:  # pragma: no cover - SciPy is imported where a matrix is built, not on the explicit path
    import scipy.sparse as sps


@dataclass
class SideCondition:
    """``alpha*u + beta*dn(u) = value`` on one side (kind dirichlet/neumann/robin).

    ``flux``: on a side of a field of fourth order in space, the second condition
    of a clamped side: the Dirichlet condition fixes the boundary nodes and
    ``flux`` (a Neumann or Robin condition) closes the ghost layers.
    """

    kind: str
    alpha: sp.Expr
    beta: sp.Expr
    value: sp.Expr
    flux: "SideCondition | None" = None


def _data_function(expr: sp.Expr, coords, t, name: str):
    return generate(sp.sympify(expr), [*coords, t] if t is not None else list(coords), name=name)


class BoundarySet:
    """Ghost padding and Dirichlet data of one component on the grid."""

    def __init__(self, grid: FDGrid, conditions: dict[str, SideCondition], side_axes: dict[str, tuple[int, int]],
                 coords, t, order: int, dtype, device, space_order: int = 2) -> None:
        self.grid = grid
        #: the highest derivative along one axis that a stencil takes of this component
        self.space_order = space_order
        self.g = grid.ghost
        self.order = order
        self.dtype = dtype
        self.device = device
        self.coords = coords
        self.t = t
        d = grid.dimension
        # per (axis, side) condition
        self.sides: dict[tuple[int, int], SideCondition] = {}
        self.side_names = {tuple(v): k for k, v in side_axes.items()}
        for name, cond in conditions.items():
            self.sides[side_axes[name]] = cond
        self._closures: dict[tuple[int, int], dict[str, Any]] = {}
        for a in range(d):
            if grid.periodic[a]:
                continue
            for s in (-1, 1):
                cond = self.sides.get((a, s)) or SideCondition("neumann", sp.S.Zero, sp.S.One, sp.S.Zero)
                self.sides[(a, s)] = cond
                self._closures[(a, s)] = self._closure(a, s, cond)
        # Dirichlet node slabs (unpadded coordinates)
        self.dirichlet: list[dict[str, Any]] = []
        mask = np.zeros(grid.shape, dtype=bool)
        for (a, s), cond in sorted(self.sides.items()):
            if cond.kind != "dirichlet":
                continue
            idx = 0 if s < 0 else grid.shape[a] - 1
            fixed = {a: grid.lo[a] if s < 0 else grid.hi[a]}
            mesh = [torch.as_tensor(m, dtype=dtype, device=device) for m in grid.mesh(fixed=fixed)]
            value = sp.sympify(cond.value) / sp.sympify(cond.alpha)
            entry = {
                "axis": a, "index": idx, "coords": mesh, "shape": mesh[0].shape,
                "value": _data_function(value, coords, t, "g"),
                "rate": _data_function(sp.diff(value, t) if t is not None else sp.S.Zero, coords, t, "dg"),
                "const": not value.has(t) if t is not None else True, "cache": None,
            }
            self.dirichlet.append(entry)
            sl = [slice(None)] * d
            sl[a] = idx
            mask[tuple(sl)] = True
        self.mask = mask

    # ------------------------------------------------------------ closures
    def _slab(self, a: int, s: int) -> list[np.ndarray]:
        ghosts = tuple(self.g if (b < a) else 0 for b in range(self.grid.dimension))
        fixed = {a: self.grid.lo[a] if s < 0 else self.grid.hi[a]}
        return self.grid.mesh(ghosts=ghosts, fixed=fixed)

    def clamped_degree(self) -> int:
        """Degree ``D`` of the ghost polynomial of a clamped side (``u`` and ``dn(u)`` given).

        The ghosts are values ``p(-k)`` of the polynomial through the nodes ``0..D-1``
        whose slope meets the flux condition (:func:`flux_ghost_weights`), with errors
        O(h^(D+1)); a fourth difference divides them by h^4.  Order 4 takes D = 7, so
        the rows next to the side are O(h^4) like the interior ones.  Order 2 takes
        D = 4: rows O(h) there, which the discrete Green's function of a clamped
        fourth-order operator (O(h^2) within a few nodes of the side) keeps out of
        the O(h^2) error.  D = 5 would widen the spectrum of the closed fourth
        difference by 24 %, past the margin of the explicit step
        (:func:`symop_fd.timestep.default_dt`); D = 7 for order 4 widens it by 0.2 %.
        """
        return 4 if self.order <= 2 else 7

    def dirichlet_degree(self) -> int:
        """Degree ``D`` of the polynomial through the nodes ``0..D`` that extrapolates a Dirichlet side's ghosts.

        Order 2 takes D = 4.  Order 4 takes D = 5: the row next to the side is then the
        one-sided six-point second difference, O(h^4) like the interior, and the closed
        1-D Laplacian has real negative eigenvalues (checked for n = 4..129 and up to 512,
        eigenvectors conditioned below 5).  D = 6 (O(h^5) there) gives it two pairs of complex
        eigenvalues, about -10565 ± 2064i at n = 64 (-2644 ± 520i at n = 32): harmless to
        diffusion, which damps them, but a wave ``dt(u, 2) = lap(u)`` grows like
        ``exp(Re sqrt(lambda) t)``, about ``exp(0.16 t/h)``, a growth no time step removes.
        A component differentiated three times along an axis keeps D = 6 (its third
        difference divides the ghost error by h^3).
        """
        if self.order <= 2 or self.space_order > 2:
            return self.order + 2
        return self.order + 1

    def _closure(self, a: int, s: int, cond: SideCondition) -> dict[str, Any]:
        n = self.grid.shape[a]
        h = self.grid.h[a]
        layers = []
        if cond.kind == "dirichlet" and cond.flux is None:
            deg = min(self.dirichlet_degree(), n - 1)
            for k in range(1, self.g + 1):
                w = extrapolation(deg, k)
                layers.append({"terms": [(i, float(w[i])) for i in range(deg + 1)], "affine": None})
            return {"layers": layers, "slab": None, "data": None}
        # a clamped side: the Dirichlet condition fixes the boundary nodes, its flux condition the ghosts
        clamped = cond.kind == "dirichlet"
        if clamped:
            cond = cond.flux
        slab = self._slab(a, s)
        t0 = 0.0
        args = [*slab, np.full_like(slab[0], t0)] if self.t is not None else slab
        syms = [*self.coords] + ([self.t] if self.t is not None else [])
        lam = sp.lambdify(syms, [cond.alpha, cond.beta], "numpy")
        alpha, beta = (np.broadcast_to(np.asarray(v, dtype=np.float64), slab[0].shape) for v in lam(*args))
        if np.any(beta == 0):
            side = self.side_names.get((a, s), f"the side {s:+d} of axis {a + 1}")
            raise MethodError(f"the Robin condition on `{side}` has beta = 0 on part of the side; "
                              "fd needs beta nonzero on the whole side (write a Dirichlet condition there).")
        ratio = alpha / beta
        data = _data_function(sp.sympify(cond.value) / sp.sympify(cond.beta), self.coords, self.t, "gb")
        slab_t = [torch.as_tensor(m, dtype=self.dtype, device=self.device) for m in slab]
        if clamped or self.order > 2:
            degree = self.clamped_degree() if clamped else self.order + 1
            if n < degree:
                what = "a side with two conditions (u and dn(u))" if clamped else "a Neumann or Robin side"
                raise OptionError(f"fd's order {self.order} needs at least {degree} nodes per axis next to {what}; "
                                  f"the grid has {n}: raise n.")
            for k in range(1, self.g + 1):
                L, M = flux_ghost_weights(degree, k)
                w0 = L[0] + M * h * ratio
                terms = [(0, 1.0 if np.any(w0 != 0) else 0.0)] + [(i, float(L[i])) for i in range(1, len(L))]
                layers.append({"terms": terms, "affine": -M * h,
                               "wt": torch.as_tensor(w0, dtype=self.dtype, device=self.device)})
        else:
            for k in range(1, self.g + 1):
                wk = -2.0 * k * h * ratio
                layers.append({"terms": [(k, 1.0), (0, wk if np.any(wk != 0) else 0.0)], "affine": 2.0 * k * h,
                               "wt": torch.as_tensor(wk, dtype=self.dtype, device=self.device)})
        return {"layers": layers, "slab": slab_t, "data": data, "const": (self.t is None) or not
                (sp.sympify(cond.value) / sp.sympify(cond.beta)).has(self.t), "cache": None}

    def _data(self, closure: dict[str, Any], t) -> torch.Tensor:
        if closure["const"] and closure["cache"] is not None:
            return closure["cache"]
        slab = closure["slab"]
        args = [*slab, t] if self.t is not None else slab
        v = torch.broadcast_to(closure["data"](*args), slab[0].shape)
        if closure["const"]:
            closure["cache"] = v
        return v

    # ------------------------------------------------------------ torch
    def pad(self, u: torch.Tensor, t) -> torch.Tensor:
        """``u`` with ``g`` ghost layers on both sides of every axis."""
        g = self.g
        for a in range(self.grid.dimension):
            n = u.shape[a]
            if self.grid.periodic[a]:
                u = torch.cat([u.narrow(a, n - g, g), u, u.narrow(a, 0, g)], dim=a)
                continue
            low, high = self.side_ghosts(u, a, -1, t), self.side_ghosts(u, a, 1, t)
            u = torch.cat([*low, u, *high], dim=a)
        return u

    def side_ghosts(self, u: torch.Tensor, a: int, s: int, t, index: tuple[slice, ...] | None = None) -> list[torch.Tensor]:
        """The ghost layers of ``u`` beyond side ``s`` (-1 low, +1 high) of the closed axis ``a``, in order along the axis.

        ``u`` is padded along the axes before ``a`` already.  ``index`` picks the
        part of the side that ``u`` covers (a block of a grid split across
        processes, :mod:`symop_fd.distributed`) from the side's data, which is
        laid out over the whole side; ``None``: ``u`` covers all of it.
        """
        n = u.shape[a]
        cl = self._closures[(a, s)]
        data = self._data(cl, t) if cl["data"] is not None else None
        if index is not None and data is not None:
            data = data[index]

        def node(i: int) -> torch.Tensor:
            return u.narrow(a, i if s < 0 else n - 1 - i, 1)

        ghosts = []
        for layer in cl["layers"]:
            acc = None
            for i, w in layer["terms"]:
                if isinstance(w, float) and w == 0.0:
                    continue
                if i == 0 and "wt" in layer:
                    wt = layer["wt"]
                    term = node(0) * (wt[index] if index is not None and wt.dim() else wt)
                else:
                    term = node(i) * w if w != 1.0 else node(i)
                acc = term if acc is None else acc + term
            if layer["affine"] is not None:
                acc = acc + layer["affine"] * data
            ghosts.append(acc)
        return list(reversed(ghosts)) if s < 0 else ghosts

    def set_dirichlet(self, out: torch.Tensor, t, rate: bool) -> torch.Tensor:
        """Write ``g`` (or ``dg/dt`` when ``rate``) into the Dirichlet nodes of ``out``."""
        for e in self.dirichlet:
            if rate and e["const"]:
                v = 0.0
            else:
                fn = e["rate"] if rate else e["value"]
                args = [*e["coords"], t] if self.t is not None else e["coords"]
                v = torch.broadcast_to(fn(*args), e["shape"])
            target = out.narrow(e["axis"], e["index"], 1)
            if isinstance(v, float):
                target.fill_(v)
            else:
                target.copy_(v)
        return out

    def with_dirichlet(self, out: torch.Tensor, t, rate: bool) -> torch.Tensor:
        """``out`` with its Dirichlet nodes replaced by ``g`` (or ``dg/dt``), without writing in place.

        The functional twin of :meth:`set_dirichlet`: ``torch.slice_scatter`` lets
        ``torch.compile`` fuse the boundary values into the loop that writes ``out``.
        """
        out = out.expand(self.grid.shape)
        for e in self.dirichlet:
            if rate and e["const"]:
                v = torch.zeros((), dtype=out.dtype, device=out.device)
            else:
                fn = e["rate"] if rate else e["value"]
                args = [*e["coords"], t] if self.t is not None else e["coords"]
                v = fn(*args)
            v = torch.broadcast_to(v, e["shape"])
            out = torch.slice_scatter(out, v, dim=e["axis"], start=e["index"], end=e["index"] + 1)
        return out

    def warm(self, t) -> None:
        """Fill the caches of time-independent ghost data (before tracing, so that no traced value is cached)."""
        for cl in self._closures.values():
            if cl["data"] is not None:
                self._data(cl, t)

    # ------------------------------------------------------------ sparse
    def pad_matrix(self) -> sps.csr_matrix:
        """The linear part P of the padding: padded = P u + pad(0, t), flattened in C order."""
        import scipy.sparse as sps

        shape = list(self.grid.shape)
        g = self.g
        P = sps.identity(int(np.prod(shape)), format="csr")
        for a in range(self.grid.dimension):
            n = shape[a]
            out_shape = list(shape)
            out_shape[a] = n + 2 * g
            in_idx = np.arange(int(np.prod(shape))).reshape(shape)
            out_idx = np.arange(int(np.prod(out_shape))).reshape(out_shape)
            rows = [np.take(out_idx, range(g, g + n), axis=a).ravel()]
            cols = [in_idx.ravel()]
            vals = [np.ones(in_idx.size)]

            def add(pos: int, node: int, w) -> None:
                r = np.take(out_idx, [pos], axis=a).ravel()
                c = np.take(in_idx, [node], axis=a).ravel()
                rows.append(r)
                cols.append(c)
                vals.append(np.broadcast_to(np.asarray(w, dtype=np.float64), np.take(out_idx, [pos], axis=a).shape).ravel())

            if self.grid.periodic[a]:
                for j in range(g):
                    add(j, n - g + j, 1.0)
                    add(g + n + j, j, 1.0)
            else:
                for s in (-1, 1):
                    cl = self._closures[(a, s)]
                    for k, layer in enumerate(cl["layers"], start=1):
                        pos = g - k if s < 0 else g + n - 1 + k
                        for i, w in layer["terms"]:
                            if i == 0 and "wt" in layer:
                                w = layer["wt"].cpu().numpy()
                            node = i if s < 0 else n - 1 - i
                            add(pos, node, w)
            Pa = sps.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                shape=(out_idx.size, in_idx.size),
            )
            P = Pa @ P
            shape = out_shape
        return sps.csr_matrix(P)
