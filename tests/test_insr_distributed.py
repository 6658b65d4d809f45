"""insr under torchrun: every fit's seeded points split over the processes (DDP), L-BFGS on the averaged loss."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import symop
from symop.errors import OptionError
from symop.training import DistInfo

from launch import torchrun

#: two L-BFGS fits (the initial data, one step) of a tiny network, in float64
SETTINGS = dict(dt=0.5, iterations=1, initial_iterations=1, points=32, boundary_points=16, width=8, depth=2,
                dtype="float64", eval_points=24)


def _launch(tmp_path, name: str, settings: dict) -> tuple[dict, dict]:
    args = [x for k, v in settings.items() for x in ("--set", f"{k}={v}")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    out = tmp_path / name
    run = torchrun(["-m", "symop", "run", "examples/heat.pde", "--method", "insr", "-q", "--json", "-o", str(out),
                    *args], 2, env, timeout=150)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout), dict(np.load(out / "fields.npz"))  # rank 0 alone prints and writes


def test_two_processes_fit_every_step_as_one_process_does(tmp_path):
    steps = tmp_path / "steps"
    two, fields = _launch(tmp_path, "out", {**SETTINGS, "checkpoint": steps})
    torch.set_num_threads(1)
    one = symop.solve("examples/heat.pde", method="insr", **SETTINGS)
    assert two["info"]["processes"] == 2 and "processes" not in one.info
    a = np.array(one.info["step_losses"])
    b = np.array(two["info"]["step_losses"])
    assert len(a) == 2 and np.isfinite(a).all()
    # L-BFGS's line search reads the loss averaged over the processes; the fits then differ from one process's
    # only by the order of the sums (about 1e-14 here; rounding grows with L-BFGS's iterations)
    assert np.allclose(a, b, rtol=1e-11, atol=0), (a, b)
    assert one.info["step_iterations"] == two["info"]["step_iterations"]
    u = one.fields["u"]
    assert np.allclose(fields["sample_u"], u, rtol=0, atol=1e-11 * np.abs(u).max())
    # rank 0 alone wrote the checkpoints; a run resumed from the first step's sends it to every process
    assert sorted(p.name for p in steps.iterdir()) == ["step000000.pt", "step000001.pt"]
    (steps / "step000001.pt").unlink()
    again, refit = _launch(tmp_path, "again", {**SETTINGS, "checkpoint": steps})
    assert again["info"]["step_losses"] == two["info"]["step_losses"]
    assert np.array_equal(refit["u"], fields["u"])


def test_taylor_mode_derivatives_run_split_too(tmp_path):
    """STDE evaluates the network inside a torch.func transform, where DDP may not copy buffers in place."""
    settings = {**SETTINGS, "estimator": "stde", "scheme": "backward-euler", "optimizer": "adam", "lr": 1e-2,
                "iterations": 2}
    two, _ = _launch(tmp_path, "out", settings)
    torch.set_num_threads(1)
    one = symop.solve("examples/heat.pde", method="insr", **settings)
    assert np.allclose(one.info["step_losses"], two["info"]["step_losses"], rtol=1e-11, atol=0)


def test_uneven_shares_are_refused_with_a_sentence():
    from symop import plugins
    from symop_insr.physics import Points
    from symop_insr.steps import share

    X, B = torch.arange(12.0).reshape(6, 2), torch.arange(8.0).reshape(4, 2)
    shares = [share(Points(X, [(B, B + 1)]), DistInfo(rank=r, world=2)) for r in range(2)]
    assert torch.equal(torch.cat([s.X for s in shares]).sort(0).values, X)
    assert torch.equal(shares[1].boundary[0][1], shares[1].boundary[0][0] + 1)  # normals stay with their points
    with pytest.raises(OptionError, match="multiple of 4"):
        share(Points(X, [(B, B)]), DistInfo(rank=0, world=4))
    problem = symop.load("examples/heat.pde")
    assert plugins.get_discretization("insr").processes(problem, {}) is None  # every option splits


@pytest.mark.parametrize("device, backend", [("cpu", "gloo"), ("cuda", "nccl")])
def test_processes_join_with_nccl_on_their_local_gpu_under_cuda(monkeypatch, device, backend):
    import torch.distributed as dist

    from symop.training import device_for, distributed

    calls = []
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend: calls.append(("init", backend)))
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: calls.append(("gpu", index)))
    info = distributed(device)
    assert (info.rank, info.world, info.local_rank) == (3, 4, 1)
    assert calls == ([("gpu", 1)] if backend == "nccl" else []) + [("init", backend)]
    assert device_for(device, info) == (torch.device("cuda", 1) if device == "cuda" else torch.device("cpu"))
