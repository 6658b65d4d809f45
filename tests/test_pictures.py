"""Pictures and notebooks: plot() returns a Figure with labelled colour bars and an error panel;
neural solutions are drawn through evaluation on a grid; short repr, HTML and LaTeX views."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.figure import Figure

import symop

NO_EXACT = """problem plain
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
equation -lap(u) = 1
boundary all: u = 0
"""


def _colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


@pytest.fixture(scope="module")
def heat():
    return symop.solve("examples/heat.pde", method="fd", n=16, dt=0.05)


def test_plot_returns_a_figure_with_an_error_panel_and_labelled_colorbars(heat):
    fig = heat.plot()
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert titles == ["u", "error"]
    assert [cb.get_ylabel() for cb in _colorbars(fig)] == ["u", "u − u_exact"]
    error = fig.axes[2].collections[0].get_array().reshape(17, 17).T
    np.testing.assert_allclose(error, heat.fields["u"] - heat.exact_values("u"), atol=1e-15)
    assert not heat.plot(errors=False).axes[1].get_ylabel() == "u − u_exact"


def test_no_error_panel_without_an_exact_solution():
    sol = symop.solve(symop.parse(NO_EXACT), method="fd", n=8)
    fig = sol.plot()
    assert [ax.get_title() for ax in fig.axes if ax.get_label() != "<colorbar>"] == ["u"]
    assert [cb.get_ylabel() for cb in _colorbars(fig)] == ["u"]


def test_every_colorbar_is_labelled_on_3d_slices_and_meshes():
    cube = symop.solve("examples/heat3d.pde", method="fd", n=6)
    fig = cube.plot()
    labels = [cb.get_ylabel() for cb in _colorbars(fig)]
    assert len(labels) == 6 and labels == ["u"] * 3 + ["u − u_exact"] * 3
    disk = symop.solve("examples/disk_poisson.pde", method="fem", h=0.3)
    assert [cb.get_ylabel() for cb in _colorbars(disk.plot())] == ["u", "u − u_exact"]


def test_plot_draws_into_given_axes_and_still_saves(heat, tmp_path):
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert heat.plot(ax=[left, right]) is fig
    assert left.get_title() == "u" and right.get_title() == "error"
    one = Figure().subplots()
    assert heat.plot(ax=one) is one.figure and len(one.collections) == 1
    path = heat.plot(tmp_path / "heat.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_a_network_is_drawn_on_a_grid_through_evaluation():
    sol = symop.solve("examples/disk_poisson.pde", method="pinn", steps=5, width=8, depth=1)
    fig = sol.plot()
    art = fig.axes[0].collections[0]
    assert isinstance(art, QuadMesh) and not any(isinstance(c, PathCollection) for c in fig.axes[0].collections)
    values = np.ma.filled(art.get_array(), np.nan).reshape(101, 101).T
    xs = np.linspace(-1, 1, 101)
    radius = np.hypot(*np.meshgrid(xs, xs, indexing="ij"))
    assert np.isnan(values[radius > 1.001]).all() and np.isfinite(values[radius < 0.999]).all()
    i, j = 30, 70  # a node inside the disk: the picture holds the network's value there
    assert values[i, j] == pytest.approx(float(sol(np.array([[xs[i], xs[j]]]))[0]), rel=1e-6)  # float32 network
    assert [cb.get_ylabel() for cb in _colorbars(fig)] == ["u", "u − u_exact"]


def test_repr_is_one_short_line(heat):
    text = repr(heat)
    assert len(text) < 200 and "\n" not in text
    assert "heat by fd" in text and "17×17" in text and "rel_l2" in text


def test_repr_html_shows_method_errors_time_and_a_picture(heat):
    page = heat._repr_html_()
    assert "fd" in page and "rel_l2" in page and "0.5" in page
    assert "<img src='data:image/png;base64," in page
    assert len(page) < 200_000


def test_problem_repr_latex_writes_the_equations():
    tex = symop.load("examples/heat.pde")._repr_latex_()
    assert tex.startswith("$") and tex.endswith("$")
    assert r"\frac{\partial u}{\partial t} &= \kappa" in tex
    assert r"\frac{\partial^{2} u}{\partial x^{2}}" in tex
    assert r"\text{on left, right}" in tex and r"\text{at } t = 0" in tex
    assert "u(x" not in tex  # fields print as their names, not as applied functions
    depth = 0
    for char in tex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    wave = symop.load("examples/wave.pde")._repr_latex_()
    assert r"\frac{\partial^{2} u}{\partial t^{2}}" in wave and r"\frac{\partial u}{\partial t} &= 0" in wave


def test_repr_latex_of_an_indexed_space_prints_its_operators():
    tex = symop.load("examples/highdim/poisson_ball.pde")._repr_latex_()
    assert r"\Delta u &=" in tex and "Laplacian" not in tex


def test_animation_frames_share_one_error_scale(heat, tmp_path, monkeypatch):
    from symop.output import plotting

    seen = []
    draw = plotting.draw
    monkeypatch.setattr(plotting, "draw", lambda *a, **k: seen.append(a[5]) or draw(*a, **k))
    heat.animate(tmp_path / "heat.gif")
    assert len(seen) == len(heat.times)
    lo, hi = seen[0]["u − u_exact"]
    errors = [heat.history["u"][k] - heat.exact_values("u", t) for k, t in enumerate(heat.times)]
    assert hi == -lo == pytest.approx(max(np.abs(e).max() for e in errors))
    assert all(limits == seen[0] for limits in seen)
