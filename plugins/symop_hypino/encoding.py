r"""A PDE instance as numbers: collocation data for the losses and a grid image for the hypernetwork.

An :class:`Instance` holds, for one member of a family (in the two variables
:math:`z` of :mod:`symop_hypino.linear`):

* collocation data: interior points :math:`z_i` with the coefficients
  :math:`c_\alpha(z_i)` and the source :math:`f(z_i)`; boundary points with
  the direction :math:`\nu` (outward normal, or :math:`e_t` on the initial
  edge) and :math:`a, b, g`; the exact solution there when it is known;
* the grid: a :math:`G\times G` lattice of nodes over the bounding box with
  the domain mask, :math:`c_\alpha` and :math:`f` at the nodes.

:func:`image` turns an instance into the hypernetwork's input, ``CHANNELS``
planes:

====  ===============================================================
0     geometry: 1 inside the domain (holes and outside are 0)
1-6   :math:`\operatorname{asinh} c_\alpha` for :math:`\alpha` in ``KEYS``
7     :math:`f / s`
8, 9  Dirichlet mask and :math:`g / (a s)` at the boundary points' nearest nodes
10-12 Neumann/Robin mask, :math:`g / (b s)` and :math:`a / b` there
====  ===============================================================

with the data scale :math:`s = (\overline{f^2} + \overline{g^2})^{1/2}`.
Because the problem is linear, the solution for data :math:`(f, g)/s` is
:math:`u/s`: the generated network is multiplied by :math:`s`, so one
hypernetwork serves all amplitudes (and the small residual problems of
refinement).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import sympy as sp
import torch

from symop.model.domains import _split
from symop.model.problem import Problem
from symop_hypino.linear import Condition, LinearForm, linear_form

CHANNELS = 13


@dataclass(frozen=True)
class Spec:
    """How an instance is sampled: grid nodes per axis, interior and boundary collocation points."""

    grid: int = 32
    points: int = 512
    boundary_points: int = 256


@dataclass
class Instance:
    """One problem as tensors (float32 unless made otherwise); see the module docstring."""

    lo: torch.Tensor  # (2,)
    hi: torch.Tensor  # (2,)
    inside: torch.Tensor  # (G, G) 0/1
    grid_points: torch.Tensor  # (G*G, 2), row i0*G + i1
    grid_coef: torch.Tensor  # (6, G, G)
    grid_source: torch.Tensor  # (G, G)
    Z: torch.Tensor  # (N, 2)
    coef: torch.Tensor  # (N, 6)
    f: torch.Tensor  # (N,)
    Zb: torch.Tensor  # (M, 2)
    nu: torch.Tensor  # (M, 2)
    a: torch.Tensor  # (M,)
    b: torch.Tensor  # (M,)
    g: torch.Tensor  # (M,)
    cell: torch.Tensor  # (M,) long: nearest grid node of each boundary point
    u: torch.Tensor | None = None  # (N,) exact solution, when known
    ub: torch.Tensor | None = None  # (M,)
    cached_image: torch.Tensor | None = None  # image(self), kept once computed (training reuses it every step)

    @property
    def scale(self) -> torch.Tensor:
        """The data scale :math:`s` (1 when the data vanish)."""
        s = torch.sqrt((self.f ** 2).mean() + (self.g ** 2).mean())
        return torch.where(s > 1e-12, s, torch.ones_like(s))

    def with_data(self, f: torch.Tensor, g: torch.Tensor, grid_source: torch.Tensor) -> "Instance":
        """The same operator, geometry and boundary kinds with new data (and no exact solution)."""
        return replace(self, f=f, g=g, grid_source=grid_source, u=None, ub=None, cached_image=None)

    def to(self, device, dtype=torch.float32) -> "Instance":
        moved = {}
        for name, value in self.__dict__.items():
            if isinstance(value, torch.Tensor):
                moved[name] = value.to(device) if not value.is_floating_point() else value.to(device=device, dtype=dtype)
            else:
                moved[name] = value
        return Instance(**moved)


# ------------------------------------------------------------------ evaluation
@lru_cache(maxsize=4096)
def _compiled(expr: sp.Expr, variables: tuple[sp.Symbol, ...]):
    from symop.codegen import generate

    return generate(expr, list(variables), name="value")


def evaluate(expr: sp.Expr, variables: tuple[sp.Symbol, ...], Z: np.ndarray) -> np.ndarray:
    """``expr`` at the points ``Z`` ``(n, 2)`` (float64)."""
    expr = sp.sympify(expr)
    if expr.is_number:
        return np.full(len(Z), float(expr))
    fn = _compiled(expr, tuple(variables))
    columns = [torch.as_tensor(Z[:, k], dtype=torch.float64) for k in range(Z.shape[1])]
    out = fn(*columns)
    return np.broadcast_to(out.detach().cpu().numpy().astype(np.float64), (len(Z),)).copy()


# ------------------------------------------------------------------ geometry
def plane_box(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners of the plane of ``(x, y)`` or ``(x, t)``."""
    lo, hi = problem.domain.bounding_box()
    lo, hi = list(np.asarray(lo, float)), list(np.asarray(hi, float))
    if problem.time is not None:
        lo.append(problem.time.start)
        hi.append(problem.time.end)
    return np.array(lo), np.array(hi)


