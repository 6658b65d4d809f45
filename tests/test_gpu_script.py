"""benchmarks/gpu.py without CUDA: one line, status 0, nothing else run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_skips_cleanly_without_cuda(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("gpu_benchmark", ROOT / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert module.main([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("gpu.py: no CUDA device here")


def _module():
    spec = importlib.util.spec_from_file_location("gpu_benchmark", ROOT / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_several_gpus_section_skips_with_one_line_on_one_gpu(monkeypatch, capsys):
    module = _module()
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    module.section_ranks(module.Clock(60))
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["several GPUs: skipped, 1 CUDA device here (fd and pinn under torchrun need 2 or more)"]


@pytest.mark.slow
def test_the_several_gpus_section_launches_and_checks_on_gloo_processes(monkeypatch, capsys):
    """The launches, checks and timings of the multi-GPU section, on CPU processes (two "devices")."""
    module = _module()
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    module.section_ranks(module.Clock(400), device="cpu", n=64, steps=(2, 4), points=96, width=8)
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("fd ", "pinn "))]
    assert [(r[0], r[1]) for r in rows] == [("fd", "1"), ("fd", "2"), ("pinn", "1"), ("pinn", "2")], out
    gaps = [float(r[-1]) for r in rows]
    # rounding only: CPU kernels may round a node's stencil sum of a block one ulp apart from the whole grid's
    assert gaps[0] == gaps[2] == 0.0 and gaps[1] <= 1e-15 and gaps[3] <= 1e-12, out
