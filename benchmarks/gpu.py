"""Every method's CUDA path: its correctness against the CPU result, and its throughput, in one run.

    python benchmarks/gpu.py [--budget SECONDS] [--only fd fem pinn pino hypino ranks] [--rehearse]

Sections (each skipped with a line when the time left is too short, each failure reported and the
run going on; the whole run stays within ``--budget`` seconds, 480 by default, set-up included):

* **fd**: the same problems solved on the CPU and on CUDA (periodic heat at 64², the Dirichlet /
  Neumann / Robin heat example at 32², float64): max |difference|.  Throughput of the explicit
  Euler step of periodic heat, as grid points per second, at 4096² (2D) and 256³ (3D), float32
  and float64, eager and compiled (``compile: true``: inductor/Triton); time per step from the
  difference of two runs of different lengths (set-up and compilation cancel).
* **fem**: P1 Poisson on the unit square at about 10⁶ unknowns on the CPU and with the solve on
  CUDA (fem assembles on the CPU and solves with torch CG on the device): max |difference|
  of the nodal values, wall time of each, the error against the exact solution.
* **pinn**: the loss at step 0 on the CPU and on CUDA for the same seed (Sine–Gordon on the unit
  ball, the STDE paper's problem, d = 100); training steps per second with STDE at d = 10⁴, 10⁵,
  10⁶ (100 points, 16 directions, width 128, depth 4; the paper's JAX figures on an A100:
  454, 157 and 13.6 it/s at d = 10⁴, 10⁵, 10⁶), from the training times of two runs of different
  lengths after an untimed warm-up run.
* **pino**, **hypino**: the first training loss on the CPU and on CUDA for the same seed; training
  steps per second on CUDA (difference of two runs of different lengths, after a warm-up run).
  A difference that is not positive prints as "not resolved" rather than a negative rate.
* **ranks** (several GPUs, for a machine that has them): with ``torch.cuda.device_count() >= 2``,
  fd (explicit Euler, periodic heat at 4096², float64, eager) and pinn (heat.pde, Adam, float64)
  launched under ``torchrun --nproc_per_node R`` for R = 1, 2 and min(GPUs, 4) (NCCL, each
  process on the GPU of its local rank); each split run is checked against the one-process
  result (fd's field, pinn's loss history) and timed per step (difference of two runs).  With
  fewer than 2 GPUs it prints one line saying it skips.

Without CUDA it prints one line and exits with status 0.  Paste its output into
``benchmarks/RESULTS.md`` with the command.

``--rehearse`` runs every section with the CPU standing in for CUDA (the device compared against the
CPU reference is ``cpu``, and there is nothing to synchronise), at tiny sizes: fd at 64² and 16³, fem
at 101² = 10,201 unknowns, pinn at d = 100 and 1000, pino and hypino on 8 samples for a few steps,
and the several-GPU section on 2 gloo CPU processes.  Every line of every section runs except the
CUDA calls themselves; its output says it is a CPU rehearsal, and its times are CPU times, not GPU
figures.  ``tests/test_gpu_script.py`` runs it (fem alone in the fast suite, all of it as a slow test).

Status: rehearsed on the CPU (2 shared cores, load average about 3, torch 2.13 CPU): every section
printed its result lines, no section failed, the CPU-against-CPU comparisons agreed to 0 (fd's
compiled against eager step: 1.1e-15), in about 30-50 s.  It has still not run on a GPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

HEAT = """
problem heat "periodic heat"
space {space}
time t in [0, {T}]
domain box({box})
boundary periodic({space})
param D = 1
field u
equation dt(u) = D*lap(u)
initial u = {initial}
"""

POISSON1D = """
problem poisson1d "1D Poisson family: a random source"
space x
domain interval(x: [0, 1])
param f ~ field(modes: 3, amplitude: 10, frequency: 3, kinds: fourier)
field u
equation -d(u, x, 2) = f
boundary all: u = 0
"""

SCREENED = """\
problem tiny "a small screened Poisson family"
space x, y
domain box(x: [-1, 1], y: [-1, 1])
param k in [0, 2]
param s in [0.5, 2]
field u
equation -lap(u) + k*u = s*(1 + x)
boundary left, right, bottom: u = 0
boundary top: dn(u) = 0
"""


class Clock:
    """The run's deadline: sections ask whether they fit."""

    def __init__(self, budget: float) -> None:
        self.start = time.perf_counter()
        self.budget = budget

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.start)

    def fits(self, section: str, needed: float) -> bool:
        if self.left() < needed:
            print(f"  {section}: skipped, {self.left():.0f} s left of the budget and it needs about {needed:.0f} s")
            return False
        return True


