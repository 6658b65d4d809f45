"""Tests of symop.model.domains: volumes, sampling, normals, sides and errors."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from symop.errors import SymopError
from symop.model.domains import Ball, Box, Difference, Disk, Domain, DomainError, Interval, Polygon

UNIT_SQUARE = Box((("x", 0.0, 1.0), ("y", 0.0, 1.0)))
L_SHAPE = Polygon(((0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)))


def domains() -> list[Domain]:
    return [
        Interval("x", -1.0, 2.0),
        UNIT_SQUARE,
        Box((("x", 0, 1), ("y", 0, 2), ("z", -1, 1))),
        Box((("a", 0, 1), ("b", 0, 1), ("c", 0, 1), ("w", 0, 3))),
        Disk((0.5, -0.25), 1.5),
        L_SHAPE,
        Polygon(((0, 0), (0, 1), (1, 0))),  # clockwise
        Difference(Box((("x", -2, 2), ("y", -2, 2))), Disk((0.0, 0.0), 1.0)),
        Difference(
            Difference(Disk((0, 0), 3), Disk((-1.5, 0), 0.5), "a"),
            Polygon(((1, -0.5), (2, -0.5), (1.5, 0.5))),
            "b",
        ),
        Ball(3, 2.0, (1.0, 0.0, -1.0)),
        Ball(5),
    ]


def ids(ds):
    return [d.kind + str(d.dimension) for d in ds]


@pytest.mark.parametrize("domain", domains(), ids=ids(domains()))
def test_interior_samples_are_inside_and_reproducible(domain: Domain) -> None:
    p = domain.sample_interior(500, seed=3)
    assert p.shape == (500, domain.dimension)
    assert p.dtype == np.float64
    assert np.all(domain.contains(p))
    lo, hi = domain.bounding_box()
    assert np.all(p >= lo) and np.all(p <= hi)
    assert np.array_equal(p, domain.sample_interior(500, seed=3))
    assert not np.array_equal(p, domain.sample_interior(500, seed=4))


@pytest.mark.parametrize("domain", domains(), ids=ids(domains()))
def test_boundary_samples_lie_on_their_side_with_unit_normals(domain: Domain) -> None:
    for side in domain.sides:
        pts, normals = domain.sample_boundary(side, 40, seed=1)
        assert pts.shape == normals.shape == (40, domain.dimension)
        assert np.allclose(np.linalg.norm(normals, axis=1), 1.0)
        assert np.all(domain.side_of(pts, tol=1e-8) == side)
        assert np.allclose(domain.normal(side, pts), normals)
        # outward: stepping along the normal leaves the domain, stepping back enters it
        eps = 1e-4
        assert not np.any(domain.contains(pts + eps * normals))
        inside = domain.contains(pts - eps * normals)
        assert inside.mean() > 0.9  # corners of polygons may step outside
    pts, normals = domain.sample_boundary("all", 100, seed=2)
    assert pts.shape == (100, domain.dimension)
    assert np.all(domain.side_of(pts, tol=1e-8) != None)  # noqa: E711
    p2, n2 = domain.sample_boundary("all", 100, seed=2)
    assert np.array_equal(pts, p2) and np.array_equal(normals, n2)


def test_volumes_and_boundary_measures() -> None:
    assert Interval("x", -1, 2).volume() == pytest.approx(3.0)
    assert Interval("x", -1, 2).boundary_measure() == pytest.approx(2.0)
    box = Box((("x", 0, 1), ("y", 0, 2), ("z", -1, 1)))
    assert box.volume() == pytest.approx(4.0)
    assert box.boundary_measure("left") == pytest.approx(4.0)
    assert box.boundary_measure("top") == pytest.approx(2.0)
    assert box.boundary_measure() == pytest.approx(2 * (4 + 2 + 2))
    disk = Disk((1, 2), 2.0)
    assert disk.volume() == pytest.approx(4 * math.pi)
    assert disk.boundary_measure("boundary") == pytest.approx(4 * math.pi)
    assert L_SHAPE.volume() == pytest.approx(3.0)
    assert L_SHAPE.boundary_measure() == pytest.approx(8.0)
    assert Polygon(((0, 0), (0, 1), (1, 0))).volume() == pytest.approx(0.5)
    diff = Difference(Box((("x", -2, 2), ("y", -2, 2))), Disk((0, 0), 1))
    assert diff.volume() == pytest.approx(16 - math.pi)
    assert diff.boundary_measure("hole") == pytest.approx(2 * math.pi)
    assert diff.boundary_measure() == pytest.approx(16 + 2 * math.pi)
    assert Ball(3, 2.0).volume() == pytest.approx(4 / 3 * math.pi * 8)
    assert Ball(3, 2.0).boundary_measure() == pytest.approx(4 * math.pi * 4)
    assert Ball(1, 1.5).volume() == pytest.approx(3.0)
    assert Ball(2).volume() == pytest.approx(math.pi)


def test_monte_carlo_volume_of_difference() -> None:
    diff = Difference(L_SHAPE, Disk((0.5, 0.5), 0.25))
    lo, hi = diff.bounding_box()
    p = lo + (hi - lo) * np.random.default_rng(0).random((200_000, 2))
    estimate = diff.contains(p).mean() * np.prod(hi - lo)
    assert estimate == pytest.approx(diff.volume(), rel=0.02)


def test_boundary_all_split_proportional_to_measure() -> None:
    box = Box((("x", 0, 3), ("y", 0, 1)))
    pts, _ = box.sample_boundary("all", 800, seed=0)
    labels = box.side_of(pts)
    assert np.sum(labels == "left") == 100
    assert np.sum(labels == "bottom") == 300


def test_box_sides_and_axis_of_side() -> None:
    assert Interval("t", 0, 1).sides == ("left", "right")
    box3 = Box((("x", 0, 1), ("y", 0, 1), ("z", 0, 1)))
    assert box3.sides == ("left", "right", "bottom", "top", "front", "back")
    box4 = Box((("a", 0, 1), ("b", 0, 1), ("c", 0, 1), ("w", 0, 1)))
    assert box4.sides[-2:] == ("w_min", "w_max")
    assert box3.axis_of_side("front") == (2, -1)
    assert box3.axis_of_side("top") == (1, 1)
    assert box4.axis_of_side("w_max") == (3, 1)
    assert np.allclose(box3.normal("back", np.zeros((2, 3))), [[0, 0, 1], [0, 0, 1]])
    assert box3.axes == (("x", 0.0, 1.0), ("y", 0.0, 1.0), ("z", 0.0, 1.0))


def test_interval_is_a_one_axis_box() -> None:
    iv = Interval("x", 0, 1)
    assert isinstance(iv, Box)
    assert iv.kind == "interval" and iv.dimension == 1
    assert iv.axes == (("x", 0.0, 1.0),)
    assert iv == Interval("x", 0, 1) and iv != Box((("x", 0, 1),))
    pts, normals = iv.sample_boundary("all", 4, seed=0)
    assert sorted(pts.ravel().tolist()) == [0, 0, 1, 1]
    assert np.all(normals.ravel() == np.where(pts.ravel() == 0, -1, 1))


def test_describe() -> None:
    assert UNIT_SQUARE.describe() == "box x ∈ [0, 1] × y ∈ [0, 1]"
    assert Interval("x", 0, 0.5).describe() == "interval x ∈ [0, 0.5]"
    assert Disk((0, 0), 1).describe() == "disk centred at (0, 0) with radius 1"
    assert Difference(UNIT_SQUARE, Disk((0.5, 0.5), 0.2)).describe() == (
        "box x ∈ [0, 1] × y ∈ [0, 1] minus disk centred at (0.5, 0.5) with radius 0.2 (boundary part `hole`)"
    )
    assert L_SHAPE.describe().startswith("polygon (0, 0), (2, 0)")
    assert Ball(3, 2.0).describe() == "ball in 3 dimensions centred at the origin with radius 2"
    assert str(Ball(4)) == Ball(4).describe()


def test_side_of() -> None:
    labels = UNIT_SQUARE.side_of(np.array([[0, 0.5], [1, 0.3], [0.5, 0], [0.2, 1], [0.5, 0.5], [2, 0]]))
    assert list(labels) == ["left", "right", "bottom", "top", None, None]
    assert list(L_SHAPE.side_of(np.array([[1, 0], [2, 0.5], [1.5, 1], [1, 1.5], [0.5, 2], [0, 1]]))) == [
        "side1", "side2", "side3", "side4", "side5", "side6"
    ]
    disk = Disk((1, 1), 2)
    assert list(disk.side_of(np.array([[3, 1], [1, 1]]))) == ["boundary", None]


def test_side_of_corners_pick_the_first_side() -> None:
    # at a corner (even slightly off it) the first matching side in `sides` order wins
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1e-12, 1e-17]])
    assert list(UNIT_SQUARE.side_of(corners)) == ["left", "right", "right", "left", "left"]
    assert list(L_SHAPE.side_of(np.array([[0, 0], [2, 0], [1, 1]]))) == ["side1", "side1", "side3"]
    cube = Box((("x", 0, 1), ("y", 0, 1), ("z", 0, 1)))
    assert list(cube.side_of(np.array([[0.5, 1, 0], [0.5, 0.5, 1]]))) == ["top", "back"]


def test_polygon_normals_outward_for_both_orientations() -> None:
    ccw = Polygon(((0, 0), (1, 0), (0, 1)))
    cw = Polygon(((0, 0), (0, 1), (1, 0)))
    assert np.allclose(ccw.normal("side1", [[0.5, 0]]), [[0, -1]])
    assert np.allclose(cw.normal("side1", [[0, 0.5]]), [[-1, 0]])
    assert np.allclose(cw.normal("side2", [[0.5, 0.5]]), [[math.sqrt(0.5), math.sqrt(0.5)]])


def test_disk_normals_are_radial() -> None:
    disk = Disk((1.0, -2.0), 0.5)
    pts, normals = disk.sample_boundary("boundary", 50, seed=0)
    assert np.allclose(normals, (pts - np.array([1.0, -2.0])) / 0.5)


def test_difference_hole_normal_points_into_the_hole() -> None:
    centre = np.array([0.3, -0.2])
    diff = Difference(Box((("x", -2, 2), ("y", -2, 2))), Disk(tuple(centre), 0.7), "cylinder")
    assert diff.sides == ("left", "right", "bottom", "top", "cylinder")
    pts, normals = diff.sample_boundary("cylinder", 64, seed=0)
    assert np.allclose(np.linalg.norm(pts - centre, axis=1), 0.7)
    assert np.allclose(normals, (centre - pts) / 0.7)
    inner = diff.sample_interior(1000, seed=0)
    assert np.all(np.linalg.norm(inner - centre, axis=1) >= 0.7)
    # box hole: normals toward the box centre
    diff2 = Difference(Disk((0, 0), 3), Box((("x", -1, 1), ("y", -1, 1))))
    pts, normals = diff2.sample_boundary("hole", 64, seed=0)
    assert np.all(np.sum(normals * (-pts), axis=1) > 0)


def test_ball_in_ten_thousand_dimensions_is_cheap() -> None:
    ball = Ball(10_000, radius=2.0)
    start = time.perf_counter()
    p = ball.sample_interior(64, seed=0)
    q, normals = ball.sample_boundary("boundary", 64, seed=0)
    labels = ball.side_of(q)
    assert time.perf_counter() - start < 2.0
    assert p.shape == (64, 10_000)
    assert np.all(np.linalg.norm(p, axis=1) <= 2.0)
    assert np.allclose(np.linalg.norm(q, axis=1), 2.0)
    assert np.allclose(normals, q / 2.0)
    assert np.all(labels == "boundary")
    assert np.array_equal(p, ball.sample_interior(64, seed=0))
    assert math.isfinite(ball.log_volume())


def test_ball_radial_distribution_is_uniform_in_volume() -> None:
    ball = Ball(4, center=(1, 2, 3, 4))
    p = ball.sample_interior(20_000, seed=0)
    r = np.linalg.norm(p - np.array([1, 2, 3, 4]), axis=1)
    # P(r <= 1/2) = 2^-4
    assert np.mean(r <= 0.5) == pytest.approx(1 / 16, abs=0.01)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: Disk((0, 0), 0), "radius"),
        (lambda: Disk((0, 0), -1), "radius"),
        (lambda: Ball(3, radius=-2), "radius"),
        (lambda: Ball(0), "dimension"),
        (lambda: Interval("x", 1, 1), "empty"),
        (lambda: Box((("x", 0, 1), ("y", 2, 1))), "empty"),
        (lambda: Polygon(((0, 0), (1, 0))), "at least 3 vertices"),
        (lambda: Polygon(((0, 0), (1, 0), (2, 0))), "no area"),
        (lambda: Polygon(((0, 0), (1, 1), (1, 0), (0, 1))), "crosses itself"),
        (lambda: Difference(UNIT_SQUARE, Disk((1, 1), 0.5)), "does not lie inside"),
        (lambda: Difference(UNIT_SQUARE, Disk((5, 5), 0.5)), "does not lie inside"),
        (lambda: Difference(L_SHAPE, Box((("x", 0.5, 1.5), ("y", 0.5, 1.5)))), "does not lie inside"),
        (lambda: Difference(UNIT_SQUARE, Disk((0.5, 0.5), 0.1), "left"), "already used"),
        (lambda: Difference(UNIT_SQUARE, Ball(3, 0.1)), "dimensional"),
    ],
)
def test_bad_input_raises_domain_error(make, words) -> None:
    with pytest.raises(DomainError, match=words):
        make()


def test_unknown_side_message() -> None:
    with pytest.raises(DomainError) as info:
        Interval("x", 0, 1).sample_boundary("lft", 3)
    assert str(info.value) == "unknown boundary part `lft` of interval x ∈ [0, 1]; its parts are left, right"
    assert isinstance(info.value, SymopError)
    with pytest.raises(DomainError, match="its parts are left, right, bottom, top"):
        UNIT_SQUARE.boundary_measure("lft")
    with pytest.raises(DomainError):
        UNIT_SQUARE.axis_of_side("north")


def test_domains_are_frozen_and_hashable() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        UNIT_SQUARE.axes = ()  # type: ignore[misc]
    assert len({Disk((0, 0), 1), Disk((0, 0), 1.0), Ball(2), Ball(2, 1.0)}) == 2
