"""VTK output: a small XML RectilinearGrid (``.vtr``) writer, ``.vtu`` via meshio,
and ParaView ``.pvd`` time collections.

The ``.vtr`` writer needs nothing beyond the standard library and NumPy; the
data are written as ASCII so that the files are easy to inspect and test.
VTK orders rectilinear-grid points with the first coordinate varying fastest,
so arrays stored in C order with axis 0 = first coordinate are flattened in
Fortran order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def _ascii(values: np.ndarray) -> str:
    """``values`` as whitespace-separated text with full double precision."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    return " ".join(f"{v:.17g}" for v in flat.tolist())


def _data_array(parent: ET.Element, name: str, values: np.ndarray, components: int = 1) -> ET.Element:
    element = ET.SubElement(
        parent,
        "DataArray",
        type="Float64",
        Name=name,
        NumberOfComponents=str(components),
        format="ascii",
    )
    element.text = _ascii(values)
    return element


def _write_tree(root: ET.Element, path: Path) -> Path:
    ET.indent(root)
    tree = ET.ElementTree(root)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path


def write_vtr(
    path: str | Path,
    axes: Sequence[np.ndarray],
    point_data: Mapping[str, np.ndarray],
    axis_names: Sequence[str] | None = None,
) -> Path:
    """Write a rectilinear grid with nodal data to ``path`` (VTK XML ``.vtr``).

    :param axes: one to three 1-D coordinate arrays; missing dimensions are
        padded with the single coordinate 0.
    :param point_data: name → array of the grid's shape (``len(a)`` per axis,
        C order, axis 0 is the first coordinate).
    :param axis_names: names of the coordinates, kept as the ``Name`` of the
        coordinate arrays (default x, y, z).
    """
    path = Path(path)
    axes = [np.asarray(a, dtype=np.float64).ravel() for a in axes]
    if not 1 <= len(axes) <= 3:
        raise ValueError(f"a .vtr file holds 1 to 3 axes, not {len(axes)}")
    shape = tuple(len(a) for a in axes)
    names = list(axis_names) if axis_names is not None else ["x", "y", "z"][: len(axes)]
    padded = axes + [np.zeros(1)] * (3 - len(axes))
    padded_names = names + [f"pad{k}" for k in range(3 - len(axes))]
    extent = " ".join(f"0 {len(a) - 1}" for a in padded)

    root = ET.Element("VTKFile", type="RectilinearGrid", version="0.1", byte_order="LittleEndian")
    grid = ET.SubElement(root, "RectilinearGrid", WholeExtent=extent)
    piece = ET.SubElement(grid, "Piece", Extent=extent)
    attrs = {"Scalars": next(iter(point_data))} if point_data else {}
    pdata = ET.SubElement(piece, "PointData", **attrs)
    for name, values in point_data.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != shape:
            values = values.reshape(shape)
        _data_array(pdata, name, values.ravel(order="F"))
    ET.SubElement(piece, "CellData")
    coords = ET.SubElement(piece, "Coordinates")
    for name, axis in zip(padded_names, padded):
        _data_array(coords, name, axis)
    return _write_tree(root, path)


def _cell_type(cells: np.ndarray, dimension: int) -> str:
    per_cell = cells.shape[1]
    if per_cell == 1:
        return "vertex"
    if per_cell == 2:
        return "line"
    if per_cell == 3:
        return "triangle"
    if per_cell == 4:
        return "tetra" if dimension == 3 else "quad"
    if per_cell == 8:
        return "hexahedron"
    raise ValueError(f"no VTK cell type has {per_cell} vertices in {dimension} dimensions")


def write_vtu(
    path: str | Path,
    points: np.ndarray,
    cells: np.ndarray | None,
    point_data: Mapping[str, np.ndarray],
) -> Path:
    """Write an unstructured grid (``.vtu``) with nodal data through meshio.

    :param points: ``(N, d)`` node coordinates, ``d <= 3`` (padded to 3).
    :param cells: ``(M, k)`` vertex indices of each cell, or ``None`` for a
        point cloud (written as one ``vertex`` cell per point).
    """
    import meshio

    path = Path(path)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    n, d = points.shape
    if d > 3:
        raise ValueError(f"a .vtu file holds points of at most 3 coordinates, not {d}")
    padded = np.zeros((n, 3))
    padded[:, :d] = points
    if cells is None:
        cells = np.arange(n, dtype=np.int64).reshape(-1, 1)
    cells = np.asarray(cells, dtype=np.int64)
    mesh = meshio.Mesh(
        padded,
        [(_cell_type(cells, d), cells)],
        point_data={k: np.asarray(v, dtype=np.float64).reshape(n) for k, v in point_data.items()},
    )
    meshio.write(path, mesh, file_format="vtu")
    return path


def write_pvd(path: str | Path, entries: Sequence[tuple[float, str | Path]]) -> Path:
    """Write a ParaView collection ``path`` listing ``(time, file)`` pairs.

    File names are written relative to the collection's directory.
    """
    path = Path(path)
    root = ET.Element("VTKFile", type="Collection", version="0.1", byte_order="LittleEndian")
    collection = ET.SubElement(root, "Collection")
    for time, file in entries:
        ET.SubElement(
            collection,
            "DataSet",
            timestep=f"{float(time):.17g}",
            group="",
            part="0",
            file=Path(file).name,
        )
    return _write_tree(root, path)
