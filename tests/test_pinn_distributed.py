"""pinn under torchrun: every process trains on its shard of the seeded collocation points (DDP)."""

from __future__ import annotations

import json
import os

import pytest
import torch

import symop
from symop import plugins
from symop.errors import MethodError, OptionError
from symop.training import DistInfo

from launch import torchrun

#: six Adam steps, then one L-BFGS step of up to 5 iterations on the last step's points
SETTINGS = dict(steps=6, points=64, boundary_points=32, width=12, depth=2, dtype="float64", eval_points=40, lr=1e-2,
                lbfgs=5)


def test_two_processes_train_the_one_process_loss_history(tmp_path):
    args = [x for k, v in SETTINGS.items() for x in ("--set", f"{k}={v}")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    run = torchrun(["-m", "symop", "run", "examples/heat.pde", "--method", "pinn", "-q", "--json", "-o",
                    str(tmp_path / "out"), *args], 2, env, timeout=150)
    assert run.returncode == 0, run.stderr[-3000:]
    two = json.loads(run.stdout)  # rank 0 alone prints
    torch.set_num_threads(1)
    one = symop.solve("examples/heat.pde", method="pinn", **SETTINGS)
    assert two["info"]["processes"] == 2
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["info"]["processes"] == 2  # rank 0 wrote it
    a = torch.tensor([v for _, v in one.info["history"]], dtype=torch.float64)
    b = torch.tensor([v for _, v in two["info"]["history"]], dtype=torch.float64)
    assert [k for k, _ in one.info["history"]] == [k for k, _ in two["info"]["history"]] == [0, 5, 6]
    # L-BFGS's line search reads the loss averaged over the processes: its step is one process's to rounding
    assert torch.allclose(a, b, rtol=1e-12, atol=0), (a, b)
    assert a[-1] < a[-2] < a[0]  # it trained, and L-BFGS lowered the loss further


def test_what_pinn_does_not_split_is_refused_before_training(tmp_path):
    two = DistInfo(rank=0, world=2)
    problem = symop.load("examples/heat.pde")
    for options, words in ((dict(optimizer="engd"), "engd"), (dict(checkpoint=str(tmp_path / "c.pt")), "checkpoint")):
        with pytest.raises(MethodError, match=words):
            plugins.lower(problem, "pinn", options, processes=two)
    for options in (dict(lbfgs=10), dict(optimizer="lbfgs")):  # L-BFGS splits: its closure's loss is averaged
        assert plugins.get_discretization("pinn").processes(problem, plugins.resolve_options(
            "pinn", plugins.get_discretization("pinn").options, options)) is None
    from symop_pinn.train import shard_points

    X = torch.arange(10.0).reshape(5, 2)
    with pytest.raises(OptionError, match="multiples of 2"):
        shard_points([(X, None)], two)
    shards = [shard_points([(X[:4], X[:4] + 1)], DistInfo(rank=r, world=2))[0] for r in range(2)]
    assert torch.equal(torch.cat([shards[0][0], shards[1][0]]).sort(0).values, X[:4])
    assert torch.equal(shards[1][1], shards[1][0] + 1)  # normals (or paired points) stay with their points
