"""What a user gets back from a solve: files of a network's solution on a grid, readable HDF5 errors,
a float for one point, coordinate names in every summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import meshio
import numpy as np
import pytest
import torch

import symop
from symop.errors import SymopError
from symop.evaluation import DEFAULT_SNAPSHOTS
from symop.output.hdf5 import read_hdf5
from symop.solution import PointCloud, Solution

ROOT = Path(__file__).resolve().parents[1]


class Exact(torch.nn.Module):
    """A stand-in for a trained network: ``(x, y[, t]) -> u`` given by a formula, one output column."""

    def __init__(self, formula) -> None:
        super().__init__()
        self.formula = formula
        self.scale = torch.nn.Parameter(torch.ones((), dtype=torch.float64))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return (self.scale * self.formula(X.double()))[:, None]


def heat_net(offset: float = 0.0) -> Exact:
    """The exact solution of examples/heat.pde (kappa = 0.1), plus ``offset``, as a network of (x, y, t)."""
    return Exact(lambda X: torch.exp(-2 * np.pi ** 2 * 0.1 * X[:, 2]) * torch.sin(np.pi * X[:, 0])
                 * torch.sin(np.pi * X[:, 1]) + offset)


def network_solution(problem, net, time=None) -> Solution:
    """A network's solution as pinn returns it: the network, and its values at scattered sample points."""
    pts = problem.domain.sample_interior(50, seed=np.random.default_rng(0))
    X = pts if time is None else np.concatenate([pts, np.full((len(pts), 1), time)], axis=1)
    with torch.no_grad():
        values = net(torch.as_tensor(X))[:, 0].numpy()
    return Solution(problem, "pinn", {}, PointCloud(pts, problem.space.names), {"u": values}, time=time,
                    network=net)


