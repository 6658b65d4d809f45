"""symop's Adam takes torch's fused step where it can, and its steps are Adam's to rounding."""

from __future__ import annotations

import torch

from symop.training import OptimizerSetup, make_optimizer


def _steps(symops: bool, dtype: torch.dtype) -> torch.Tensor:
    """40 steps of symop's Adam, or of torch's single-tensor loop, on the same gradients."""
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(20, 30, dtype=dtype))
    opt = (make_optimizer("adam", OptimizerSetup([w], 1e-2)) if symops
           else torch.optim.Adam([w], 1e-2, foreach=False, fused=False))
    g = torch.Generator().manual_seed(1)
    for _ in range(40):
        w.grad = torch.randn(20, 30, generator=g, dtype=dtype) + w.detach()  # a gradient that depends on w
        opt.step()
    return w.detach()


def test_adam_is_fused_on_the_cpu_and_takes_the_loops_steps():
    w = torch.nn.Parameter(torch.zeros(3))
    assert make_optimizer("adam", OptimizerSetup([w], 1e-3)).defaults["fused"] is True
    assert not make_optimizer("adam", OptimizerSetup([w], 1e-3, {"foreach": True})).defaults["fused"]
    groups = [{"params": iter([w])}]  # a group's iterator still reaches torch after the check
    assert len(make_optimizer("adam", OptimizerSetup(groups, 1e-3)).param_groups[0]["params"]) == 1
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        default, loop = _steps(True, dtype), _steps(False, dtype)
        assert float((default - loop).abs().max()) < tol
        assert float((loop - torch.randn(20, 30, generator=torch.Generator().manual_seed(0))).abs().max()) > 0.1