@dataclass(frozen=True)
class Plan:
    """What one run measures and where: the GPU run's sizes (the defaults) or the CPU rehearsal's.

    ``device`` is the device compared against the CPU reference and timed; the rehearsal puts
    ``cpu`` there, so that every line of every section runs without a GPU (the comparisons are
    then CPU against CPU, and the times are not GPU figures).
    """

    device: str = "cuda"
    #: fd throughput: (dimension, cells per side, the two run lengths whose difference is timed)
    fd_cases: tuple[tuple[int, int, tuple[int, int]], ...] = ((2, 4096, (20, 220)), (3, 256, (20, 220)))
    #: fem: cells per side of the unit square (P1: (cells + 1)² unknowns)
    fem_cells: int = 1000
    #: pinn: the dimension of the correctness check; throughput: (dimension, the two run lengths)
    pinn_check: int = 100
    pinn_cases: tuple[tuple[int, tuple[int, int]], ...] = ((10_000, (20, 120)), (100_000, (10, 60)),
                                                           (1_000_000, (5, 25)))
    #: pino and hypino: samples of the correctness check and of the timed runs, the two run lengths
    operator_samples: tuple[int, int] = (16, 64)
    operator_steps: tuple[int, int] = (20, 120)
    #: several processes: fd's cells per side, the two run lengths, pinn's points and width, and the
    #: number of processes where they are not GPUs (None: one per GPU, up to 4)
    ranks: dict = field(default_factory=lambda: {"n": 4096, "steps": (20, 120), "points": 12288, "width": 128})
    processes: int | None = None

    @property
    def rehearsal(self) -> bool:
        return self.device == "cpu"

    @property
    def where(self) -> str:
        """The timed device in words."""
        return "the CPU (rehearsal)" if self.rehearsal else "CUDA"


#: the CPU rehearsal: every section's code at sizes a laptop runs in a minute or two
REHEARSAL = Plan(device="cpu", fd_cases=((2, 64, (20, 220)), (3, 16, (20, 220))), fem_cells=100, pinn_check=100,
                 pinn_cases=((100, (5, 25)), (1000, (5, 25))), operator_samples=(4, 8), operator_steps=(2, 6),
                 ranks={"n": 64, "steps": (2, 4), "points": 96, "width": 8}, processes=2)


