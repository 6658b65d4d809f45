"""Trackers: callbacks every k time or training steps, snapshots, plots, stopping, diagnostics."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import symop
from symop.cli import main
from symop.errors import SymopError
from symop.trackers import Callback, PlotEvery, Record, SaveEvery, StopRun, StopWhen

HEAT = "examples/heat.pde"


def _heat(method="fd", **options):
    options = {"n": 8, "dt": 0.05, **options}  # 10 steps of 0.05 to t = 0.5
    return symop.solve(HEAT, method=method, **options)


def test_a_callback_sees_every_kth_step_with_time_and_fields():
    seen = []
    sol = _heat(callbacks=[Callback(lambda s: seen.append((s.step, s.time, s.fields["u"].copy())), every=3)])
    assert [s for s, _, _ in seen] == [0, 3, 6, 9, 10]
    np.testing.assert_allclose([t for _, t, _ in seen], [0.0, 0.15, 0.3, 0.45, 0.5], atol=1e-12)
    x, y = np.meshgrid(*sol.geometry.axes, indexing="ij")
    np.testing.assert_allclose(seen[0][2], np.sin(np.pi * x) * np.sin(np.pi * y), atol=1e-14)
    np.testing.assert_array_equal(seen[-1][2], sol.fields["u"])


def test_a_plain_function_sees_every_step():
    steps = []
    _heat(callbacks=[lambda s: steps.append(s.step)])
    assert steps == list(range(11))


@pytest.mark.parametrize("method", ["fd", "fem"])
def test_a_tracker_stops_the_run_and_the_solution_is_where_it_stopped(method):
    seen = []
    sol = _heat(method, callbacks=[StopWhen(lambda s: s.time >= 0.2 - 1e-12, reason="t reached 0.2"),
                                   Callback(lambda s: seen.append(s.step), every=100)])
    assert sol.time == pytest.approx(0.2)
    assert sol.info["stopped"] == {"step": 4, "time": pytest.approx(0.2), "kind": "time", "reason": "t reached 0.2"}
    assert seen == [0, 4]  # a stopped run's step is its last: every tracker sees it
    exact = np.exp(-2 * np.pi**2 * 0.1 * 0.2)  # the errors are measured at t = 0.2, not at the end time 0.5
    assert sol.fields["u"].max() == pytest.approx(exact, rel=0.05)
    assert sol.errors()["u"]["rel_l2"] < 0.05


def test_stop_run_raised_by_a_function():
    def stop(state):
        if state.step == 2:
            raise StopRun("enough")

    sol = _heat(callbacks=[stop])
    assert sol.info["stopped"]["reason"] == "enough" and sol.time == pytest.approx(0.1)


def test_save_every_k_steps_becomes_the_history():
    sol = _heat(callbacks=[SaveEvery(4)])
    np.testing.assert_allclose(sol.times, [0.0, 0.2, 0.4, 0.5], atol=1e-12)
    assert sol.history["u"].shape == (4, 9, 9)
    np.testing.assert_array_equal(sol.history["u"][-1], sol.fields["u"])
    reference = _heat(save=11)  # every step
    np.testing.assert_allclose(sol.history["u"][1], reference.history["u"][4], atol=1e-14)


def test_record_writes_norms_and_energy_into_the_solution(tmp_path):
    sol = _heat(callbacks=[Record(5), SaveEvery(5)])
    d = sol.diagnostics
    np.testing.assert_array_equal(d["step"], [0, 5, 10])
    np.testing.assert_allclose(d["time"], [0.0, 0.25, 0.5], atol=1e-12)
    u = sol.history["u"]
    np.testing.assert_allclose(d["u_max"], np.abs(u).max(axis=(1, 2)))
    np.testing.assert_allclose(d["u_l2"], np.sqrt((u**2).mean(axis=(1, 2))))
    np.testing.assert_allclose(d["u_energy"], 0.5 * (u**2).mean(axis=(1, 2)))
    assert d["u_energy"][2] < d["u_energy"][1] < d["u_energy"][0]  # heat decays
    import h5py

    sol.save(tmp_path)
    with h5py.File(tmp_path / "heat.h5") as f:
        np.testing.assert_array_equal(f["diagnostics/u_max"][()], d["u_max"])


def test_training_steps_are_tracked_and_can_be_stopped():
    seen = []
    record = Record(5)
    sol = symop.solve("examples/poisson.pde", method="pinn", steps=40, width=8, depth=1,
                      callbacks=[Callback(lambda s: seen.append((s.step, s.kind, s.loss)), every=5), record,
                                 StopWhen(lambda s: s.step >= 15, every=5, reason="15 steps")])
    assert [s for s, _, _ in seen] == [5, 10, 15]
    assert {k for _, k, _ in seen} == {"training"} and all(np.isfinite(loss) for _, _, loss in seen)
    assert sol.info["stopped"]["step"] == 15 and sol.info["stopped"]["kind"] == "training"
    assert list(sol.diagnostics["step"]) == [5, 10, 15]
    assert any(k.startswith("loss_") for k in sol.diagnostics)
    np.testing.assert_allclose(sol.diagnostics["loss"], [loss for _, _, loss in seen])


def test_plot_every_draws_pngs(tmp_path):
    plots = PlotEvery(5, tmp_path / "frames")
    _heat(callbacks=[plots])
    assert [p.name for p in plots.paths] == ["heat_0000.png", "heat_0005.png", "heat_0010.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in plots.paths)


def test_bad_callbacks_are_refused_with_a_sentence():
    with pytest.raises(SymopError, match="whole number"):
        SaveEvery(0)
    with pytest.raises(SymopError, match="must be a function"):
        _heat(callbacks=[42])


def test_cli_every_writes_snapshots_with_times(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", HEAT, "-m", "fd", "--set", "n=8", "--set", "dt=0.05", "--every", "4", "-q",
                 "-o", str(out)]) == 0
    sets = ET.parse(out / "heat.pvd").getroot().findall("Collection/DataSet")
    np.testing.assert_allclose([float(s.get("timestep")) for s in sets], [0.0, 0.2, 0.4, 0.5], atol=1e-12)
    assert main(["run", HEAT, "-m", "fd", "--every", "0", "-q"]) == 1
    assert "--every takes a number of time steps" in capsys.readouterr().err


def test_save_every_on_p2_elements_evaluates_at_its_own_times():
    sol = _heat("fem", degree=2, n=4, callbacks=[SaveEvery(3)])
    np.testing.assert_allclose(sol.times, [0.0, 0.15, 0.3, 0.45, 0.5], atol=1e-12)
    assert sol.dof_history is None
    mid = sol.at(0.3)
    np.testing.assert_allclose(mid.fields["u"], sol.history["u"][2], atol=1e-12)


def test_cli_every_on_a_steady_problem_says_it_kept_nothing(capsys):
    assert main(["run", "examples/poisson.pde", "-m", "fd", "--set", "n=8", "--every", "2", "-q"]) == 0
    assert "--every 2 keeps snapshots of time steps, and this fd run took none" in capsys.readouterr().err
