"""Tests of symop.model.mesh: structured box meshes and Triangle meshes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from symop.model.domains import Ball, Box, Difference, Disk, DomainError, Interval, Polygon
from symop.model.mesh import Mesh, signed_volumes, structured_box_mesh

L_SHAPE = Polygon(((0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)))


def check_mesh(domain, mesh: Mesh, curved: bool = False) -> None:
    d = domain.dimension
    assert mesh.dimension == d
    assert mesh.points.dtype == np.float64 and mesh.points.shape == (mesh.num_points, d)
    assert mesh.cells.dtype == np.int64 and mesh.cells.shape == (mesh.num_cells, d + 1)
    assert np.all(signed_volumes(mesh.points, mesh.cells) > 0), "cells must be positively oriented"
    assert np.all(domain.contains(mesh.points) | (domain.side_of(mesh.points, tol=1e-8) != None))  # noqa: E711
    assert set(mesh.facets) == set(domain.sides)
    for side, facets in mesh.facets.items():
        assert facets.shape[0] > 0, f"side {side} has no facets"
        assert facets.shape[1] == d and facets.dtype == np.int64
        if curved:
            # midpoints of chords are off a curved side: probe the nodes instead
            # (straight sides of a curved domain are checked by the callers)
            labels = domain.side_of(mesh.points[facets.ravel()], tol=1e-8)
            assert np.all(labels != None)  # noqa: E711
        else:
            labels = domain.side_of(mesh.points[facets].mean(axis=1), tol=1e-8)
            assert np.all(labels == side)


@pytest.mark.parametrize(
    "box, n",
    [
        (Interval("x", -1, 2), (7,)),
        (Box((("x", 0, 1), ("y", 0, 2))), (3, 5)),
        (Box((("x", 0, 1), ("y", -1, 1), ("z", 0, 3))), (2, 3, 4)),
    ],
)
def test_structured_box_mesh(box, n) -> None:
    mesh = structured_box_mesh(box, n)
    d = box.dimension
    assert mesh.num_points == int(np.prod([k + 1 for k in n]))
    assert mesh.num_cells == int(np.prod(n)) * math.factorial(d)
    assert mesh.cell_volumes().sum() == pytest.approx(box.volume(), rel=1e-12)
    check_mesh(box, mesh)
    # facets cover each side exactly: their measures add up to the side measure
    for side, facets in mesh.facets.items():
        if d == 1:
            assert facets.shape == (1, 1)
            continue
        p = mesh.points[facets]
        if d == 2:
            measure = np.linalg.norm(p[:, 1] - p[:, 0], axis=1).sum()
        else:
            measure = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1).sum()
        assert measure == pytest.approx(box.boundary_measure(side))


def test_box_mesh_uses_ceil_of_length_over_h() -> None:
    box = Box((("x", 0, 1), ("y", 0, 2.5)))
    mesh = box.mesh(0.3)
    assert mesh.num_points == (4 + 1) * (9 + 1)
    assert mesh.num_cells == 2 * 4 * 9


def test_three_d_box_mesh_is_conforming() -> None:
    box = Box((("x", 0, 1), ("y", 0, 1), ("z", 0, 1)))
    mesh = box.mesh(0.5)
    faces = np.concatenate([np.delete(mesh.cells, i, axis=1) for i in range(4)])
    _, counts = np.unique(np.sort(faces, axis=1), axis=0, return_counts=True)
    assert set(counts.tolist()) <= {1, 2}
    assert int(np.sum(counts == 1)) == sum(f.shape[0] for f in mesh.facets.values()) == 6 * 2 * 2 * 2


@pytest.mark.parametrize("h", [0.2, 0.1])
def test_polygon_mesh_area_is_exact(h) -> None:
    mesh = L_SHAPE.mesh(h)
    assert mesh.cell_volumes().sum() == pytest.approx(3.0, rel=1e-12)
    assert mesh.cell_volumes().max() <= h * h * math.sqrt(3) / 4 * 1.0001
    check_mesh(L_SHAPE, mesh)


def test_clockwise_polygon_mesh() -> None:
    tri = Polygon(((0, 0), (0, 1), (1, 0)))
    mesh = tri.mesh(0.25)
    assert mesh.cell_volumes().sum() == pytest.approx(0.5, rel=1e-12)
    check_mesh(tri, mesh)


def test_disk_mesh_converges_in_area_and_keeps_nodes_on_circle() -> None:
    disk = Disk((0.5, -1.0), 1.5)
    errors = []
    for h in (0.4, 0.2):
        mesh = disk.mesh(h)
        check_mesh(disk, mesh, curved=True)
        nodes = mesh.points[mesh.boundary_points("boundary")]
        assert np.allclose(np.linalg.norm(nodes - np.array([0.5, -1.0]), axis=1), 1.5)
        errors.append(abs(mesh.cell_volumes().sum() - disk.volume()))
        assert errors[-1] <= 2 * (2 * math.pi / max(16, math.ceil(2 * math.pi * 1.5 / h))) ** 2 * disk.volume()
    assert errors[1] < errors[0] / 2.5  # O(h^2)


def test_difference_mesh() -> None:
    centre = np.array([0.2, 0.1])
    diff = Difference(Box((("x", -1, 1), ("y", -1, 1))), Disk(tuple(centre), 0.4), "cylinder")
    mesh = diff.mesh(0.1)
    assert mesh.cell_volumes().sum() == pytest.approx(diff.volume(), rel=1e-2)
    check_mesh(diff, mesh, curved=True)
    for side in ("left", "right", "bottom", "top"):
        mid = mesh.points[mesh.facets[side]].mean(axis=1)
        assert np.all(diff.side_of(mid, tol=1e-8) == side)
    hole_nodes = mesh.points[mesh.boundary_points("cylinder")]
    assert np.allclose(np.linalg.norm(hole_nodes - centre, axis=1), 0.4)
    cents = mesh.points[mesh.cells].mean(axis=1)
    assert np.all(np.linalg.norm(cents - centre, axis=1) > 0.4)


def test_difference_with_two_holes_and_polygon_hole() -> None:
    diff = Difference(
        Difference(Disk((0, 0), 3), Disk((-1.5, 0), 0.5), "a"),
        Polygon(((1, -0.5), (2, -0.5), (1.5, 0.5))),
        "b",
    )
    mesh = diff.mesh(0.25)
    assert set(mesh.facets) == {"boundary", "a", "b"}
    assert mesh.cell_volumes().sum() == pytest.approx(diff.volume(), rel=2e-2)
    mid = mesh.points[mesh.facets["b"]].mean(axis=1)
    assert np.all(diff.side_of(mid, tol=1e-8) == "b")
    assert np.all(signed_volumes(mesh.points, mesh.cells) > 0)


def test_ball_mesh_2d_only() -> None:
    mesh = Ball(2, 1.0, (1.0, 1.0)).mesh(0.2)
    assert mesh.cell_volumes().sum() == pytest.approx(math.pi, rel=2e-2)
    assert set(mesh.facets) == {"boundary"}
    with pytest.raises(DomainError, match=r"meshing a ball is available only in 2D \(as a disk\)"):
        Ball(3).mesh(0.2)


def test_mesh_helpers() -> None:
    box = Box((("x", 0, 1), ("y", 0, 1)))
    mesh = box.mesh(0.25)
    left = mesh.boundary_points("left")
    assert np.allclose(mesh.points[left, 0], 0.0) and left.size == 5
    assert mesh.boundary_points("all").size == 16
    assert np.allclose(mesh.cell_volumes(), 1 / 32)
    assert np.allclose(mesh.cell_sizes(), math.sqrt(2) / 4)
    assert mesh.volume() == pytest.approx(1.0) and mesh.max_size() == pytest.approx(math.sqrt(2) / 4)
    with pytest.raises(DomainError):
        mesh.boundary_points("lft")
    m = mesh.to_meshio()
    assert m.points.shape == (25, 2)
    assert m.cells[0].type == "triangle" and len(m.cells[0].data) == 32
    with pytest.raises(DomainError, match="mesh size must be a positive number"):
        box.mesh(0.0)
    with pytest.raises(DomainError, match="mesh size"):
        Disk((0, 0), 1).mesh(-1)
    with pytest.raises(DomainError, match="order"):
        box.mesh(0.25, order=0)
    assert box.mesh(0.25, order=2).num_cells == 32  # geometry stays affine; FEM adds nodes


def test_meshio_round_trip(tmp_path) -> None:
    import meshio

    diff = Difference(Box((("x", 0, 1), ("y", 0, 1))), Disk((0.5, 0.5), 0.2))
    mesh = diff.mesh(0.2)
    m = mesh.to_meshio()
    assert set(m.cell_sets) == set(diff.sides)
    assert [int(t[0]) for t in m.cell_data["side"]] == list(range(len(diff.sides) + 1))
    path = tmp_path / "mesh.vtu"
    meshio.write(path, m)
    back = meshio.read(path)
    assert back.points.shape[0] == mesh.num_points
    assert sum(len(c.data) for c in back.cells if c.type == "triangle") == mesh.num_cells


def test_mesh_sizes_follow_h() -> None:
    for h in (0.3, 0.15):
        mesh = L_SHAPE.mesh(h)
        assert mesh.max_size() <= 1.5 * h
        assert mesh.cell_sizes().min() > 0.1 * h
        # straight sides were split into pieces no longer than h
        for side, facets in mesh.facets.items():
            p = mesh.points[facets]
            assert np.all(np.linalg.norm(p[:, 1] - p[:, 0], axis=1) <= h * (1 + 1e-9))


def test_facet_tags_come_from_markers_on_a_thin_polygon() -> None:
    # two sides very close together: geometry-based tagging with a loose
    # tolerance would confuse them, segment markers do not
    sliver = Polygon(((0, 0), (4, 0), (4, 1e-3), (0, 2e-3)))
    mesh = sliver.mesh(0.5)
    assert mesh.cell_volumes().sum() == pytest.approx(sliver.volume(), rel=1e-10)
    for side, facets in mesh.facets.items():
        mid = mesh.points[facets].mean(axis=1)
        assert np.all(sliver.side_of(mid, tol=1e-12) == side)


def test_structured_box_mesh_rejects_bad_counts() -> None:
    box = Box((("x", 0, 1), ("y", 0, 1)))
    with pytest.raises(DomainError, match="needs 2 cell counts"):
        structured_box_mesh(box, (3,))
    with pytest.raises(DomainError, match="at least one cell"):
        structured_box_mesh(box, (3, 0))


def test_four_d_box_mesh() -> None:
    box = Box((("a", 0, 1), ("b", 0, 1), ("c", 0, 1), ("w", 0, 2)))
    mesh = structured_box_mesh(box, (2, 2, 2, 2))
    assert mesh.num_cells == 16 * 24
    assert mesh.cell_volumes().sum() == pytest.approx(2.0)
    check_mesh(box, mesh)