def sync(device: str = "cuda") -> None:
    """Wait for ``device``'s queued kernels (nothing to wait for on the CPU)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def per_step(first: float, second: float, steps: tuple[int, int]) -> float | None:
    """Seconds per step from the times of two runs of ``steps[0]`` and ``steps[1]`` steps (set-up cancels);
    None when the longer run was not the slower one: the difference is below the timing noise."""
    per = (second - first) / (steps[1] - steps[0])
    return per if per > 0 else None


#: printed in place of a rate whose two runs did not resolve a time per step
UNRESOLVED = "not resolved (the longer run was not slower: timing noise exceeds the steps' time)"


def heat_text(dim: int, n: int, steps: int) -> tuple[str, float]:
    """A periodic heat problem in ``dim`` dimensions and a stable Euler step for ``n`` cells."""
    names = ["x", "y", "z"][:dim]
    dt = 0.2 / dim / n**2
    text = HEAT.format(space=", ".join(names), T=repr(dt * steps), box=", ".join(f"{a}: [0, 1]" for a in names),
                       initial="*".join(f"sin(2*pi*{a})" for a in names))
    return text, dt


def fd_step_time(dim: int, n: int, dtype: str, compile: bool, steps: tuple[int, int], device: str) -> float:
    """Seconds per explicit Euler step of fd on ``device``: difference of two runs inside one set-up."""
    import symop
    from symop_fd.timestep import run_evolution

    text, dt = heat_text(dim, n, steps[1])
    program = symop.lower(symop.parse(text), "fd", n=n, scheme="euler", dt=dt, dtype=dtype, compile=compile, save=0)
    low = program.lowered(device)
    stamps: dict[int, float] = {}

    def mark(k: int, total: int, t: float) -> None:
        if k in steps:
            sync(device)
            stamps[k] = time.perf_counter()

    run_evolution(low, program.options, mark)  # warm-up: compilation, allocator
    run_evolution(low, program.options, mark)
    return (stamps[steps[1]] - stamps[steps[0]]) / (steps[1] - steps[0])


def section_fd(clock: Clock, plan: Plan = Plan()) -> None:
    """fd on ``plan.device`` against the CPU, and its explicit Euler step's throughput there."""
    import numpy as np

    import symop

    print("\nfd")
    dev = plan.device
    if clock.fits("fd correctness", 20):
        text, dt = heat_text(2, 64, 200)
        problem = symop.parse(text)
        for prob, opts, label in ((problem, dict(n=64, scheme="rk4", dt=dt), "periodic heat 64², rk4"),
                                  (symop.load(ROOT / "examples" / "heat.pde"), dict(n=32), "heat.pde 32² (its solve line)")):
            cpu = symop.solve(prob, "fd", compile=False, **opts)
            for compile in (False, True):
                gpu = symop.solve(prob, "fd", device=dev, compile=compile, **opts)
                diff = float(np.abs(np.asarray(cpu.fields["u"]) - np.asarray(gpu.fields["u"])).max())
                print(f"  correctness {label}: max |{dev} {'compiled' if compile else 'eager'} - cpu eager| = "
                      f"{diff:.2e} (float64)")
    print(f"  {'grid':<8}{'dtype':<9}{'eager s/step':>14}{'compiled s/step':>17}{'eager pts/s':>14}{'compiled pts/s':>16}")
    for dim, n, steps in plan.fd_cases:
        for dtype in ("float32", "float64"):
            if not clock.fits(f"fd {n}^{dim} {dtype}", 40):
                continue
            points = n**dim
            try:
                eager = fd_step_time(dim, n, dtype, False, steps, dev)
                comp = fd_step_time(dim, n, dtype, True, steps, dev)
            except Exception as e:  # report and go on: one case must not hide the others
                print(f"  {n}^{dim} {dtype}: failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}")
                continue
            print(f"  {f'{n}^{dim}':<8}{dtype:<9}{eager:>14.3e}{comp:>17.3e}{points / eager:>14.3e}{points / comp:>16.3e}")


def section_fem(clock: Clock, plan: Plan = Plan()) -> None:
    """P1 Poisson solved on the CPU and with its solve on ``plan.device``: the difference and the times."""
    import numpy as np

    import symop

    print("\nfem")
    if not clock.fits("fem", 90):
        return
    dev = plan.device
    problem = symop.load(ROOT / "examples" / "poisson.pde")
    h = 1 / plan.fem_cells  # P1 on the unit square: 1001² = 1,002,001 unknowns on the GPU run
    out = []
    for device in ("cpu", dev):
        start = time.perf_counter()
        sol = symop.solve(problem, "fem", h=h, degree=1, device=device)
        out.append((sol, time.perf_counter() - start))
    (a, ta), (b, tb) = out
    diff = float(np.abs(np.asarray(a.fields["u"]) - np.asarray(b.fields["u"])).max())
    err_a = a.errors()["u"]["rel_l2"]
    err_b = b.errors()["u"]["rel_l2"]
    size = np.asarray(a.fields["u"]).size
    print(f"  P1 Poisson, {size:,} nodal values: solve on the CPU {ta:.2f} s, with the solve on {plan.where} "
          f"{tb:.2f} s (assembly on the CPU in both); max |{dev} - cpu| = {diff:.2e}; rel L2 error cpu {err_a:.2e}, "
          f"{dev} {err_b:.2e}")
    for name, sol in (("cpu", a), (dev, b)):
        info = sol.info or {}  # fem keeps its phases' seconds under "timing"
        phases = ", ".join(f"{k} {v:.3f} s" for k, v in (info.get("timing") or {}).items())
        print(f"    {name}: solver {info.get('solver', '?')}; {phases or 'no phase times recorded'}")