def test_a_time_dependent_networks_files_are_on_a_grid_with_snapshots(tmp_path):
    """save() of a network's solution writes the grid plot() draws and snapshots in time, not the 50 sample
    points of its final time: every file opens with its reader and holds the network's values."""
    p = symop.load(ROOT / "examples/heat.pde")
    s = network_solution(p, heat_net(1e-3), time=0.5)
    names = {f.name for f in s.save(tmp_path)}
    assert {"fields.npz", "heat.pvd", "heat.h5", "summary.json", "heat_0000.vtu", "heat_0020.vtu"} <= names
    n = Solution.PICTURE_NODES[2]
    with np.load(tmp_path / "fields.npz") as z:
        assert z["u"].shape == (n, n) and "points" not in z.files
        np.testing.assert_allclose(z["axis_0"], np.linspace(0, 1, n))
        np.testing.assert_allclose(z["times"], np.linspace(0, 0.5, DEFAULT_SNAPSHOTS))
        assert z["history_u"].shape == (DEFAULT_SNAPSHOTS, n, n)
        np.testing.assert_allclose(z["history_u"][-1], z["u"])
        np.testing.assert_allclose(z["u"], z["exact_u"] + 1e-3, atol=1e-12)
        # the run's own values where it measured its errors stay beside the grid
        np.testing.assert_array_equal(z["sample_points"], s.geometry.points)
        np.testing.assert_array_equal(z["sample_u"], s.fields["u"])
    frames = [(float(e.get("timestep")), e.get("file"))
              for e in ET.parse(tmp_path / "heat.pvd").getroot().iter("DataSet")]
    assert len(frames) == DEFAULT_SNAPSHOTS
    t, name = frames[7]
    mesh = meshio.read(tmp_path / name)
    assert mesh.cells[0].type == "quad" and len(mesh.points) == n * n
    assert mesh.field_data["TimeValue"][0] == pytest.approx(t)
    # the values at that time, not at the final one
    np.testing.assert_allclose(mesh.point_data["u_error"], 1e-3, atol=1e-12)
    saved = read_hdf5(tmp_path / "heat.h5")
    assert saved["geometry"]["kind"] == "grid" and saved["history"]["u"].shape == (DEFAULT_SNAPSHOTS, n, n)
    np.testing.assert_array_equal(saved["samples"]["u"], s.fields["u"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["geometry"] == {"kind": "grid", "shape": [n, n], "names": ["x", "y"], "samples": 50}
    for norm, value in s.errors()["u"].items():  # what the run measured at its own points
        assert summary["errors"]["u"][norm] == pytest.approx(value, rel=1e-12)


def test_a_network_on_a_disk_is_written_on_a_grid_with_nan_outside(tmp_path):
    p = symop.load(ROOT / "examples/disk_poisson.pde")
    s = network_solution(p, Exact(lambda X: 1 - X[:, 0] ** 2 - X[:, 1] ** 2))
    s.save(tmp_path)
    mesh = meshio.read(tmp_path / "disk_poisson.vtu")
    r = np.hypot(mesh.points[:, 0], mesh.points[:, 1])
    u = mesh.point_data["u"]
    assert np.isnan(u[r > 1 + 1e-9]).all()
    inside = r < 1 - 1e-9
    np.testing.assert_allclose(u[inside], 1 - r[inside] ** 2, atol=1e-12)
    with h5py.File(tmp_path / "disk_poisson.h5") as f:
        assert f["geometry"].attrs["kind"] == "grid" and "times" not in f


def test_a_time_dependent_network_animates(tmp_path):
    """animate() draws a network at the snapshot times save() writes instead of refusing."""
    from PIL import Image

    p = symop.load(ROOT / "examples/heat.pde")
    s = network_solution(p, heat_net(), time=0.5)
    s.PICTURE_NODES = {2: 11}  # a small picture keeps the test fast
    path = s.animate(tmp_path / "u.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == DEFAULT_SNAPSHOTS


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.h5", "no such file"),
    (lambda d: d, "is a folder"),
    (lambda d: (d / "text.h5").write_text("not hdf5") and d / "text.h5", "cannot be read as an HDF5 file"),
])
def test_reading_a_missing_or_foreign_hdf5_file_is_a_sentence(tmp_path, make, message):
    with pytest.raises(SymopError, match=message):
        read_hdf5(make(tmp_path))


def test_reading_a_truncated_or_damaged_solution_file_is_a_sentence(tmp_path):
    p = symop.load(ROOT / "examples/poisson.pde")
    s = symop.solve(p, method="fd", n=4, progress=False)
    s.save(tmp_path)
    good = tmp_path / "poisson.h5"
    assert read_hdf5(good)["geometry"]["names"] == ["x", "y"]
    cut = tmp_path / "cut.h5"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(SymopError, match="cannot be read as an HDF5 file .*truncated"):
        read_hdf5(cut)
    with h5py.File(good, "a") as f:
        del f["geometry"]
    with pytest.raises(SymopError, match="damaged symop solution file"):
        read_hdf5(good)


def test_one_point_given_as_a_list_of_coordinates_gives_a_float():
    p = symop.load(ROOT / "examples/poisson.pde")
    s = symop.solve(p, method="fd", n=8, progress=False)
    value = s([0.3, 0.4])
    assert isinstance(value, float) and value == s(0.3, 0.4)
    assert isinstance(s(np.array([0.3, 0.4])), float)


def test_a_mesh_summary_names_its_coordinates():
    p = symop.load(ROOT / "examples/poisson.pde")
    s = symop.solve(p, method="fem", n=2, progress=False)
    assert s.summary()["geometry"]["names"] == ["x", "y"]


def test_a_networks_solution_is_an_xarray_dataset_on_the_grid_save_writes():
    pytest.importorskip("xarray")
    p = symop.load(ROOT / "examples/heat.pde")
    s = network_solution(p, heat_net(), time=0.5)
    s.PICTURE_NODES = {2: 9}
    ds = s.to_xarray()
    assert ds["u"].dims == ("t", "x", "y") and ds["u"].shape == (DEFAULT_SNAPSHOTS, 9, 9)
    np.testing.assert_allclose(ds["u"].values, ds["u_exact"].values, atol=1e-12)


def test_saving_again_into_a_folder_leaves_no_snapshot_of_the_earlier_run(tmp_path):
    """ParaView groups heat_0000.vtu, heat_0001.vtu, ... into one series: a second save with fewer snapshots (or
    none) into the same folder must not leave the first run's extra snapshots among them."""
    p = symop.load(ROOT / "examples/heat.pde")
    symop.solve(p, method="fd", n=4, save=6, progress=False).save(tmp_path)
    (tmp_path / "notes_0001.vtu").write_text("a user's own file")
    symop.solve(p, method="fd", n=4, save=3, progress=False).save(tmp_path)
    assert sorted(f.name for f in tmp_path.glob("heat*.vtu")) == ["heat_0000.vtu", "heat_0001.vtu", "heat_0002.vtu"]
    symop.solve(p, method="fd", n=4, save=0, progress=False).save(tmp_path)
    assert sorted(f.name for f in tmp_path.glob("heat*")) == ["heat.h5", "heat.vtu"]
    assert (tmp_path / "notes_0001.vtu").exists()
