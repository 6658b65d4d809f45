"""The result of a run: field values on a geometry, their errors, files and plots.

A :class:`Solution` is what every discretization returns.  It holds the final
nodal values of each field on a :class:`Grid` (finite differences), a
:class:`~symop.model.mesh.Mesh` (finite elements) or a :class:`PointCloud`
(network evaluations), optionally their history in time, and knows how to

* compare them with the problem's exact solution (:meth:`Solution.errors`),
* summarise the run as JSON-safe data (:meth:`Solution.summary`),
* write NumPy, VTK and JSON files (:meth:`Solution.save`),
* draw PNG figures and GIF animations (:meth:`Solution.plot`,
  :meth:`Solution.animate`),
* and render its errors as a ``rich`` table for the command line.

Errors are measured at the nodes with the root-mean-square norm

.. math::

    \\|v\\| = \\Big(\\frac1N \\sum_{i=1}^N v_i^2\\Big)^{1/2},

so that ``rel_l2`` is :math:`\\|u - u_e\\| / \\|u_e\\|` (or the absolute
:math:`\\|u - u_e\\|` when :math:`\\|u_e\\| = 0`) and ``max`` is
:math:`\\max_i |u_i - u_{e,i}|`.  A plugin that measures better norms (for
instance finite-element :math:`L^2` norms by quadrature) passes them in
:attr:`Solution.norms`; they override the nodal ones.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import sympy as sp

from symop.errors import SymopError

if TYPE_CHECKING:  # pragma: no cover
    import rich.table

    from symop.model.mesh import Mesh
    from symop.model.problem import Problem
    from symop.output.files import OutputFiles


# ---------------------------------------------------------------- geometries
@dataclass(frozen=True)
class Grid:
    """A tensor-product grid: one 1-D array of coordinates per axis.

    Field values on a grid have shape :attr:`shape` (C order, axis ``k`` is the
    ``k``-th coordinate).
    """

    axes: tuple[np.ndarray, ...]
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        axes = tuple(np.asarray(_to_numpy(a), dtype=np.float64).ravel() for a in self.axes)
        object.__setattr__(self, "axes", axes)
        names = tuple(self.names) or tuple(["x", "y", "z"][k] if k < 3 else f"x{k + 1}" for k in range(len(axes)))
        if len(names) != len(axes):
            raise SymopError(f"a grid with {len(axes)} axes needs {len(axes)} coordinate names, not {len(names)}.")
        object.__setattr__(self, "names", names)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of nodes along each axis."""
        return tuple(len(a) for a in self.axes)

    @property
    def dimension(self) -> int:
        return len(self.axes)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def points(self) -> np.ndarray:
        """All nodes as an ``(N, d)`` array, in C order (last axis fastest)."""
        mesh = np.meshgrid(*self.axes, indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=-1)


@dataclass(frozen=True)
class PointCloud:
    """Scattered nodes (e.g. where a network was evaluated): ``points`` is ``(N, d)``."""

    points: np.ndarray
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        pts = np.asarray(_to_numpy(self.points), dtype=np.float64)
        if pts.ndim == 1:
            pts = pts[:, None]
        object.__setattr__(self, "points", pts)
        d = pts.shape[1]
        names = tuple(self.names) or tuple(["x", "y", "z"][k] if k < 3 else f"x{k + 1}" for k in range(d))
        object.__setattr__(self, "names", names)

    @property
    def dimension(self) -> int:
        return int(self.points.shape[1])

    @property
    def size(self) -> int:
        return int(self.points.shape[0])


def _to_numpy(value: Any) -> Any:
    """Torch tensors (on any device) as NumPy arrays; everything else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def _nodes(geometry: Any) -> np.ndarray:
    """The ``(N, d)`` node coordinates of any geometry."""
    if isinstance(geometry, Grid):
        return geometry.points()
    pts = np.asarray(_to_numpy(geometry.points), dtype=np.float64)
    return pts.reshape(len(pts), -1)


def _shape(geometry: Any) -> tuple[int, ...]:
    """The shape of a nodal field on ``geometry``."""
    if isinstance(geometry, Grid):
        return geometry.shape
    return (len(geometry.points),)


# ---------------------------------------------------------------- evaluation
def _evaluate(expr: sp.Expr, arguments: Sequence[sp.Basic], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Evaluate ``expr`` at ``N`` nodes; the result is ``(N,)`` float64.

    ``arguments`` are symbols (each given a ``(N,)`` array) or an
    ``IndexedBase`` (given the ``(N, d)`` coordinates, ``x[k]`` being column
    ``k - 1``).  Uses :func:`symop.codegen.generate`; while that package cannot
    be imported, ``sympy.lambdify`` with NumPy does the same job.
    """
    try:
        from symop.codegen import generate
    except ImportError:
        return _evaluate_numpy(expr, arguments, arrays)
    import torch

    fn = generate(sp.sympify(expr), list(arguments), name="exact")
    if len(fn.arguments) != len(arguments):
        extra = ", ".join(fn.arguments[len(arguments):])
        raise SymopError(f"it depends on {extra}, which has no value at the nodes.")
    tensors = [torch.as_tensor(np.ascontiguousarray(a, dtype=np.float64)) for a in arrays]
    with torch.no_grad():
        out = fn(*tensors)
    return np.asarray(out.detach().cpu().numpy(), dtype=np.float64)


