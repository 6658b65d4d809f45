"""pinn trains small steps on one intra-op CPU thread and gives torch's thread count back afterwards."""

from __future__ import annotations

from pathlib import Path

import torch

import symop
from symop.threads import intra_op_threads
from symop_pinn.train import ONE_THREAD_ELEMENTS, training_threads

ROOT = Path(__file__).resolve().parents[1]


def test_the_rule_picks_one_thread_for_small_cpu_steps_only():
    with intra_op_threads(2):
        assert training_threads(100, 128, 10_000, "cpu") == 1  # 100 x 10^4 points x inputs: below 2^20
        assert training_threads(1024, 64, 2, "cpu") == 1  # pinn's defaults
        assert training_threads(ONE_THREAD_ELEMENTS // 64, 64, 2, "cpu") is None
        assert training_threads(100, 128, 2**20, "cpu") is None  # the input dimension counts too
        assert training_threads(100, 128, 10, "cuda") is None
    with intra_op_threads(1):
        assert training_threads(100, 128, 10, "cpu") is None  # already one thread: nothing to change


def test_a_small_run_trains_on_one_thread_and_restores_torchs_count():
    seen: list[int] = []
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        sol = symop.solve(str(ROOT / "examples" / "poisson.pde"), method="pinn", width=8, depth=1, points=32,
                          boundary_points=16, steps=3, eval_points=16,
                          callbacks=[lambda state: seen.append(torch.get_num_threads())])
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 1, 1]
    assert after == 2
    assert sol.info["threads"] == 1
