r"""Evaluating a :class:`~symop.solution.Solution` anywhere in its domain and at any saved time.

``s(points, t=None, field=None, outside="error")`` (:meth:`Solution.__call__`)
takes the points as

* one ``(N, d)`` array, list or torch tensor (any leading shape ``(..., d)``),
* or ``d`` coordinate arrays (or numbers), one per axis, broadcast together:
  ``s(x, y)``; in one dimension a 1-D array is a list of coordinates.

It returns NumPy float64 values with the points' leading shape (a float for a
single point given as numbers): one array for a one-field problem or when
``field`` names a field, else a dict field → array.  Each method evaluates with
its own interpolant (:mod:`symop.interpolate`): finite differences and neural
operators by tensor-product Lagrange polynomials of their grid, finite elements
by their P1/P2 basis in the cell that holds the point, networks (pinn, hypino)
by the trained network itself (:attr:`Solution.network`), in batches on the
run's device.  A time ``t`` between saved snapshots is reached by cubic
Lagrange interpolation over the four nearest saved times
(:data:`TIME_DEGREE`), or by the network at ``t``.

Points outside the domain (:meth:`~symop.model.domains.Domain.contains`, with
points on its boundary inside) raise a :class:`SymopError` by default, or get
NaN with ``outside="nan"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from symop.errors import SymopError

if TYPE_CHECKING:  # pragma: no cover
    from symop.solution import Solution

__all__ = ["DEFAULT_SNAPSHOTS", "SNAPSHOT_BUDGET", "TIME_DEGREE", "BATCH", "as_points", "evaluate", "network_values",
           "snapshot_count", "snapshot_times", "state_at", "inside"]

#: snapshots a time-dependent run keeps by default: 20 equal intervals, t0 and the final time included
DEFAULT_SNAPSHOTS = 21
#: bytes the default snapshots may take in all; a larger state keeps fewer (at least t0 and t1, else none)
SNAPSHOT_BUDGET = 256 * 2**20
#: degree of the Lagrange interpolation in time between saved snapshots
TIME_DEGREE = 3
#: points per batch when a network is evaluated
BATCH = 65536


def snapshot_count(save: int | None, snapshot_bytes: int) -> int | None:
    """How many equally spaced snapshots (t0 and the final time included) a run keeps.

    ``save`` given: that many (0 or 1: the final state only, ``None`` is
    returned).  ``save`` None: :data:`DEFAULT_SNAPSHOTS`, fewer when they would
    take more than :data:`SNAPSHOT_BUDGET` bytes of ``snapshot_bytes`` each
    (and ``None`` when not even two fit).
    """
    if save is not None:
        return int(save) if int(save) >= 2 else None
    fit = SNAPSHOT_BUDGET // max(int(snapshot_bytes), 1)
    count = min(DEFAULT_SNAPSHOTS, int(fit))
    return count if count >= 2 else None


def snapshot_times(save: int | None, snapshot_bytes: int, t0: float, t1: float, dt: float) -> int | list[float] | None:
    r"""The ``save_times`` of :func:`symop.integrate.integrate` for a run's ``save`` option.

    ``save`` given: that many equally spaced times (or ``None``, the final
    state only, for 0 or 1), as :func:`snapshot_count` says.  By default about
    :data:`DEFAULT_SNAPSHOTS` times taken on the run's own steps
    :math:`t_0 + k\,dt'` (each the step nearest to an equal spacing), so that
    no snapshot costs an extra partial step (nor, for an implicit scheme, a
    factorization of its own); bounded by :data:`SNAPSHOT_BUDGET` like
    :func:`snapshot_count`.
    """
    from symop.integrate import step_count

    count = snapshot_count(save, snapshot_bytes)
    if save is not None or count is None:
        return count
    n = step_count(t0, t1, dt)
    h = (t1 - t0) / n
    steps = np.unique(np.rint(np.linspace(0, n, count)).astype(np.int64))
    return [t1 if k == n else t0 + int(k) * h for k in steps]


def as_points(args: tuple[Any, ...], dimension: int) -> tuple[np.ndarray, tuple[int, ...], bool]:
    """The ``(N, d)`` float64 points of ``s(*args)`` (arrays, lists or numbers; the caller converts
    tensors), the leading shape of the result, and whether the points were plain numbers (then one
    float is returned)."""
    if not args:
        raise SymopError("give the points to evaluate at: an (N, d) array or one coordinate array per axis.")
    arrays = [np.asarray(a, dtype=np.float64) for a in args]
    scalar = all(a.ndim == 0 for a in arrays)
    if len(arrays) == 1 and (dimension > 1 or arrays[0].ndim >= 2):
        pts = arrays[0]
        if pts.ndim == 0 or pts.shape[-1] != dimension:
            raise SymopError(f"the points have {pts.shape[-1] if pts.ndim else 1} coordinates each, but the "
                             f"problem's space has {dimension}; give an (N, {dimension}) array or "
                             f"{dimension} coordinate arrays.")
        shape = pts.shape[:-1]
        return pts.reshape(-1, dimension), shape, False
    if len(arrays) != dimension:
        raise SymopError(f"{len(arrays)} coordinate arrays were given, but the problem's space has {dimension} "
                         "axes; give one per axis or an (N, d) array.")
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        raise SymopError("the coordinate arrays have shapes that do not broadcast together: "
                         + ", ".join(str(a.shape) for a in arrays) + ".") from None
    shape = arrays[0].shape
    return np.stack([a.ravel() for a in arrays], axis=-1), shape, scalar


def inside(domain: Any, points: np.ndarray) -> np.ndarray:
    """Which points lie in the closed domain; a point on its boundary (within rounding) is inside."""
    mask = np.asarray(domain.contains(points), dtype=bool)
    if not mask.all():
        rest = ~mask
        sides = domain.side_of(points[rest], tol=1e-9)
        mask[rest] = np.asarray([s is not None for s in sides], dtype=bool)
    return mask


def _check_outside(solution: "Solution", pts: np.ndarray, outside: str) -> np.ndarray:
    if outside not in ("error", "nan"):
        raise SymopError(f"outside must be \"error\" or \"nan\", not {outside!r}.")
    mask = inside(solution.problem.domain, pts)
    if not mask.all() and outside == "error":
        k = int(np.flatnonzero(~mask)[0])
        where = ", ".join(f"{v:.6g}" for v in pts[k])
        raise SymopError(f"{int((~mask).sum())} of {len(pts)} points lie outside the domain "
                         f"({solution.problem.domain.describe()}), the first at ({where}); "
                         "pass outside=\"nan\" to get NaN there instead.")
    return mask


def check_network_time(problem, t: float) -> None:
    """Refuse a time ``t`` outside ``problem``'s interval: a network trained there has no meaning beyond it
    (a grid or mesh solution refuses times outside its saved ones the same way)."""
    t0, t1 = float(problem.time.start), float(problem.time.end)
    if not min(t0, t1) - 1e-12 <= t <= max(t0, t1) + 1e-12:
        raise SymopError(f"t = {t:.6g} lies outside the time interval [{t0:.6g}, {t1:.6g}].")


def network_values(solution: "Solution", pts: np.ndarray, t: float | None) -> np.ndarray:
    """The network's output ``(N, fields)`` at ``pts`` (and time ``t``), in batches of :data:`BATCH`."""
    import torch

    net = solution.network
    params = list(net.parameters()) if hasattr(net, "parameters") else []
    device = params[0].device if params else torch.device(solution.device)
    dtype = params[0].dtype if params else torch.float64
    X = pts if t is None else np.concatenate([pts, np.full((len(pts), 1), float(t))], axis=1)
    out = []
    with torch.no_grad():
        for k in range(0, len(X), BATCH):
            batch = torch.as_tensor(X[k:k + BATCH], dtype=dtype, device=device)
            y = net(batch)
            out.append(y.detach().reshape(len(batch), -1).to("cpu", torch.float64).numpy())
    return np.concatenate(out, axis=0) if out else np.zeros((0, len(solution.problem.field_names)))


