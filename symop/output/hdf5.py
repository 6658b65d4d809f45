"""One HDF5 file per run (h5py): fields, coordinates, times, the problem text and the options.

Layout of ``<name>.h5`` (every array float64 unless said otherwise)::

    /                       attributes: format ("symop-solution"), version, problem, method,
                            device, wall_time, time (absent when steady), options (JSON),
                            info (JSON), errors (JSON), problem_text, source_text, source_file
    /geometry               attribute kind ("grid", "mesh" or "points"), names (coordinates)
    /geometry/axis_<k>      grid: the coordinates of axis k
    /geometry/points        mesh, points: (N, d) node coordinates
    /geometry/cells         mesh: (M, k) int64 vertex indices
    /fields/<f>             the final values (grid shape, or (N,))
    /exact/<f>              the exact solution at the nodes, when the problem has one
    /times                  the saved times, with a history
    /history/<f>            (len(times), *field shape)
    /diagnostics/<name>     scalars recorded by trackers, one per recorded step
    /dofs/<f>               every degree of freedom when there are more than nodes (P2 elements)
    /dof_history/<f>        the degrees of freedom at every saved time
    /samples/points         a network's solution (written on a grid): the (N, d) points where the run
    /samples/<f>            measured its errors, and its final values there

:func:`read_hdf5` reads such a file back into plain arrays and dictionaries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from symop.errors import SymopError

if TYPE_CHECKING:  # pragma: no cover
    from symop.solution import Solution

FORMAT = "symop-solution"
VERSION = 1


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise SymopError("writing HDF5 files needs h5py: pip install h5py.") from None
    return h5py


def problem_text(solution: "Solution") -> str:
    """The solved problem as equation text (parameters as set for the run), else the file's text."""
    from symop.writer import write_problem

    try:
        return write_problem(solution.problem)
    except Exception:  # noqa: BLE001 - a problem the writer cannot render still has its source
        source = getattr(solution.problem, "source", None)
        return source.text if source is not None else ""


def write_hdf5(path: str | Path, solution: "Solution") -> Path:
    """Write ``solution`` to the HDF5 file ``path`` (layout in the module docstring)."""
    h5py = _h5py()
    path = Path(path)
    summary = solution.summary()
    source = getattr(solution.problem, "source", None)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        f.attrs["problem"] = solution.problem.name
        f.attrs["method"] = solution.method
        f.attrs["device"] = solution.device
        f.attrs["wall_time"] = float(solution.wall_time)
        if solution.time is not None:
            f.attrs["time"] = float(solution.time)
        f.attrs["options"] = json.dumps(summary.get("options", {}))
        f.attrs["info"] = json.dumps(summary.get("info", {}))
        f.attrs["errors"] = json.dumps(summary.get("errors", {}))
        f.attrs["problem_text"] = problem_text(solution)
        f.attrs["source_text"] = source.text if source is not None else ""
        f.attrs["source_file"] = source.filename if source is not None else ""
        geo = f.create_group("geometry")
        geometry = solution.geometry
        geo.attrs["kind"] = kind = summary["geometry"]["kind"]
        if kind == "grid":
            for k, axis in enumerate(geometry.axes):
                geo.create_dataset(f"axis_{k}", data=axis)
        else:
            points = np.asarray(geometry.points, dtype=np.float64)
            geo.create_dataset("points", data=points.reshape(len(points), -1), compression="gzip")
            if kind == "mesh":
                geo.create_dataset("cells", data=np.asarray(geometry.cells, dtype=np.int64), compression="gzip")
        geo.attrs["names"] = list(_coordinate_names(solution))
        fields = f.create_group("fields")
        exact = f.create_group("exact")
        for name, values in solution.fields.items():
            fields.create_dataset(name, data=values, compression="gzip")
            ue = solution.exact_values(name)
            if ue is not None:
                exact.create_dataset(name, data=ue, compression="gzip")
        if solution.times is not None:
            f.create_dataset("times", data=solution.times)
        if solution.history:
            history = f.create_group("history")
            for name, values in solution.history.items():
                history.create_dataset(name, data=values, compression="gzip")
        for group_name in ("dofs", "dof_history"):
            arrays = getattr(solution, group_name, None)
            if arrays:
                group = f.create_group(group_name)
                for name, values in arrays.items():
                    group.create_dataset(name, data=np.asarray(values, dtype=np.float64), compression="gzip")
        samples = solution.samples
        if samples is not None:
            group = f.create_group("samples")
            group.create_dataset("points", data=np.asarray(samples[0], dtype=np.float64), compression="gzip")
            for name, values in samples[1].items():
                group.create_dataset(name, data=np.asarray(values, dtype=np.float64), compression="gzip")
        diagnostics = getattr(solution, "diagnostics", None)
        if diagnostics:
            group = f.create_group("diagnostics")
            for name, values in diagnostics.items():
                group.create_dataset(name, data=np.asarray(values, dtype=np.float64))
    return path


def _coordinate_names(solution: "Solution") -> tuple[str, ...]:
    names = tuple(getattr(solution.geometry, "names", ()) or ())
    return names or tuple(solution.problem.space.names)


def read_hdf5(path: str | Path) -> dict[str, Any]:
    """Read a file written by :func:`write_hdf5` into a dictionary of arrays and metadata.

    Keys: ``attrs`` (options, info and errors decoded from JSON), ``geometry``
    (its datasets and ``kind``, ``names``), ``fields``, ``exact``, ``times``
    (or ``None``), ``history``, ``diagnostics``, ``dofs``, ``dof_history`` and
    ``samples`` (dictionaries of arrays).
    """
    h5py = _h5py()
    target = Path(path).expanduser()
    if not target.exists():
        raise SymopError(f"`{path}`: no such file; give the .h5 file that symop run -o or Solution.save wrote.")
    if target.is_dir():
        raise SymopError(f"`{path}` is a folder; give the .h5 file in it that symop run -o or Solution.save wrote.")
    try:
        handle = h5py.File(target, "r")
    except OSError as err:
        why = str(err).split("(", 1)[-1].rstrip(")") if "(" in str(err) else str(err)
        raise SymopError(f"`{path}` cannot be read as an HDF5 file ({why}): it is damaged, truncated or of "
                         "another kind.") from None
    try:
        with handle as f:
            return _read(f, path)
    except (KeyError, ValueError, TypeError, OSError) as err:
        raise SymopError(f"`{path}` is a damaged symop solution file: {err}.") from None


def _read(f: Any, path: str | Path) -> dict[str, Any]:
    """The contents of an open solution file ``f`` (see :func:`read_hdf5`)."""
    if f.attrs.get("format") != FORMAT:
        raise SymopError(f"`{path}` is not a symop solution file (no format attribute `{FORMAT}`).")
    attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
    for key in ("options", "info", "errors"):
        attrs[key] = json.loads(attrs[key])
    geo = f["geometry"]
    geometry: dict[str, Any] = {k: geo[k][()] for k in geo}
    geometry["kind"] = str(geo.attrs["kind"])
    geometry["names"] = [str(n) for n in geo.attrs["names"]]

    def group(name: str) -> dict[str, np.ndarray]:
        return {k: f[name][k][()] for k in f[name]} if name in f else {}

    return {
        "attrs": attrs,
        "geometry": geometry,
        "fields": group("fields"),
        "exact": group("exact"),
        "times": f["times"][()] if "times" in f else None,
        "history": group("history"),
        "diagnostics": group("diagnostics"),
        "dofs": group("dofs"),
        "dof_history": group("dof_history"),
        "samples": group("samples"),
    }
