"""Trackers of an fd run split over processes: rank 0 sees the whole grid, every process stops at the same step."""

from __future__ import annotations

import os

import numpy as np
import torch

import symop
from symop.trackers import PlotEvery, Record, SaveEvery, StopWhen

from launch import torchrun

MIXED = """problem mixed "2D heat with every side kind and a source"
space x, y
time t in [0, 0.02]
domain box(x: [0, 1], y: [0, 2])
param kappa = 0.1
field u
equation dt(u) = kappa*lap(u) + sin(3*x)*u + exp(-t)*y
boundary left: u = sin(t)*y
boundary right: u = 0
boundary bottom: dn(u) = -pi*exp(-t)*sin(pi*x)
boundary top: dn(u) + 2*u = cos(x + t)
initial u = sin(pi*x)*cos(y)
"""

OPTIONS = dict(n=12, dt=0.001, compile=False)

WORKER = """
import sys, numpy as np, torch
torch.set_num_threads(1)
import symop
from symop.training import distributed
sys.path.insert(0, sys.argv[3])
from test_fd_distributed_trackers import OPTIONS, trackers
info = distributed("cpu")
folder = sys.argv[2] + f"/plots{info.rank}"
seen, tracked = trackers(folder)
sol = symop.solve(sys.argv[1], method="fd", processes=info, callbacks=tracked, **OPTIONS)
if info.is_main:
    torch.save({"fields": {f: torch.as_tensor(v) for f, v in sol.fields.items()},
                "history": {f: torch.as_tensor(v) for f, v in sol.history.items()}, "times": torch.as_tensor(sol.times),
                "diagnostics": {k: torch.as_tensor(v) for k, v in sol.diagnostics.items()},
                "stopped": sol.info["stopped"]["step"], "seen": torch.as_tensor(seen),
                "plots": [p.name for p in tracked[2].paths]}, sys.argv[2] + "/out.pt")
else:
    assert not seen and not tracked[2].paths, "a tracker ran on a rank other than 0"
"""


def trackers(folder: str):
    """The trackers of both runs: snapshots, diagnostics, pictures, a stop that reads the fields, and a function
    that records the shape of the state it sees; the list of those shapes."""
    seen: list[list[int]] = []

    def look(state):
        seen.append([state.step, *state.state.shape])

    def late(state) -> bool:
        return state.step >= 14 and bool(np.isfinite(state.fields["u"]).all())

    return seen, [SaveEvery(4), Record(3), PlotEvery(7, folder), StopWhen(late, every=2), look]


def test_trackers_of_a_split_run_see_the_whole_grid_on_rank_0(tmp_path):
    path = tmp_path / "mixed.pde"
    path.write_text(MIXED)
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "SYMOP_COMPILE": "0"}
    run = torchrun([str(worker), str(path), str(tmp_path), os.path.dirname(__file__)], 2, env, timeout=200)
    assert run.returncode == 0, run.stderr[-3000:]
    got = torch.load(tmp_path / "out.pt", weights_only=True)
    torch.set_num_threads(1)
    seen, tracked = trackers(str(tmp_path / "one"))
    one = symop.solve(str(path), method="fd", callbacks=tracked, **OPTIONS)
    assert one.info["stopped"]["step"] == got["stopped"] == 14  # stopped by rank 0's look at the whole field
    assert torch.equal(got["seen"], torch.as_tensor(seen))  # every step, the whole grid's state [1, 13, 13]
    assert got["seen"][0, 1:].tolist() == [1, 13, 13]
    u = torch.as_tensor(one.fields["u"])
    close = dict(rtol=0, atol=1e-13 * float(u.abs().max()))  # the split step's rounding (test_fd_distributed)
    assert torch.allclose(got["fields"]["u"], u, **close)
    assert torch.equal(got["times"], torch.as_tensor(one.times)) and len(one.times) == 5  # 0, 4, 8, 12, 14
    assert got["history"]["u"].shape == (5, 13, 13)
    assert torch.allclose(got["history"]["u"], torch.as_tensor(one.history["u"]), **close)
    assert set(got["diagnostics"]) == set(one.diagnostics) >= {"u_l2", "u_max", "step"}
    for name, values in one.diagnostics.items():
        assert torch.allclose(got["diagnostics"][name], torch.as_tensor(values), rtol=1e-13, atol=0), name
    assert got["plots"] == [p.name for p in tracked[2].paths] == ["mixed_0000.png", "mixed_0007.png",
                                                                  "mixed_0014.png"]
    assert sorted(p.name for p in (tmp_path / "plots0").iterdir()) == got["plots"]
    assert not list((tmp_path / "plots1").iterdir())  # rank 1 drew nothing