def state_at(solution: "Solution", t: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """Nodal fields and degrees of freedom at time ``t``, interpolated between saved snapshots."""
    from symop.interpolate import combine, lagrange_weights

    if solution.time is not None and abs(t - solution.time) <= 1e-12 * max(1.0, abs(t)):
        return dict(solution.fields), (dict(solution.dofs) if solution.dofs is not None else None)
    times = solution.times
    if solution.history is None or times is None or len(times) < 2:
        raise SymopError(
            f"the run kept only its state at t = {solution.time:.6g}, so it cannot be evaluated at t = {t:.6g}; "
            "solve again with more snapshots (the option save, e.g. save=21)."
        )
    lo, hi = float(times.min()), float(times.max())
    tol = 1e-12 * max(1.0, abs(lo), abs(hi))
    if not lo - tol <= t <= hi + tol:
        raise SymopError(f"t = {t:.6g} lies outside the saved times [{lo:.6g}, {hi:.6g}].")
    order = np.argsort(times)
    idx, w = lagrange_weights(times[order], np.array([t]), TIME_DEGREE)
    idx = order[idx[0]]
    fields = {n: combine(h, idx, w[0]) for n, h in solution.history.items()}
    dofs = None
    if solution.dof_history is not None:
        dofs = {n: combine(h, idx, w[0]) for n, h in solution.dof_history.items()}
    return fields, dofs


def evaluate(solution: "Solution", args: tuple[Any, ...], t: float | None, field: str | None,
             outside: str) -> Any:
    """What :meth:`Solution.__call__` returns (see the module's docstring)."""
    problem = solution.problem
    pts, shape, scalar = as_points(args, problem.dimension)
    names = list(solution.fields)
    if field is not None and field not in names:
        raise SymopError(f"the solution has no field `{field}`; its fields are {', '.join(names) or 'none'}.")
    mask = _check_outside(solution, pts, outside)
    wanted = [field] if field is not None else names
    when = None if t is None else float(t)
    out: dict[str, np.ndarray] = {}
    if solution.network is not None:
        if problem.time is not None and when is None:
            when = solution.time if solution.time is not None else float(problem.time.end)
        if problem.time is None and when is not None:
            raise SymopError(f"the problem `{problem.name}` is steady; evaluate it without t.")
        if when is not None:
            check_network_time(problem, when)
        values = np.full((len(pts), len(problem.field_names)), np.nan)
        if mask.any():
            values[mask] = network_values(solution, pts[mask], when)
        columns = {n: k for k, n in enumerate(problem.field_names)}
        out = {n: values[:, columns[n]] for n in wanted}
    else:
        interpolant = solution.interpolant
        if interpolant is None:
            raise SymopError(f"the {solution.method} solution holds values at scattered points only and no "
                             "network, so it cannot be evaluated elsewhere.")
        if when is not None and problem.time is None:
            raise SymopError(f"the problem `{problem.name}` is steady; evaluate it without t.")
        fields, dofs = (dict(solution.fields), solution.dofs) if when is None else state_at(solution, when)
        for n in wanted:
            source = dofs[n] if dofs is not None and n in dofs else fields[n]
            values = np.full(len(pts), np.nan)
            if mask.any():
                values[mask] = interpolant(source, pts[mask])
            out[n] = values
    # one point, as numbers or as one list of d coordinates: a float, as the docstring promises
    shaped = {n: (float(v[0]) if scalar or shape == () else v.reshape(shape)) for n, v in out.items()}
    if field is not None or len(shaped) == 1:
        return next(iter(shaped.values()))
    return shaped
