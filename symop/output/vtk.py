"""VTK output that ParaView and ``meshio.read`` both open: binary ``.vtu`` files and ``.pvd`` time collections.

Every geometry is written as a VTK XML *UnstructuredGrid* (``.vtu``) through
meshio, binary and zlib-compressed:

* a tensor-product grid becomes its cells (lines in 1-D, quadrilaterals in
  2-D, hexahedra in 3-D) with the nodes in C order (last axis fastest), the
  order of :meth:`symop.solution.Grid.points`;
* a mesh keeps its simplices;
* a point cloud is one ``vertex`` cell per point.

meshio reads ``.vtu`` but has no reader for the structured formats (``.vtr``,
``.vts``), so one format serves every geometry.  The time of a snapshot is
stored as the VTK field ``TimeValue``; several snapshots are listed with their
times in a ParaView collection (``.pvd``, :func:`write_pvd`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def grid_cells(shape: Sequence[int]) -> tuple[str, np.ndarray]:
    """The VTK cell type and ``(M, 2**d)`` vertex indices of a tensor-product grid of ``shape`` nodes.

    Node ``(i, j, k)`` has index ``(i * ny + j) * nz + k`` (C order).  Quads and
    hexahedra list their vertices counter-clockwise (bottom face, then top
    face), as VTK orders them.
    """
    shape = tuple(int(n) for n in shape)
    d = len(shape)
    if not 1 <= d <= 3:
        raise ValueError(f"a VTK grid has 1 to 3 axes, not {d}")
    index = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    if any(n < 2 for n in shape):
        return "vertex", index.reshape(-1, 1)
    if d == 1:
        return "line", np.stack([index[:-1], index[1:]], axis=-1)
    if d == 2:
        a, b = index[:-1, :-1], index[1:, :-1]
        c, e = index[1:, 1:], index[:-1, 1:]
        return "quad", np.stack([a, b, c, e], axis=-1).reshape(-1, 4)
    corners = [index[:-1, :-1, :-1], index[1:, :-1, :-1], index[1:, 1:, :-1], index[:-1, 1:, :-1],
               index[:-1, :-1, 1:], index[1:, :-1, 1:], index[1:, 1:, 1:], index[:-1, 1:, 1:]]
    return "hexahedron", np.stack(corners, axis=-1).reshape(-1, 8)


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
    cells: np.ndarray | tuple[str, np.ndarray] | None,
    point_data: Mapping[str, np.ndarray],
    time: float | None = None,
) -> Path:
    """Write an unstructured grid (binary ``.vtu``) with nodal data through meshio.

    :param points: ``(N, d)`` node coordinates, ``d <= 3`` (padded to 3).
    :param cells: ``(M, k)`` vertex indices of each cell (the type follows
        from ``k`` and ``d``), a ``(type, indices)`` pair, or ``None`` for a
        point cloud (one ``vertex`` cell per point).
    :param time: stored as the field ``TimeValue`` when given.
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
        block = ("vertex", np.arange(n, dtype=np.int64).reshape(-1, 1))
    elif isinstance(cells, tuple):
        block = (cells[0], np.asarray(cells[1], dtype=np.int64))
    else:
        data = np.asarray(cells, dtype=np.int64)
        block = (_cell_type(data, d), data)
    mesh = meshio.Mesh(
        padded,
        [block],
        point_data={k: np.asarray(v, dtype=np.float64).reshape(n) for k, v in point_data.items()},
    )
    meshio.write(path, mesh, file_format="vtu", binary=True)
    if time is not None:
        _add_time(path, float(time))
    return path


def _add_time(path: Path, time: float) -> None:
    """Put the VTK field ``TimeValue`` (read by ParaView and meshio) into the ``.vtu`` at ``path``.

    meshio's writer does not write field data, so the element is inserted
    after the ``<UnstructuredGrid>`` tag, where VTK and meshio's reader look.
    """
    text = path.read_text(encoding="utf-8")
    tag = "<UnstructuredGrid>"
    field = (f'\n<FieldData>\n<DataArray type="Float64" Name="TimeValue" NumberOfTuples="1" '
             f'format="ascii">{time:.17g}</DataArray>\n</FieldData>')
    if tag not in text:  # pragma: no cover - meshio always writes the tag
        raise ValueError(f"{path.name} has no UnstructuredGrid element to hold the time")
    path.write_text(text.replace(tag, tag + field, 1), encoding="utf-8")


def write_grid_vtu(
    path: str | Path,
    axes: Sequence[np.ndarray],
    point_data: Mapping[str, np.ndarray],
    time: float | None = None,
) -> Path:
    """Write a tensor-product grid (one to three coordinate arrays) as a binary ``.vtu``.

    :param point_data: name → array of the grid's shape (C order, axis 0 is
        the first coordinate), stored in the node order of :func:`grid_cells`.
    """
    axes = [np.asarray(a, dtype=np.float64).ravel() for a in axes]
    shape = tuple(len(a) for a in axes)
    mesh = np.meshgrid(*axes, indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=-1)
    size = int(np.prod(shape))
    data = {k: np.asarray(v, dtype=np.float64).reshape(size) for k, v in point_data.items()}
    return write_vtu(path, points, grid_cells(shape), data, time)


def _write_tree(root: ET.Element, path: Path) -> Path:
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
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