def sine_gordon(d: int) -> str:
    text = (ROOT / "examples" / "highdim" / "sine_gordon_ball_100.pde").read_text()
    return (text.replace("param d = 100", f"param d = {d}").replace("sine_gordon_ball_100", f"sine_gordon_ball_{d}")
            .replace("output_scale: 100,", f"output_scale: {d},"))  # the solution grows like d


def section_pinn(clock: Clock, plan: Plan = Plan()) -> None:
    """pinn (STDE) on ``plan.device`` against the CPU, and its training steps per second there."""
    import symop

    print("\npinn (STDE, Sine–Gordon on the unit ball)")
    dev = plan.device
    if clock.fits("pinn correctness", 30):
        d = plan.pinn_check
        problem = symop.parse(sine_gordon(d))
        la, lb = (symop.solve(problem, "pinn", device=device, steps=1, seed=0).info.get("final_loss")
                  for device in ("cpu", dev))
        print(f"  correctness d = {d}: loss after 1 step cpu {la:.6e}, {dev} {lb:.6e}, relative difference "
              f"{abs(la - lb) / max(abs(la), 1e-30):.1e} (float32)")
    for d, steps in plan.pinn_cases:
        if not clock.fits(f"pinn d = {d:,}", 60):
            continue
        try:
            problem = symop.parse(sine_gordon(d))
            # the first run warms up (kernels and work space for this width of input, the allocator) and is not
            # timed: a cold first run made the shorter of the two timed runs the slower one.  Only the training
            # time is read, so the solution is reported at 10 points: at the default 2000, drawing them at
            # d = 10^6 takes 2000 x 10^6 float64 normals (16 GB, then copies) on the host after every run
            times = [symop.solve(problem, "pinn", device=dev, steps=s, seed=0, eval_points=10).info["train_time"]
                     for s in (steps[0], *steps)][1:]
            per = per_step(*times, steps)
            print(f"  d = {d:>9,}: " + (UNRESOLVED if per is None else
                                        f"{1 / per:8.1f} training steps/s ({per * 1e3:.2f} ms per step)"))
        except Exception as e:
            print(f"  d = {d:,}: failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}")


def operator_section(clock: Clock, method: str, text: str, options: dict, plan: Plan = Plan()) -> None:
    """A neural operator's first training loss on the CPU and on ``plan.device``, and its steps per second there."""
    import symop

    print(f"\n{method}")
    if not clock.fits(method, 90):
        return
    dev = plan.device
    check, timed = plan.operator_samples
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{method}.pde"
        path.write_text(text)
        problem = symop.load(path)
        first = []
        for i, device in enumerate(("cpu", dev)):
            rep = symop.train(problem, method, samples=check, output=Path(tmp) / f"check{i}.pt", device=device,
                              seed=0, steps=2, **options)
            first.append(rep.losses[0])
        a, b = first
        print(f"  correctness: first training loss cpu {a:.6e}, {dev} {b:.6e}, relative difference "
              f"{abs(a - b) / max(abs(a), 1e-30):.1e}")
        steps = plan.operator_steps
        # a warm-up run of the shorter length first, not timed (the check above trained on fewer samples)
        walls = [symop.train(problem, method, samples=timed, output=Path(tmp) / f"s{k}.pt", device=dev, seed=0,
                             steps=s, **options).wall_time for k, s in enumerate((steps[0], *steps))][1:]
        per = per_step(*walls, steps)
        rate = UNRESOLVED if per is None else \
            f"{1 / per:.1f} training steps/s on {plan.where} ({per * 1e3:.2f} ms per step"
        print(f"  {rate}; {options or 'default sizes'}, {timed} samples{')' if per is not None else ''}")