def _inside(problem: Problem, Z: np.ndarray) -> np.ndarray:
    return problem.domain.contains(Z[:, : problem.dimension])


def _interior(problem: Problem, n: int, rng: np.random.Generator) -> np.ndarray:
    pts = problem.domain.sample_interior(n, seed=rng)
    if problem.time is not None:
        tm = problem.time
        pts = np.concatenate([pts, tm.start + (tm.end - tm.start) * rng.random((n, 1))], axis=1)
    return pts


def _on_condition(problem: Problem, cond: Condition, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on the condition's parts and the direction ``nu`` there."""
    if cond.parts == ("initial",):
        x = problem.domain.sample_interior(n, seed=rng)
        pts = np.concatenate([x, np.full((n, 1), problem.time.start)], axis=1)
        nu = np.zeros_like(pts)
        nu[:, -1] = 1.0
        return pts, nu
    counts = _split(n, [problem.domain.boundary_measure(p) or 1.0 for p in cond.parts])
    pts, nus = [], []
    for part, count in zip(cond.parts, counts):
        if count:
            p, q = problem.domain.sample_boundary(part, count, seed=rng)
            pts.append(p)
            nus.append(q)
    pts, nu = np.concatenate(pts), np.concatenate(nus)
    if problem.time is not None:
        tm = problem.time
        pts = np.concatenate([pts, tm.start + (tm.end - tm.start) * rng.random((len(pts), 1))], axis=1)
        nu = np.concatenate([nu, np.zeros((len(nu), 1))], axis=1)
    return pts, nu


def nearest_cell(Z: np.ndarray, lo: np.ndarray, hi: np.ndarray, G: int) -> np.ndarray:
    """Index ``i0*G + i1`` of the grid node nearest to each point."""
    idx = np.rint((Z - lo) / (hi - lo) * (G - 1)).astype(int).clip(0, G - 1)
    return idx[:, 0] * G + idx[:, 1]


# ------------------------------------------------------------------ encoding
def _jet_values(u: sp.Expr, z: tuple[sp.Symbol, ...], Z: np.ndarray) -> np.ndarray:
    """``u`` and its derivatives :data:`KEYS` at ``Z``: ``(n, 6)``.

    ``u`` is compiled once; its derivatives come from exact float64 autograd on
    the compiled function (symbolic differentiation of random solutions costs
    far more than the rest of an instance).
    """
    fn = _compiled(sp.sympify(u), tuple(z))
    X = torch.as_tensor(Z, dtype=torch.float64).requires_grad_(True)
    with torch.enable_grad():
        value = fn(X[:, 0], X[:, 1]).expand(len(Z))
        (g,) = torch.autograd.grad(value.sum(), X, create_graph=True, allow_unused=True)
        g = torch.zeros_like(X) if g is None else g
        second = []
        for i in range(2):
            if g[:, i].requires_grad:
                (h,) = torch.autograd.grad(g[:, i].sum(), X, retain_graph=True, allow_unused=True)
                second.append(torch.zeros_like(X) if h is None else h)
            else:
                second.append(torch.zeros_like(X))
    cols = [value, g[:, 0], g[:, 1], second[0][:, 0], second[0][:, 1], second[1][:, 1]]
    return torch.stack([c.detach() for c in cols], dim=1).numpy()


def encode(problem: Problem, spec: Spec, seed: int = 0, form: LinearForm | None = None,
           exact: sp.Expr | None = None) -> Instance:
    r"""The :class:`Instance` of an ordinary problem.

    Without ``exact`` the data are the problem's own source and boundary values
    and the problem's ``exact`` line, if any, gives the labels.  With ``exact``
    (an expression in the two variables) the data are *manufactured* from it,
    numerically: :math:`f = \sum_\alpha c_\alpha \partial^\alpha u^\star` and
    :math:`g = a u^\star + b\,\nu\cdot\nabla u^\star` — what
    :func:`symop.mms.manufacture` derives symbolically, for the operator of
    this class — and ``exact`` gives the labels.
    """
    form = form or linear_form(problem)
    z = form.variables
    rng = np.random.default_rng((int(seed), 7))
    lo, hi = plane_box(problem)
    G = spec.grid
    axes = [np.linspace(lo[k], hi[k], G) for k in range(2)]
    Zg = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    inside = _inside(problem, Zg).astype(float)
    grid_coef = np.stack([evaluate(c, z, Zg) for c in form.coefficients], axis=1)  # (G², 6)
    Z = _interior(problem, spec.points, rng)
    coef = np.stack([evaluate(c, z, Z) for c in form.coefficients], axis=1)
    counts = _split(spec.boundary_points, [1.0] * len(form.conditions))
    Zb, nu, a, b, g = [], [], [], [], []
    for cond, count in zip(form.conditions, counts):
        if count == 0:
            continue
        p, q = _on_condition(problem, cond, count, rng)
        Zb.append(p)
        nu.append(q)
        a.append(evaluate(cond.a, z, p))
        b.append(evaluate(cond.b, z, p))
        if exact is None:
            g.append(evaluate(cond.g, z, p))
    Zb, nu, a, b = (np.concatenate(v) for v in (Zb, nu, a, b))
    u = ub = None
    if exact is None:
        g = np.concatenate(g)
        grid_source = evaluate(form.source, z, Zg)
        f = evaluate(form.source, z, Z)
        name = problem.field_names[0]
        if name in problem.exact:
            known = problem.numeric(problem.exact[name])
            u, ub = evaluate(known, z, Z), evaluate(known, z, Zb)
    else:
        jets = _jet_values(sp.sympify(exact), z, np.concatenate([Zg, Z, Zb]))
        jg, ji, jb = np.split(jets, [len(Zg), len(Zg) + len(Z)])
        grid_source = (grid_coef * jg).sum(1)
        f = (coef * ji).sum(1)
        g = a * jb[:, 0] + b * (nu[:, 0] * jb[:, 1] + nu[:, 1] * jb[:, 2])
        u, ub = ji[:, 0], jb[:, 0]
    grid_coef = (grid_coef * inside[:, None]).T.reshape(6, G, G)
    grid_source = (grid_source * inside).reshape(G, G)
    t = lambda v: None if v is None else torch.as_tensor(np.ascontiguousarray(v), dtype=torch.float32)  # noqa: E731
    return Instance(lo=t(lo), hi=t(hi), inside=t(inside.reshape(G, G)), grid_points=t(Zg), grid_coef=t(grid_coef),
                    grid_source=t(grid_source), Z=t(Z), coef=t(coef), f=t(f), Zb=t(Zb), nu=t(nu), a=t(a), b=t(b),
                    g=t(g), cell=torch.as_tensor(nearest_cell(Zb, lo, hi, G), dtype=torch.long), u=t(u), ub=t(ub))


def image(inst: Instance) -> torch.Tensor:
    """The hypernetwork input ``(CHANNELS, G, G)`` of one instance."""
    G = inst.inside.shape[0]
    s = inst.scale
    out = torch.zeros(CHANNELS, G * G, dtype=inst.f.dtype, device=inst.f.device)
    out[0] = inst.inside.reshape(-1)
    out[1:7] = torch.asinh(inst.grid_coef.reshape(6, -1))
    out[7] = inst.grid_source.reshape(-1) / s
    dirichlet = inst.b.abs() < 1e-12
    ones = torch.ones_like(inst.g)
    a_safe = torch.where(inst.a.abs() > 1e-12, inst.a, ones)
    b_safe = torch.where(dirichlet, ones, inst.b)

    def put(channel: int, values: torch.Tensor, mask: torch.Tensor, mean: bool) -> None:
        cells = inst.cell[mask]
        if not len(cells):
            return
        total = torch.zeros(G * G, dtype=values.dtype, device=values.device).index_add_(0, cells, values[mask])
        if mean:
            count = torch.zeros(G * G, dtype=values.dtype, device=values.device).index_add_(0, cells, ones[mask])
            total = total / count.clamp_min(1.0)
        out[channel] = total

    put(8, ones, dirichlet, mean=True)
    out[8] = (out[8] > 0).to(out.dtype)
    put(9, inst.g / (a_safe * s), dirichlet, mean=True)
    put(10, ones, ~dirichlet, mean=True)
    out[10] = (out[10] > 0).to(out.dtype)
    put(11, inst.g / (b_safe * s), ~dirichlet, mean=True)
    put(12, inst.a / b_safe, ~dirichlet, mean=True)
    return out.reshape(CHANNELS, G, G)


def collate(instances: list[Instance]) -> dict[str, torch.Tensor]:
    """Stack instances into a batch (``u`` and ``ub`` are zero with ``labelled`` 0 where unknown)."""
    keys = ("lo", "hi", "Z", "coef", "f", "Zb", "nu", "a", "b", "g")
    out = {k: torch.stack([getattr(i, k) for i in instances]) for k in keys}
    for i in instances:
        if i.cached_image is None:
            i.cached_image = image(i)
    out["image"] = torch.stack([i.cached_image for i in instances])
    out["scale"] = torch.stack([i.scale for i in instances])
    out["labelled"] = torch.tensor([i.u is not None for i in instances], dtype=out["f"].dtype, device=out["f"].device)
    out["u"] = torch.stack([i.u if i.u is not None else torch.zeros_like(i.f) for i in instances])
    out["ub"] = torch.stack([i.ub if i.ub is not None else torch.zeros_like(i.g) for i in instances])
    return out