def _evaluate_numpy(expr: sp.Expr, arguments: Sequence[sp.Basic], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`_evaluate` through ``sympy.lambdify`` (NumPy), without code generation."""
    expr = sp.sympify(expr)
    bases = {a for a in arguments if isinstance(a, sp.IndexedBase)}
    allowed = {a for a in arguments if isinstance(a, sp.Symbol)} | {b.label for b in bases}
    extra = {
        s for s in expr.free_symbols
        if s not in allowed and not (isinstance(s, sp.Indexed) and s.base in bases)
    }
    leftover = expr.atoms(sp.core.function.AppliedUndef, sp.Derivative)
    if extra or leftover:
        names = ", ".join(sorted(map(str, extra | leftover)))
        raise SymopError(f"it depends on {names}, which has no value at the nodes.")
    values: list[np.ndarray] = []
    n = len(arrays[0]) if arrays else 1
    for a, arr in zip(arguments, arrays):
        arr = np.asarray(arr, dtype=np.float64)
        if isinstance(a, sp.IndexedBase):
            # row k holds coordinate k (1-based): x[k] indexes the first axis
            arr = np.concatenate([np.zeros((1, n)), arr.reshape(n, -1).T], axis=0)
        values.append(arr)
    fn = sp.lambdify(list(arguments), expr, "numpy")
    return np.broadcast_to(np.asarray(fn(*values), dtype=np.float64), (n,)).copy()


def _rms(v: np.ndarray) -> float:
    r"""Root-mean-square :math:`(\frac1N\sum_i v_i^2)^{1/2}` of ``v``."""
    v = np.asarray(v, dtype=np.float64).ravel()
    return float(np.sqrt(np.mean(v * v))) if v.size else 0.0


def _json_safe(value: Any) -> Any:
    """``value`` made of JSON types only (non-finite floats become ``None``)."""
    value = _to_numpy(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.size <= 64:
            return _json_safe(value.tolist())
        return {"shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return str(value)


# ---------------------------------------------------------------- solution
@dataclass
class Solution:
    """Field values computed for a problem, with everything needed to judge them.

    :param fields: field name → final nodal values (grid shape for a
        :class:`Grid`, ``(N,)`` otherwise).  Torch tensors are converted.
    :param time: the time of :attr:`fields` (``None`` for a steady problem).
    :param times: the saved times, when a :attr:`history` was kept.
    :param history: field name → values at every saved time,
        shape ``(len(times), *field_shape)``.
    :param norms: errors measured by the method itself, field → norm → value;
        they override the nodal errors of :meth:`errors`.
    :param diagnostics: scalars recorded during the run by trackers
        (:class:`symop.trackers.Record`): name → one value per recorded step,
        with ``step`` and ``time`` among the names.
    :param interpolant: how values between the nodes are computed
        (:mod:`symop.interpolate`): a :class:`~symop.interpolate.GridInterpolant`
        (default on a :class:`Grid`: cubic), a
        :class:`~symop.interpolate.SimplexInterpolant` (default on a mesh: P1),
        or ``None`` (scattered points).
    :param dofs: field → values at every degree of freedom of the
        interpolant when there are more than nodes (P2 finite elements keep
        their edge values here); ``None`` when :attr:`fields` are all of them.
    :param dof_history: the same at every saved time, ``(len(times), Ndof)``.
    :param network: the trained ``torch.nn.Module`` of a neural method (pinn,
        hypino): it maps ``(N, d)`` coordinates, with the time as one more
        column for a time-dependent problem, to ``(N, fields)`` values in the
        order of ``problem.field_names``; evaluation uses it.

    Call a solution to evaluate it anywhere (:mod:`symop.evaluation`):
    ``s(points)`` or ``s(x, y)`` for the values at the final time,
    ``s(points, t=0.5)`` between saved snapshots, ``s(points, field="u")``
    for one field of several, ``outside="nan"`` for NaN off the domain;
    :meth:`at` gives the solution at another time.
    """

    problem: "Problem"
    method: str
    options: dict
    geometry: "Grid | Mesh | PointCloud"
    fields: dict[str, np.ndarray]
    time: float | None = None
    times: np.ndarray | None = None
    history: dict[str, np.ndarray] | None = None
    device: str = "cpu"
    wall_time: float = 0.0
    info: dict = field(default_factory=dict)
    norms: dict[str, dict[str, float]] | None = None
    diagnostics: dict[str, np.ndarray] | None = field(default=None, repr=False)
    interpolant: Any = field(default=None, repr=False)
    dofs: dict[str, np.ndarray] | None = field(default=None, repr=False)
    dof_history: dict[str, np.ndarray] | None = field(default=None, repr=False)
    network: Any = field(default=None, repr=False)
    #: a network's solution drawn on a grid: the points where the run measured its errors, and its values there
    samples: tuple[np.ndarray, dict[str, np.ndarray]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._init_evaluation()
        shape = _shape(self.geometry)
        fields: dict[str, np.ndarray] = {}
        for name, values in self.fields.items():
            arr = np.asarray(_to_numpy(values), dtype=np.float64)
            if arr.shape != shape:
                if arr.size != int(np.prod(shape)):
                    raise SymopError(
                        f"field `{name}` has {arr.size} values but the geometry has {int(np.prod(shape))} nodes."
                    )
                arr = arr.reshape(shape)
            fields[name] = arr
        self.fields = fields
        if self.time is not None:
            self.time = float(_to_numpy(self.time))
        if self.times is not None:
            self.times = np.asarray(_to_numpy(self.times), dtype=np.float64).ravel()
        if self.history is not None:
            history: dict[str, np.ndarray] = {}
            count = None if self.times is None else len(self.times)
            for name, values in self.history.items():
                arr = np.asarray(_to_numpy(values), dtype=np.float64)
                steps = count if count is not None else arr.shape[0]
                if arr.size != steps * int(np.prod(shape)):
                    raise SymopError(
                        f"the history of field `{name}` has {arr.size} values, "
                        f"not {steps} times {int(np.prod(shape))} nodes."
                    )
                history[name] = arr.reshape((steps, *shape))
            self.history = history
        if self.norms is not None:
            self.norms = {f: {k: float(_to_numpy(v)) for k, v in d.items()} for f, d in self.norms.items()}
        self.wall_time = float(self.wall_time)
        self.options = dict(self.options or {})

    # ------------------------------------------------------------ evaluation
    def _init_evaluation(self) -> None:
        """The default interpolant of the geometry; degrees of freedom as float64 arrays."""
        from symop.interpolate import GridInterpolant, SimplexInterpolant

        if self.interpolant is None and self.network is None:
            if isinstance(self.geometry, Grid):
                self.interpolant = GridInterpolant(self.geometry.axes)
            elif not isinstance(self.geometry, PointCloud) and hasattr(self.geometry, "cells"):
                self.interpolant = SimplexInterpolant(self.geometry.points, self.geometry.cells)
        if self.dofs is not None:
            self.dofs = {n: np.asarray(_to_numpy(v), dtype=np.float64) for n, v in self.dofs.items()}
        if self.dof_history is not None:
            self.dof_history = {n: np.asarray(_to_numpy(v), dtype=np.float64) for n, v in self.dof_history.items()}

    @property
    def model(self) -> Any:
        """The trained network (:attr:`network`), under its former name."""
        return self.network

    @model.setter
    def model(self, value: Any) -> None:
        self.network = value

    def __call__(self, *points: Any, t: float | None = None, field: str | None = None,
                 outside: str = "error") -> Any:
        """The fields at ``points``: an ``(N, d)`` array or tensor, or one coordinate array per axis.

        ``t`` defaults to :attr:`time`; another time is reached between saved
        snapshots (or by the network).  Returns one float64 array shaped like
        the points for a one-field problem or with ``field``, else a dict
        field → array; a float for a point given as numbers.  Points outside
        the domain raise :class:`SymopError`, or get NaN with
        ``outside="nan"``.  See :mod:`symop.evaluation`.
        """
        from symop.evaluation import evaluate

        return evaluate(self, tuple(_to_numpy(p) for p in points), t, field, outside)

    def at(self, t: float) -> "Solution":
        """The solution at time ``t``: interpolated between the saved snapshots (cubic in time,
        :data:`symop.evaluation.TIME_DEGREE`) for grid and mesh methods, the network at ``t`` for
        neural ones.  The result holds that one state and evaluates like this one; its :meth:`errors` are
        nodal, except at this solution's own time, where the method's measured :attr:`norms` (fem's
        quadrature L2) are kept, so that ``s.at(s.time).errors() == s.errors()``."""
        import dataclasses

        from symop.evaluation import check_network_time, network_values, state_at

        if self.problem.time is None:
            raise SymopError(f"the problem `{self.problem.name}` is steady; it has no other time than its own.")
        t = float(t)
        dofs = None
        if self.network is not None:
            check_network_time(self.problem, t)
            values = network_values(self, _nodes(self.geometry), t)
            fields = {n: values[:, k] for k, n in enumerate(self.problem.field_names) if n in self.fields}
        else:
            fields, dofs = state_at(self, t)
        own = self.time is not None and abs(t - float(self.time)) <= 1e-12 * max(1.0, abs(float(self.time)))
        return dataclasses.replace(self, fields=fields, time=t, times=None, history=None, dofs=dofs,
                                   dof_history=None, norms=self.norms if own else None)

    # ------------------------------------------------------------ exact values
    def _time_at(self, time: float | None) -> float | None:
        if time is not None:
            return float(time)
        if self.time is not None:
            return self.time
        if self.problem.time is not None:
            return float(self.problem.time.end)
        return None

    def exact_values(self, name: str, time: float | None = None) -> np.ndarray | None:
        """The exact solution of field ``name`` at the nodes, or ``None`` if unknown.

        Evaluates ``problem.numeric(problem.exact[name])`` at every node, at
        ``time`` (default :attr:`time`, else the end of the time interval).
        The result has the shape of :attr:`fields` ``[name]``.
        """
        exact = getattr(self.problem, "exact", None) or {}
        if name not in exact:
            return None
        expr = self.problem.numeric(exact[name])
        space = self.problem.space
        d = space.dimension
        pts = _nodes(self.geometry)
        if pts.shape[1] != d:
            raise SymopError(
                f"the solution's nodes have {pts.shape[1]} coordinates but the problem's space has {d}."
            )
        arguments: list[sp.Basic] = list(space.arguments)
        arrays: list[np.ndarray] = [pts] if space.is_indexed else [pts[:, k] for k in range(d)]
        t = self.problem.t
        if t is not None:
            when = self._time_at(time)
            arguments.append(t)
            arrays.append(np.full(len(pts), 0.0 if when is None else when))
        try:
            values = _evaluate(expr, arguments, arrays)
        except SymopError as error:
            raise SymopError(f"the exact solution of `{name}` cannot be evaluated at the nodes: {error}") from error
        return np.broadcast_to(values, (len(pts),)).reshape(_shape(self.geometry)).copy()

    # ------------------------------------------------------------ errors
    def errors(self) -> dict[str, dict[str, float]]:
        r"""Errors of each field that has an exact solution.

        For nodal values :math:`u_i` and exact values :math:`u_{e,i}`,
        :math:`i = 1..N`, with :math:`\|v\| = (\frac1N\sum_i v_i^2)^{1/2}`:

        * ``rel_l2`` :math:`= \|u - u_e\| / \|u_e\|`, or :math:`\|u - u_e\|`
          when :math:`\|u_e\| = 0`;
        * ``max`` :math:`= \max_i |u_i - u_{e,i}|`.

        Entries of :attr:`norms` (measured by the method) are merged in and
        override these, field by field and norm by norm.
        """
        out: dict[str, dict[str, float]] = {}
        for name, values in self.fields.items():
            exact = self.exact_values(name)
            if exact is None:
                continue
            diff = values - exact
            scale = _rms(exact)
            err = _rms(diff)
            out[name] = {
                "rel_l2": err / scale if scale > 0 else err,
                "max": float(np.max(np.abs(diff))) if diff.size else 0.0,
            }
        for name, norms in (self.norms or {}).items():
            out.setdefault(name, {}).update({k: float(v) for k, v in norms.items()})
        return out

    # ------------------------------------------------------------ summary
    def summary(self) -> dict:
        """The run as JSON-safe data: problem, method, options, device, timing, info, errors."""
        source = getattr(self.problem, "source", None)
        geometry: dict[str, Any]
        if isinstance(self.geometry, Grid):
            geometry = {"kind": "grid", "shape": list(self.geometry.shape), "names": list(self.geometry.names)}
        elif isinstance(self.geometry, PointCloud):
            geometry = {"kind": "points", "points": self.geometry.size, "names": list(self.geometry.names)}
        else:
            names = tuple(getattr(self.geometry, "names", ()) or ()) or tuple(self.problem.space.names)
            geometry = {
                "kind": "mesh",
                "points": int(len(self.geometry.points)),
                "cells": int(len(self.geometry.cells)),
                "names": list(names),
            }
        samples = self.samples
        if samples is not None:  # a network's solution written on a grid: where its errors were measured
            geometry["samples"] = int(len(samples[0]))
        return _json_safe(
            {
                "problem": self.problem.name,
                "title": getattr(self.problem, "title", ""),
                "file": getattr(source, "filename", None),
                "method": self.method,
                "options": self.options,
                "device": self.device,
                "wall_time": self.wall_time,
                "time": self.time,
                "geometry": geometry,
                "fields": list(self.fields),
                "info": self.info,
                "errors": self.errors(),
                "provenance": self._provenance(),
            }
        )

    def _provenance(self) -> dict[str, Any]:
        """:func:`symop.provenance.provenance` of this run, taken once so that every file written states the same."""
        if "_provenance_taken" not in self.__dict__:
            from symop.provenance import provenance

            self.__dict__["_provenance_taken"] = provenance(self.device, self.options)
        return self.__dict__["_provenance_taken"]

    # ------------------------------------------------------------ files
    def _point_data(self, values: Mapping[str, np.ndarray], time: float | None) -> dict[str, np.ndarray]:
        data: dict[str, np.ndarray] = {}
        for name, arr in values.items():
            data[name] = arr
            exact = self.exact_values(name, time)
            if exact is not None:
                data[f"{name}_exact"] = exact
                data[f"{name}_error"] = arr - exact
        return data

    def _write_vtk(self, path: Path, values: Mapping[str, np.ndarray], time: float | None) -> Path:
        from symop.output.vtk import write_grid_vtu, write_vtu

        data = self._point_data(values, time)
        if isinstance(self.geometry, Grid):
            return write_grid_vtu(path, self.geometry.axes, data, time)
        cells = None if isinstance(self.geometry, PointCloud) else np.asarray(self.geometry.cells)
        return write_vtu(path, _nodes(self.geometry), cells, {k: v.ravel() for k, v in data.items()}, time)

    def save(self, directory: str | Path) -> list[Path]:
        """Write the solution into ``directory`` (created if needed); return the files.

        * ``fields.npz``: each field under its name, the coordinates
          (``axis_<k>`` for a grid, ``points`` and ``cells`` otherwise), and
          ``time``/``times``/``history_<field>`` and ``exact_<field>`` when present;
        * VTK: ``<name>.vtu``, binary, for every geometry (a grid as its
          lines, quadrilaterals or hexahedra), with the fields, their exact
          values and errors and the time as ``TimeValue``; ParaView and
          ``meshio.read`` open it.  With a history, one file per saved time
          ``<name>_<k>.vtu`` and a ``<name>.pvd`` collection of their times.
          Geometries with more than three coordinates get no VTK file;
        * ``<name>.h5``: one HDF5 file with the fields, coordinates, times,
          history, diagnostics, the problem text and the options
          (:mod:`symop.output.hdf5`);
        * ``summary.json``: :meth:`summary`.

        ``<name>`` is the problem's name made a safe file name of bounded
        length (:func:`symop.output.files.file_stem`).  A file that cannot be
        written does not stop the others: an
        :class:`~symop.output.files.OutputError` at the end names the failures
        and lists the files that were written.

        A network's solution (pinn, insr, hypino) in one to three dimensions is
        written on the grid :meth:`plot` draws (:attr:`PICTURE_NODES` nodes per
        axis over the domain's bounding box, NaN outside the domain), not at its
        scattered sample points, and a time-dependent one with
        :data:`symop.evaluation.DEFAULT_SNAPSHOTS` snapshots equally spaced in
        time; the errors written are those the run measured at its sample
        points, which ``fields.npz`` keeps as ``sample_points`` and
        ``sample_<field>`` (the ``.h5`` under ``/samples``).
        """
        from symop.output.files import OutputFiles, prepare_directory

        out = prepare_directory(directory, "save")
        gridded = self._picture(snapshots=True)
        if gridded is not self:
            return gridded.save(out)
        files = OutputFiles()
        files.attempt("fields.npz", lambda: self._write_npz(out / "fields.npz"))
        dim = self.geometry.dimension if hasattr(self.geometry, "dimension") else _nodes(self.geometry).shape[1]
        if dim <= 3:
            self._write_vtk_files(out, files)
        from symop.output.files import file_stem
        from symop.output.hdf5 import write_hdf5

        h5 = f"{file_stem(self.problem.name)}.h5"
        files.attempt(h5, lambda: write_hdf5(out / h5, self))
        files.attempt("summary.json", lambda: self._write_summary(out / "summary.json"))
        return files.finish()

    def _write_npz(self, path: Path) -> Path:
        arrays: dict[str, np.ndarray] = dict(self.fields)
        if isinstance(self.geometry, Grid):
            for k, axis in enumerate(self.geometry.axes):
                arrays[f"axis_{k}"] = axis
        else:
            arrays["points"] = _nodes(self.geometry)
            if not isinstance(self.geometry, PointCloud):
                arrays["cells"] = np.asarray(self.geometry.cells)
        if self.time is not None:
            arrays["time"] = np.asarray(self.time)
        if self.times is not None:
            arrays["times"] = self.times
        for name, hist in (self.history or {}).items():
            arrays[f"history_{name}"] = hist
        for name in self.fields:  # as the .h5 holds them under /exact
            exact = self.exact_values(name)
            if exact is not None:
                arrays[f"exact_{name}"] = np.asarray(exact)
        samples = self.samples
        if samples is not None:  # a network's values where the run measured its errors
            arrays["sample_points"] = samples[0]
            for name, values in samples[1].items():
                arrays[f"sample_{name}"] = values
        np.savez(path, **arrays)
        return path

    def _write_vtk_files(self, out: Path, files: "OutputFiles") -> None:
        """The ``.vtu`` file(s) and ``.pvd`` collection; those of an earlier save of this problem into ``out``
        that were not rewritten are removed (:func:`~symop.output.files.remove_stale_vtk`)."""
        from symop.output.files import file_stem, remove_stale_vtk

        ext = ".vtu"
        stem = file_stem(self.problem.name)
        before = len(files.written)
        try:
            self._write_vtk_series(out, files, stem, ext)
        finally:
            remove_stale_vtk(out, stem, files.written[before:])

    def _write_vtk_series(self, out: Path, files: "OutputFiles", stem: str, ext: str) -> None:
        if self.history and self.times is not None and len(self.times):
            entries = []
            width = max(4, len(str(len(self.times) - 1)))
            for k, t in enumerate(self.times):
                values = {name: hist[k] for name, hist in self.history.items()}
                name = f"{stem}_{k:0{width}d}{ext}"
                path = files.attempt(name, lambda: self._write_vtk(out / name, values, float(t)))
                if path is not None:
                    entries.append((float(t), path))
            from symop.output.vtk import write_pvd

            files.attempt(f"{stem}.pvd", lambda: write_pvd(out / f"{stem}.pvd", entries))
        else:
            files.attempt(f"{stem}{ext}", lambda: self._write_vtk(out / f"{stem}{ext}", self.fields, self.time))

    def _write_summary(self, path: Path) -> Path:
        path.write_text(json.dumps(self.summary(), indent=2) + "\n", encoding="utf-8")
        return path

    def to_xarray(self) -> Any:
        """The fields of a grid solution as an ``xarray.Dataset`` (coordinates and time as dimensions).

        See :func:`symop.output.dataset.to_xarray`; needs the optional
        package xarray.  A network's solution is given on the grid and at the
        times :meth:`save` writes.
        """
        from symop.output.dataset import to_xarray

        return to_xarray(self._picture(snapshots=True))

    # ------------------------------------------------------------ figures
    def _select(self, field: str | Sequence[str] | None) -> list[str]:
        if field is None:
            names = list(self.fields)
        elif isinstance(field, str):
            names = [field]
        else:
            names = list(field)
        unknown = [n for n in names if n not in self.fields]
        if unknown:
            raise SymopError(
                f"the solution has no field `{unknown[0]}`; its fields are {', '.join(self.fields) or 'none'}."
            )
        if not names:
            raise SymopError("the solution has no field to draw.")
        return names

    def _title(self, names: Sequence[str], time: float | None) -> str:
        title = f"{self.problem.name}: {', '.join(names)}"
        if time is not None:
            title += f" at t = {time:.4g}"
        return title + f"  ({self.method})"

    def plot(self, path: str | Path | None = None, field: str | Sequence[str] | None = None, *,
             ax: Any = None, errors: bool = True) -> Any:
        """Draw the final fields; return the matplotlib ``Figure``, or with ``path`` write it there.

        ``field`` picks one field or a list of them (default: all, side by
        side).  A field with an exact solution gets an error panel
        ``u - u_exact`` beside it (``errors=False`` leaves it out).  ``ax``
        (one matplotlib Axes, or a list with one per panel) draws into an
        existing figure, which is returned.  With ``path`` the figure is
        written there (PNG, or what its suffix names) and the path is
        returned.  A network's solution is drawn through evaluation on a grid
        over the domain (points outside it are blank), not as the scatter of
        its sample points.  See :mod:`symop.output.plotting`.
        """
        from symop.output import plotting

        names = self._select(field)
        picture = self._picture()
        values = {n: picture.fields[n] for n in names}
        exact = {n: picture.exact_values(n) for n in names}
        if ax is not None:
            axes = list(np.ravel(np.asarray(ax, dtype=object)))
            fig = axes[0].figure
            plotting.draw(fig, picture.geometry, values, exact, self._title(names, self.time), errors=errors,
                          axes=axes)
        else:
            fig = plotting.new_figure(picture.geometry, len(plotting.panels(picture.geometry, values, exact, errors)))
            plotting.draw(fig, picture.geometry, values, exact, self._title(names, self.time), errors=errors)
        if path is None:
            return fig
        path = Path(path)
        formats = fig.canvas.get_supported_filetypes()
        if path.suffix and path.suffix.lower().lstrip(".") not in formats:
            raise SymopError(f"plot() cannot write `{path.name}`: its extension is not a picture format matplotlib "
                             f"writes; use one of {', '.join('.' + k for k in sorted(formats))}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        return path

    #: nodes per axis of the grid a network's solution is drawn on (1-D, 2-D, 3-D)
    PICTURE_NODES = {1: 201, 2: 101, 3: 33}

    def _picture(self, snapshots: bool = False) -> "Solution":
        """This solution, or for a network its values on a grid over the domain's bounding box (NaN outside
        the domain), which :meth:`plot`, :meth:`save` and :meth:`animate` use instead of the scattered
        sample points.

        The grid has :attr:`PICTURE_NODES` nodes per axis.  With ``snapshots`` a time-dependent network is
        also evaluated at :data:`symop.evaluation.DEFAULT_SNAPSHOTS` equally spaced times of its interval
        (the history); the errors stay those measured at the method's own points (kept as
        :attr:`norms`), so that a file reports what the run reported.
        """
        import dataclasses

        from symop.evaluation import DEFAULT_SNAPSHOTS, inside, network_values

        d = self.geometry.dimension if isinstance(self.geometry, PointCloud) else 0
        if self.network is None or d not in self.PICTURE_NODES:
            return self
        lo, hi = self.problem.domain.bounding_box()
        n = self.PICTURE_NODES[d]
        grid = Grid(tuple(np.linspace(a, b, n) for a, b in zip(lo, hi)), self.geometry.names)
        points = grid.points()
        mask = inside(self.problem.domain, points)
        columns = [self.problem.field_names.index(name) for name in self.fields]

        def state(t: float | None) -> dict[str, np.ndarray]:
            values = np.full((len(points), len(columns)), np.nan)
            if mask.any():
                values[mask] = network_values(self, points[mask], t)[:, columns]
            return {name: values[:, k].reshape(grid.shape) for k, name in enumerate(self.fields)}

        steady = self.problem.time is None
        when = None if steady else (self.time if self.time is not None else float(self.problem.time.end))
        fields = state(when)
        times = history = None
        if snapshots and not steady:
            times = np.linspace(float(self.problem.time.start), when, DEFAULT_SNAPSHOTS)
            states = [state(float(t)) for t in times[:-1]] + [fields]
            history = {name: np.stack([s[name] for s in states]) for name in self.fields}
        return dataclasses.replace(self, geometry=grid, fields=fields, time=when, times=times, history=history,
                                   norms=self.errors() if snapshots else None, interpolant=None, network=None,
                                   dofs=None, dof_history=None,
                                   # where the run measured its errors, and its values there, written beside the grid
                                   samples=(_nodes(self.geometry), dict(self.fields)))
        return view

    def animate(
        self, path: str | Path | None = None, field: str | Sequence[str] | None = None, fps: int = 10
    ) -> Path:
        """Draw every saved time into a GIF animation and return its path.

        Needs a :attr:`history` and a geometry of one or two coordinates; the
        value range is fixed over all frames.  A time-dependent network is
        drawn on the grid and at the times :meth:`save` writes.  ``path`` defaults to
        ``<problem name>.gif``.
        """
        from matplotlib.animation import PillowWriter

        from symop.output import plotting

        if self.network is not None and self.problem.time is not None:
            gridded = self._picture(snapshots=True)
            if gridded is not self:
                return gridded.animate(path, field, fps)
        if not self.history or self.times is None or len(self.times) == 0:
            raise SymopError(
                "the solution has no history to animate; run a time-dependent problem with saved steps."
            )
        dim = plotting.dimension(self.geometry)
        if dim >= 3:
            raise SymopError(f"animations are drawn for one or two space dimensions, not {dim}; use plot() instead.")
        names = self._select(field)
        missing = [n for n in names if n not in self.history]
        if missing:
            raise SymopError(f"the history does not contain field `{missing[0]}`.")
        from symop.output.files import file_stem

        path = Path(path) if path is not None else Path(f"{file_stem(self.problem.name)}.gif")
        path.parent.mkdir(parents=True, exist_ok=True)
        limits = {n: plotting.value_limits([self.history[n]]) for n in names}
        exacts = [{n: self.exact_values(n, float(t)) for n in names} for t in self.times]
        for panel in plotting.panels(self.geometry, {n: self.fields[n] for n in names}, exacts[0]):
            if panel.error:  # one symmetric error scale over all frames
                big = max(float(np.nanmax(np.abs(self.history[panel.field][k] - e[panel.field]), initial=0.0))
                          for k, e in enumerate(exacts))
                limits[panel.label] = (-big, big) if big > 0 else (-1.0, 1.0)
        fig = plotting.new_figure(self.geometry, len(plotting.panels(self.geometry, {n: self.fields[n] for n in names},
                                                                     exacts[0])))
        writer = PillowWriter(fps=fps)
        try:
            with writer.saving(fig, str(path), dpi=80):
                for k, t in enumerate(self.times):
                    values = {n: self.history[n][k] for n in names}
                    plotting.draw(fig, self.geometry, values, exacts[k], self._title(names, float(t)), limits)
                    writer.grab_frame()
        finally:
            plotting.close(fig)
        return path

    # ------------------------------------------------------------ terminal and notebooks
    def _geometry_text(self) -> str:
        if isinstance(self.geometry, Grid):
            return "a grid " + "×".join(str(n) for n in self.geometry.shape)
        if isinstance(self.geometry, PointCloud):
            return f"{self.geometry.size} points"
        return f"a mesh of {len(self.geometry.points)} nodes, {len(self.geometry.cells)} cells"

    def _error_text(self) -> str:
        try:
            errors = self.errors()
        except SymopError:
            return ""
        return ", ".join(f"{name} rel_l2 {norms['rel_l2']:.2e}" for name, norms in errors.items() if "rel_l2" in norms)

    def __repr__(self) -> str:
        """One line: problem, method, geometry, time, fields, snapshots and errors."""
        parts = [f"{self.problem.name} by {self.method} on {self._geometry_text()}"]
        if self.time is not None:
            parts.append(f"t = {self.time:.4g}")
        parts.append("fields " + ", ".join(self.fields))
        if self.times is not None and len(self.times):
            parts.append(f"{len(self.times)} snapshots")
        errors = self._error_text()
        if errors:
            parts.append(errors)
        return f"<Solution {'; '.join(parts)}>"

    def _repr_html_(self) -> str:
        """A notebook's view: method, device, time, the errors as a table, and a small plot."""
        import base64
        import html
        import io

        rows = [("problem", self.problem.name), ("method", self.method), ("geometry", self._geometry_text()),
                ("time", "steady" if self.time is None else f"{self.time:.6g}"),
                ("wall time", f"{self.wall_time:.3g} s on {self.device}")]
        if self.times is not None and len(self.times):
            rows.append(("snapshots", f"{len(self.times)} from t = {self.times[0]:.4g} to {self.times[-1]:.4g}"))
        if self.info.get("stopped"):
            rows.append(("stopped", str(self.info["stopped"].get("reason", ""))))
        table = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                        for k, v in rows)
        try:
            errors = self.errors()
        except SymopError as err:
            errors, note = {}, f"<p>{html.escape(str(err))}</p>"
        else:
            note = "" if errors else "<p>no exact solution to compare with</p>"
        norms = list(dict.fromkeys(k for values in errors.values() for k in values))
        if errors:
            head = "".join(f"<th>{html.escape(k)}</th>" for k in norms)
            body = "".join("<tr><th>" + html.escape(name) + "</th>"
                           + "".join(f"<td>{values[k]:.3e}</td>" if k in values else "<td>—</td>" for k in norms)
                           + "</tr>" for name, values in errors.items())
            note = f"<table><tr><th>field</th>{head}</tr>{body}</table>"
        picture = ""
        try:
            fig = self.plot()
            fig.set_size_inches(fig.get_size_inches() * 0.6)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=72)
            picture = f"<img src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"
        except Exception:  # noqa: BLE001 - a picture that cannot be drawn leaves the table
            picture = ""
        return f"<div><b>Solution</b><table>{table}</table>{note}{picture}</div>"

    def table(self) -> "rich.table.Table":
        """The errors as a ``rich`` table: one row per field, one column per norm."""
        from rich.table import Table

        errors = self.errors()
        norms: list[str] = []
        for values in errors.values():
            for key in values:
                if key not in norms:
                    norms.append(key)
        title = f"{self.problem.name} — {self.method}"
        if self.time is not None:
            title += f", t = {self.time:.4g}"
        table = Table(title=title)
        table.add_column("field", style="bold")
        for key in norms:
            table.add_column(key, justify="right")
        for name, values in errors.items():
            table.add_row(name, *(f"{values[k]:.3e}" if k in values else "—" for k in norms))
        if not errors:
            table.caption = "no exact solution to compare with"
        table.caption = (table.caption + "; " if table.caption else "") + f"wall time {self.wall_time:.3g} s on {self.device}"
        return table