RANKS_WORKER = """
import json, sys, time, torch
import symop
from symop.training import distributed
cfg, out = json.loads(sys.argv[1]), sys.argv[2]
device = cfg["device"]
info = distributed(device)  # NCCL on CUDA, each process on the GPU of its local rank; gloo on the CPU
procs = info if info.is_distributed else None
walls, result = [], {}
for steps in [cfg["steps"][0], *cfg["steps"]]:  # the first run warms up (imports, allocator, kernels)
    if cfg["method"] == "fd":
        text = open(cfg["file"]).read().replace("T_END", repr(cfg["dt"] * steps))
        sol = symop.solve(symop.parse(text), "fd", device=device, processes=procs, **cfg["options"])
        walls.append(sol.wall_time)
        result["u"] = torch.as_tensor(sol.fields["u"]) if info.is_main else None
        result["split"] = torch.tensor(sol.info.get("layout", {}).get("processes", 1))
    else:
        sol = symop.solve(cfg["file"], "pinn", device=device, processes=procs, steps=steps, **cfg["options"])
        walls.append(sol.info["train_time"])
        result["split"] = torch.tensor(sol.info.get("processes", 1))
        result["losses"] = torch.tensor([v for _, v in sol.info["history"]], dtype=torch.float64)
if info.is_main:
    result.update(walls=torch.tensor(walls, dtype=torch.float64))
    torch.save(result, out)
"""

RANKS_HEAT = HEAT.replace("time t in [0, {T}]", "time t in [0, T_END]")


def free_port() -> int:
    """A TCP port nobody listens on now (torchrun's rendezvous)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(ranks: int, worker: Path, cfg: dict, out: Path, timeout: float) -> dict:
    """Rank 0's result of ``worker`` on ``ranks`` processes (plain python for 1, torchrun otherwise)."""
    import json
    import subprocess

    head = [sys.executable] if ranks == 1 else [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                                               str(ranks), "--master_port", str(free_port())]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(head + [str(worker), json.dumps(cfg), str(out)], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}, nothing on stderr"])[-1]
        raise RuntimeError(f"{ranks} process(es) failed: {last[:200]}")
    return torch.load(out, weights_only=True)


