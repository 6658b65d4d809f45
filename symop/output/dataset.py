"""A grid solution as an :class:`xarray.Dataset`: coordinates and time as dimensions.

xarray is an optional dependency (``pip install symop[xarray]``); without it,
:func:`to_xarray` raises a :class:`~symop.errors.SymopError` that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from symop.errors import SymopError

if TYPE_CHECKING:  # pragma: no cover
    import xarray

    from symop.solution import Solution


def to_xarray(solution: "Solution") -> "xarray.Dataset":
    """The fields of a grid solution as a Dataset.

    Each coordinate of the grid is a dimension (named as the grid names it,
    x, y, z, ...); with a history, each field is a variable over ``("t", *axes)``
    holding every saved time, else over the axes alone (with the scalar
    coordinate ``t`` when the run has a time).  Exact values, when known,
    are the variables ``<field>_exact``; the method, options, problem and
    errors are attributes.
    """
    import json

    if not hasattr(solution.geometry, "axes"):
        kind = "a mesh" if hasattr(solution.geometry, "cells") else "scattered points"
        raise SymopError(
            f"to_xarray needs a grid, but this {solution.method} solution lives on {kind}; "
            "use save() for VTK and HDF5 files instead."
        )
    try:
        import xarray as xr
    except ImportError:
        raise SymopError(
            "to_xarray needs the xarray package, which is not installed: pip install xarray "
            "(or pip install 'symop[xarray]')."
        ) from None
    summary = solution.summary()
    grid = solution.geometry
    dims = tuple(grid.names)
    coords: dict[str, Any] = {name: axis for name, axis in zip(dims, grid.axes)}
    variables: dict[str, Any] = {}
    if solution.history and solution.times is not None:
        coords["t"] = solution.times
        for name, values in solution.history.items():
            variables[name] = (("t", *dims), values)
            exact = [solution.exact_values(name, float(t)) for t in solution.times]
            if all(e is not None for e in exact):
                import numpy as np

                variables[f"{name}_exact"] = (("t", *dims), np.stack(exact))
        for name, values in solution.fields.items():
            if name not in variables:
                variables[name] = (dims, values)
    else:
        if solution.time is not None:
            coords["t"] = solution.time
        for name, values in solution.fields.items():
            variables[name] = (dims, values)
            exact = solution.exact_values(name)
            if exact is not None:
                variables[f"{name}_exact"] = (dims, exact)
    attrs = {
        "problem": solution.problem.name,
        "method": solution.method,
        "options": json.dumps(summary["options"]),
        "errors": json.dumps(summary["errors"]),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)
