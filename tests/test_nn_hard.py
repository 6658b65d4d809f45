"""symop.nn.hard: the fields whose Dirichlet data a network imposes exactly, and the factors that vanish there."""

from __future__ import annotations

import pytest
import torch

import symop
from symop.nn.hard import HardConstraintError, ball_factor, dirichlet_fields, side_factors

BOX = """problem b "heat on a box"
space x, y
time t in [0, 1]
domain box(x: [0, 2], y: [-1, 1])
field u
equation dt(u) = lap(u)
boundary left, top: u = t*y
boundary right, bottom: dn(u) = 0
initial u = 0
"""

BALL = """problem p "Poisson on a ball"
param d = 3
space x[1..d]
domain ball(dim: d, radius: 2)
field u
equation -lap(u) = 1
boundary all: u = 0
"""


def test_the_fields_their_data_and_their_sides():
    fields = dirichlet_fields(symop.parse(BOX))
    (value, parts), = fields.values()
    assert list(fields) == ["u"] and set(parts) == {"left", "top"}
    assert str(value) == "t*y"


def test_side_factors_vanish_on_their_sides_and_are_one_across_the_box():
    domain = symop.parse(BOX).domain
    factors = dict(((axis, scale > 0), (origin, scale)) for axis, origin, scale in side_factors(domain, ["left", "top"]))
    (o, s), = [factors[(0, True)]]  # left: (x - 0) / 2
    assert (o, s) == (0.0, 0.5)
    (o, s), = [factors[(1, False)]]  # top: (y - 1) * (-1/2)
    assert (o, s) == (1.0, -0.5)


def test_the_ball_factor_is_zero_on_the_sphere_and_one_at_the_centre():
    x = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    assert ball_factor(x, torch.zeros(3), 2.0).tolist() == [0.0, 1.0, 0.75]


def test_refusals_are_sentences():
    with pytest.raises(HardConstraintError, match="on disks and balls, and this domain is a box; leave hard off"):
        dirichlet_fields(symop.parse(BOX), ("disk", "ball"))
    with pytest.raises(HardConstraintError, match="no Dirichlet condition"):
        dirichlet_fields(symop.parse(BALL.replace("boundary all: u = 0", "boundary all: dn(u) = 0")))
    two = BOX.replace("boundary left, top: u = t*y", "boundary left: u = t*y\nboundary top: u = 0")
    with pytest.raises(HardConstraintError, match="one Dirichlet expression for `u`"):
        dirichlet_fields(symop.parse(two))
    assert list(dirichlet_fields(symop.parse(BALL), ("disk", "ball"))) == ["u"]