def section_ranks(clock: Clock, device: str = "cuda", n: int = 4096, steps: tuple[int, int] = (20, 120),
                  points: int = 12288, width: int = 128, processes: int | None = None) -> None:
    """fd and pinn split over several GPUs (torchrun, NCCL) against one process: the result and the time per step.

    ``device="cpu"`` runs the same launches on gloo CPU processes (the rehearsal, and how the section is
    tested without GPUs), up to ``processes`` of them (default 2); on CUDA one process per GPU, up to 4.
    """
    cuda = device.startswith("cuda")
    count = torch.cuda.device_count() if cuda else (processes or 2)
    if count < 2:
        what = f"{count} CUDA device here" if cuda else f"{count} process asked for"
        print(f"\nseveral GPUs: skipped, {what} (fd and pinn under torchrun need 2 or more)")
        return
    top = min(count, 4)
    counts = sorted({1, 2, top})
    if cuda:
        print(f"\nseveral GPUs (torchrun, NCCL; {count} here, up to {top} processes)")
    else:
        print(f"\nseveral processes, CPU rehearsal (torchrun, gloo on CPU processes standing in for GPUs; "
              f"up to {top} processes)")
    text, dt = heat_text(2, n, 1)
    cases = [
        ("fd", f"explicit Euler, periodic heat {n}², float64, eager",
         {"method": "fd", "dt": dt, "steps": list(steps), "device": device,
          "options": {"n": n, "scheme": "euler", "dt": dt, "dtype": "float64", "compile": False, "save": 0}}),
        # the point counts are multiples of 2, 3 and 4 (every process gets an equal share of every term)
        ("pinn", f"heat.pde, Adam, {points} points, width {width}, float64",
         {"method": "pinn", "file": str(ROOT / "examples" / "heat.pde"), "steps": list(steps), "device": device,
          "options": {"points": points, "boundary_points": points // 8, "width": width, "depth": 4,
                      "dtype": "float64", "eval_points": 1200, "lr": 1e-3}}),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        worker = tmp / "worker.py"
        worker.write_text(RANKS_WORKER)
        heat = tmp / "heat.pde"
        heat.write_text(RANKS_HEAT.format(space="x, y", box="x: [0, 1], y: [0, 1]",
                                          initial="sin(2*pi*x)*sin(2*pi*y)"))
        print(f"  {'case':<6}{'processes':>10}{'ms/step':>10}{'speed-up':>10}  against one process")
        for name, label, cfg in cases:
            cfg.setdefault("file", str(heat))
            base, reference, unresolved = None, None, False
            for ranks in counts:
                if not clock.fits(f"{name} on {ranks} {'GPU(s)' if cuda else 'process(es)'}", 90):
                    continue
                try:
                    got = launch(ranks, worker, cfg, tmp / f"{name}{ranks}.pt", max(60.0, clock.left() - 10))
                except Exception as e:  # report and go on
                    print(f"  {name:<6}{ranks:>10}  failed: {type(e).__name__}: {str(e)[:160]}")
                    continue
                if int(got["split"]) != ranks:
                    print(f"  {name:<6}{ranks:>10}  failed: the run says it ran on {int(got['split'])} process(es)")
                    continue
                walls = got["walls"][1:]
                per = per_step(float(walls[0]), float(walls[1]), tuple(cfg["steps"]))
                value = got["u"] if name == "fd" else got["losses"]
                if reference is None:
                    base, reference = per, value
                gap = float((value - reference).abs().max() / reference.abs().max().clamp_min(1e-300))
                ms = f"{per * 1e3:>10.3f}" if per is not None else f"{'-':>10}"
                ratio = f"{base / per:>10.2f}" if per is not None and base is not None else f"{'-':>10}"
                unresolved = unresolved or per is None
                print(f"  {name:<6}{ranks:>10}{ms}{ratio}  max relative difference "
                      f"{gap:.1e}{'' if gap <= 1e-9 else '  (more than 1e-9: look at it)'}")
            print(f"    ({label})")
            if unresolved:
                print(f"    (-: time per step {UNRESOLVED})")


def main(argv=None) -> int:
    """Run the sections asked for; status 0 (a section's failure is printed as its result)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=float, default=480.0, help="seconds for the whole run (default 480)")
    ap.add_argument("--only", nargs="+", default=["fd", "fem", "pinn", "pino", "hypino", "ranks"],
                    choices=["fd", "fem", "pinn", "pino", "hypino", "ranks"])
    ap.add_argument("--rehearse", action="store_true",
                    help="run every section with the CPU standing in for CUDA, at tiny sizes (no GPU figures)")
    args = ap.parse_args(argv)
    plan = REHEARSAL if args.rehearse else Plan()
    if not plan.rehearsal and not torch.cuda.is_available():
        print(f"gpu.py: no CUDA device here (torch {torch.__version__}); nothing measured.")
        return 0
    clock = Clock(args.budget)
    sys.path.insert(0, str(ROOT / "plugins"))
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    if plan.rehearsal:
        print(f"CPU REHEARSAL (--rehearse), not GPU figures: the CPU stands in for CUDA at tiny sizes, so every "
              f"comparison below is CPU against CPU and every time is a CPU time; torch {torch.__version__}; "
              f"{os.cpu_count()} CPUs; load average {load}; budget {args.budget:.0f} s")
    else:
        print(f"GPU {torch.cuda.get_device_name()}; torch {torch.__version__} (CUDA {torch.version.cuda}); "
              f"{os.cpu_count()} CPUs; load average {load}; budget {args.budget:.0f} s")
    sections = {
        "fd": lambda: section_fd(clock, plan),
        "fem": lambda: section_fem(clock, plan),
        "pinn": lambda: section_pinn(clock, plan),
        "pino": lambda: operator_section(clock, "pino", POISSON1D, {}, plan),
        "hypino": lambda: operator_section(clock, "hypino", SCREENED, {}, plan),
        "ranks": lambda: section_ranks(clock, plan.device, processes=plan.processes, **plan.ranks),
    }
    for name in args.only:
        try:
            sections[name]()
        except Exception as e:  # one method's failure is a result too
            print(f"  {name}: failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\ntotal {time.perf_counter() - clock.start:.0f} s; load average {load}"
          + ("; CPU rehearsal, no GPU figures" if plan.rehearsal else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
