"""benchmarks/gpu.py: one line and status 0 without CUDA; every section's code on the CPU with ``--rehearse``."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_gpu_benchmark_skips_cleanly_without_cuda(monkeypatch, capsys):
    module = _module()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert module.main([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("gpu.py: no CUDA device here")


def test_the_several_gpus_section_skips_with_one_line_on_one_gpu(monkeypatch, capsys):
    module = _module()
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    module.section_ranks(module.Clock(60))
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["several GPUs: skipped, 1 CUDA device here (fd and pinn under torchrun need 2 or more)"]


def test_the_gpu_plan_keeps_the_gpu_sizes_and_the_rehearsal_is_small():
    module = _module()
    gpu, cpu = module.Plan(), module.REHEARSAL
    assert gpu.device == "cuda" and not gpu.rehearsal and cpu.device == "cpu" and cpu.rehearsal
    assert [n for _, n, _ in gpu.fd_cases] == [4096, 256] and gpu.fem_cells == 1000
    assert [d for d, _ in gpu.pinn_cases] == [10_000, 100_000, 1_000_000]
    assert gpu.ranks == {"n": 4096, "steps": (20, 120), "points": 12288, "width": 128} and gpu.processes is None
    assert max(n**d for d, n, _ in cpu.fd_cases) <= 64**2 and max(d for d, _ in cpu.pinn_cases) <= 1000


#: a number as the sections print it (``1.2e-05``, ``3.4``, ``-``)
NUM = r"-?\d[\d.,]*(?:e[+-]\d+)?"
RATE = rf"(?:{NUM} training steps/s.*|not resolved .*)"
#: a time column of the several-process table: a number, or ``-`` when not resolved
COL = rf"(?:{NUM}|-)"

#: the result lines each section prints in the rehearsal (regular expressions, one per line, in order)
EXPECTED = {
    "fd": [rf"correctness periodic heat 64², rk4: max \|cpu eager - cpu eager\| = ({NUM}) \(float64\)",
           rf"correctness periodic heat 64², rk4: max \|cpu compiled - cpu eager\| = ({NUM}) \(float64\)",
           rf"correctness heat.pde 32² \(its solve line\): max \|cpu eager - cpu eager\| = ({NUM}) \(float64\)",
           rf"correctness heat.pde 32² \(its solve line\): max \|cpu compiled - cpu eager\| = ({NUM}) \(float64\)",
           *(rf"{grid}\s+{dtype}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}"
             for grid in ("64\\^2", "16\\^3") for dtype in ("float32", "float64"))],
    "fem": [rf"P1 Poisson, 10,201 nodal values: solve on the CPU {NUM} s, with the solve on the CPU \(rehearsal\) "
            rf"{NUM} s .*; max \|cpu - cpu\| = ({NUM}); rel L2 error cpu {NUM}, cpu {NUM}",
            r"cpu: solver direct; mesh .* s, assembly .* s, solve .* s",
            r"cpu: solver direct; mesh .* s, assembly .* s, solve .* s"],
    "pinn": [rf"correctness d = 100: loss after 1 step cpu {NUM}, cpu {NUM}, relative difference ({NUM}) \(float32\)",
             rf"d =\s+100:\s+{RATE}", rf"d =\s+1,000:\s+{RATE}"],
    **{m: [rf"correctness: first training loss cpu {NUM}, cpu {NUM}, relative difference ({NUM})",
           rf"{RATE}8 samples\)?"] for m in ("pino", "hypino")},
    "several": [rf"{case}\s+{ranks}\s+{COL}\s+{COL}\s+max relative difference ({NUM})"
                for case in ("fd", "pinn") for ranks in (1, 2)],
}


def _sections(out: str) -> dict[str, list[str]]:
    """The rehearsal's output by section: its heading's first word -> its indented lines."""
    blocks: dict[str, list[str]] = {}
    for block in out.split("\n\n")[1:]:
        head, *lines = block.splitlines()
        blocks[head.split()[0]] = [line.strip() for line in lines]
    return blocks


def _check(out: str, names: list[str]) -> None:
    """Every section in ``names`` printed its result lines, none failed or was skipped, and the CPU-against-CPU
    comparisons agree (to rounding: compiled and eager fd steps may round apart)."""
    assert out.startswith("CPU REHEARSAL (--rehearse), not GPU figures"), out
    assert out.rstrip().endswith("CPU rehearsal, no GPU figures"), out
    assert "failed" not in out and "skipped" not in out, out
    blocks = _sections(out)
    assert [n for n in blocks if n != "total"] == names, out
    for name in names:
        lines = iter(blocks[name])
        for pattern in EXPECTED[name]:
            match = next((m for m in map(lambda line: re.fullmatch(pattern, line), lines) if m), None)
            assert match is not None, f"{name}: no line matches {pattern!r}\n{out}"
            if match.groups():
                assert abs(float(match.group(1))) <= 1e-12, f"{name}: {match.group(0)}\n{out}"


def test_the_rehearsal_runs_fem_in_process(capsys):
    """The cheap part of the rehearsal: fem (fd's compiled steps take a minute with a cold compiler cache)."""
    module = _module()
    assert module.main(["--rehearse", "--only", "fem"]) == 0
    _check(capsys.readouterr().out, ["fem"])


@pytest.mark.slow
def test_the_whole_rehearsal_runs_every_section():
    """``gpu.py --rehearse``: every section on the CPU standing in for CUDA, the several-GPU launches on two
    gloo CPU processes; each prints its result lines and the split runs match one process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--rehearse"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    _check(out, ["fd", "fem", "pinn", "pino", "hypino", "several"])
    gaps = [float(line.split()[-1]) for line in _sections(out)["several"] if line.startswith(("fd ", "pinn "))]
    # rounding only: CPU kernels may round a node's stencil sum of a block one ulp apart from the whole grid's
    assert gaps[0] == gaps[2] == 0.0 and gaps[1] <= 1e-15 and gaps[3] <= 1e-12, out
