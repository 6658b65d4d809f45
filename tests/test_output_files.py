"""Files others read: binary VTK that meshio reads back, one HDF5 file per run, xarray datasets."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import meshio
import numpy as np
import pytest

import symop
from symop.errors import SymopError
from symop.output.hdf5 import read_hdf5

HEAT_1D = """problem rod
space x
time t in [0, 0.1]
domain box(x: [0, 1])
field u
equation dt(u) = d(u, x, 2)
boundary left, right: u = 0
initial u = sin(pi*x)
exact u = exp(-pi^2*t)*sin(pi*x)
"""

POISSON_3D = """problem cube
space x, y, z
domain box(x: [0, 1], y: [0, 1], z: [0, 1])
field u
equation -lap(u) = 3*pi^2*sin(pi*x)*sin(pi*y)*sin(pi*z)
boundary all: u = 0
exact u = sin(pi*x)*sin(pi*y)*sin(pi*z)
"""


def _read_all(files):
    """Every VTK file among ``files`` read back by meshio, by name."""
    return {p.name: meshio.read(p) for p in files if p.suffix == ".vtu"}


@pytest.fixture(scope="module")
def heat2d():
    return symop.solve(symop.load("examples/heat.pde"), method="fd", n=16, dt=0.05, save=0)


def test_grid_1d_2d_3d_are_binary_vtu_that_meshio_reads(tmp_path, heat2d):
    rod = symop.solve(symop.parse(HEAT_1D), method="fd", n=20, dt=0.01, scheme="crank-nicolson", save=0)
    cube = symop.solve(symop.parse(POISSON_3D), method="fd", n=6)
    for sol, cell, shape in ((rod, "line", (21,)), (heat2d, "quad", (17, 17)), (cube, "hexahedron", (7, 7, 7))):
        files = sol.save(tmp_path / sol.problem.name)
        meshes = _read_all(files)
        assert list(meshes) == [f"{sol.problem.name}.vtu"]
        mesh = meshes[f"{sol.problem.name}.vtu"]
        assert mesh.cells[0].type == cell
        assert len(mesh.points) == int(np.prod(shape))
        np.testing.assert_allclose(mesh.points[:, : len(shape)], sol.geometry.points(), rtol=0, atol=0)
        np.testing.assert_allclose(mesh.point_data["u"], sol.fields["u"].ravel(), rtol=0, atol=0)
        np.testing.assert_allclose(mesh.point_data["u_error"], (sol.fields["u"] - sol.exact_values("u")).ravel(),
                                   atol=1e-15)
        text = (tmp_path / sol.problem.name / f"{sol.problem.name}.vtu").read_bytes()
        assert b'format="binary"' in text and b'format="ascii"' not in text.split(b"</FieldData>")[-1]
        if sol.time is not None:
            assert mesh.field_data["TimeValue"][0] == pytest.approx(sol.time)


def test_a_65_grid_is_binary_and_small(tmp_path):
    sol = symop.solve(symop.load("examples/heat.pde"), method="fd", n=64, dt=0.05, save=0)
    (path,) = [p for p in sol.save(tmp_path) if p.suffix == ".vtu"]
    assert path.stat().st_size < 200_000  # the ASCII .vtr was 270 KB
    assert meshio.read(path).point_data["u"].shape == (65 * 65,)




def test_fem_mesh_vtu_and_time_series_pvd(tmp_path):
    sol = symop.solve(symop.load("examples/heat.pde"), method="fem", n=6, dt=0.1, save=3)
    files = sol.save(tmp_path)
    meshes = _read_all(files)
    assert sorted(meshes) == ["heat_0000.vtu", "heat_0001.vtu", "heat_0002.vtu"]
    sets = ET.parse(tmp_path / "heat.pvd").getroot().findall("Collection/DataSet")
    assert [s.get("file") for s in sets] == sorted(meshes)
    times = [float(s.get("timestep")) for s in sets]
    np.testing.assert_allclose(times, sol.times)
    for (name, mesh), t, values in zip(sorted(meshes.items()), times, sol.history["u"]):
        assert mesh.cells[0].type == "triangle"
        np.testing.assert_array_equal(mesh.cells[0].data, sol.geometry.cells)
        assert mesh.field_data["TimeValue"][0] == t
        np.testing.assert_allclose(mesh.point_data["u"], values, rtol=0, atol=0)


def test_hdf5_round_trip(tmp_path):
    sol = symop.solve(symop.load("examples/heat.pde"), method="fd", n=8, dt=0.05, save=4)
    sol.diagnostics = {"step": np.array([0.0, 5.0]), "u_max": np.array([1.0, 0.9])}
    sol.save(tmp_path)
    back = read_hdf5(tmp_path / "heat.h5")
    assert back["attrs"]["method"] == "fd" and back["attrs"]["problem"] == "heat"
    assert back["attrs"]["time"] == sol.time
    assert back["attrs"]["options"]["n"] == 8 and back["attrs"]["options"]["save"] == 4
    assert "equation dt(u) =" in back["attrs"]["problem_text"]
    assert back["attrs"]["source_text"] == sol.problem.source.text
    assert symop.parse(back["attrs"]["problem_text"]).name == "heat"  # the stored problem is one symop reads
    assert back["geometry"]["kind"] == "grid" and back["geometry"]["names"] == ["x", "y"]
    for k, axis in enumerate(sol.geometry.axes):
        np.testing.assert_array_equal(back["geometry"][f"axis_{k}"], axis)
    np.testing.assert_array_equal(back["fields"]["u"], sol.fields["u"])
    np.testing.assert_array_equal(back["exact"]["u"], sol.exact_values("u"))
    np.testing.assert_array_equal(back["times"], sol.times)
    np.testing.assert_array_equal(back["history"]["u"], sol.history["u"])
    np.testing.assert_array_equal(back["diagnostics"]["u_max"], [1.0, 0.9])
    assert back["attrs"]["errors"]["u"]["rel_l2"] == pytest.approx(sol.errors()["u"]["rel_l2"])


def test_hdf5_of_a_mesh_keeps_points_and_cells(tmp_path):
    sol = symop.solve(symop.load("examples/disk_poisson.pde"), method="fem", h=0.3)
    sol.save(tmp_path)
    (h5,) = tmp_path.glob("*.h5")
    back = read_hdf5(h5)
    assert back["geometry"]["kind"] == "mesh"
    np.testing.assert_array_equal(back["geometry"]["cells"], sol.geometry.cells)
    np.testing.assert_array_equal(back["geometry"]["points"], sol.geometry.points)
    np.testing.assert_array_equal(back["fields"]["u"], sol.fields["u"])
    assert back["times"] is None


def test_read_hdf5_refuses_another_file(tmp_path):
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = [1.0]
    with pytest.raises(SymopError, match="not a symop solution file"):
        read_hdf5(tmp_path / "other.h5")


def test_to_xarray_has_coordinates_and_times():
    pytest.importorskip("xarray")
    sol = symop.solve(symop.load("examples/heat.pde"), method="fd", n=8, dt=0.05, save=6)
    ds = sol.to_xarray()
    assert ds["u"].dims == ("t", "x", "y")
    np.testing.assert_array_equal(ds["t"], sol.times)
    np.testing.assert_array_equal(ds["x"], sol.geometry.axes[0])
    np.testing.assert_array_equal(ds["y"], sol.geometry.axes[1])
    np.testing.assert_array_equal(ds["u"].sel(t=sol.times[2]), sol.history["u"][2])
    np.testing.assert_allclose(ds["u_exact"].isel(t=-1), sol.exact_values("u"), atol=1e-15)
    assert ds.attrs["method"] == "fd"

    steady = symop.solve(symop.load("examples/poisson.pde"), method="fd", n=8)
    ds = steady.to_xarray()
    assert ds["u"].dims == tuple(steady.geometry.names) and "t" not in ds.dims


def test_to_xarray_refuses_a_mesh_and_names_a_missing_xarray(monkeypatch):
    import sys

    sol = symop.solve(symop.load("examples/disk_poisson.pde"), method="fem", h=0.4)
    with pytest.raises(SymopError, match="needs a grid"):
        sol.to_xarray()
    grid = symop.solve(symop.load("examples/poisson.pde"), method="fd", n=4)
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(SymopError, match="pip install xarray"):
        grid.to_xarray()


def test_hdf5_keeps_every_p2_degree_of_freedom(tmp_path):
    sol = symop.solve(symop.load("examples/heat.pde"), method="fem", degree=2, n=4, dt=0.1, save=3)
    assert sol.dofs is not None and sol.dofs["u"].size > sol.fields["u"].size
    sol.save(tmp_path)
    back = read_hdf5(tmp_path / "heat.h5")
    np.testing.assert_array_equal(back["dofs"]["u"], sol.dofs["u"])
    np.testing.assert_array_equal(back["dof_history"]["u"], sol.dof_history["u"])
