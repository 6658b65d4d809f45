"""fd's time per step against the number of processes the grid is split over (``torchrun``).

For each rank count R (``--ranks 1,2``) the same 2D heat problem (Dirichlet
and Neumann sides, rk4, fixed dt, float64, eager steps) runs twice under
``torchrun --nproc_per_node R``, with S and 2S steps; the time per step is the
difference of the two solves' wall times on rank 0 over S (set-up, lowering
and the final gather cancel).  Each run's final field is compared with the
R = 1 run: ``bit-equal`` must say yes (the split grid steps exactly as one
process does).  The ratio column is the time per step over the R = 1 one.
The memory columns are each process's peak resident set
(``resource.getrusage(...).ru_maxrss``): after importing symop and joining the
process group, and at the end (the largest over the ranks, and rank 0's, which
also gathers the whole field); ``--scheme crank-nicolson`` measures an
implicit run (distributed conjugate gradients) instead.

    python benchmarks/fd_ranks.py [--ranks 1,2] [--n 256] [--steps 200] [--scheme rk4]

On a machine with fewer free cores than R the processes share cores and the
ratio measures the halo exchange and the sharing, not a speed-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

HEAT = """
problem heat "2D heat, Dirichlet and Neumann sides"
space x, y
time t in [0, {T}]
domain box(x: [0, 1], y: [0, 1])
field u
equation dt(u) = 0.01*lap(u)
boundary left, right: u = 0
boundary bottom, top: dn(u) = 0
initial u = sin(pi*x)*cos(pi*y)
"""

WORKER = """
import json, resource, sys, time, torch
torch.set_num_threads(1)
import symop
from symop.training import distributed
info = distributed("cpu")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
path, n, dt, scheme, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
symop.solve(path, method="fd", processes=info, n=n, dt=dt, scheme=scheme, compile=False, save=0)  # warm
start = time.perf_counter()
sol = symop.solve(path, method="fd", processes=info, n=n, dt=dt, scheme=scheme, compile=False, save=0)
wall = time.perf_counter() - start
peak = torch.tensor([base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024], dtype=torch.float64)
if info.is_distributed:  # every rank's peak resident set, in MiB
    import torch.distributed as dist
    every = [torch.zeros_like(peak) for _ in range(info.world)]
    dist.all_gather(every, peak)
    peak = torch.stack(every)
else:
    peak = peak.reshape(1, 2)
if info.is_main:
    torch.save({"u": torch.as_tensor(sol.fields["u"]), "wall": wall, "steps": sol.info["steps"],
                "blocks": sol.info.get("layout", {}).get("blocks", "1"), "memory": peak}, out)
"""


def free_port() -> int:
    """A TCP port nobody listens on now (the rendezvous of torchrun)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(ranks: int, path: Path, n: int, dt: float, scheme: str, out: Path, worker: Path) -> dict:
    """One solve on ``ranks`` processes (plain python for 1); rank 0's result."""
    import torch

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    head = [sys.executable] if ranks == 1 else [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                                               str(ranks), "--master_port", str(free_port())]
    proc = subprocess.run(head + [str(worker), str(path), str(n), str(dt), scheme, str(out)], env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return torch.load(out, weights_only=True)


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", default="1,2", help="process counts, comma separated")
    ap.add_argument("--n", type=int, default=256, help="cells per axis")
    ap.add_argument("--steps", type=int, default=200, help="S: the runs take S and 2S steps")
    ap.add_argument("--scheme", default="rk4",
                    help="the time scheme (rk4: bit-equal; an implicit one: within the Krylov tolerance)")
    args = ap.parse_args()
    ranks = [int(r) for r in args.ranks.split(",")]
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}; load average {open('/proc/loadavg').read().split()[:3]}")
    print(f"command: python benchmarks/fd_ranks.py --ranks {args.ranks} --n {args.n} --steps {args.steps} "
          f"--scheme {args.scheme}")
    dt = 1e-5
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        worker = tmp / "worker.py"
        worker.write_text(WORKER)
        files = {}
        for k in (1, 2):
            files[k] = tmp / f"heat{k}.pde"
            files[k].write_text(HEAT.format(T=repr(k * args.steps * dt)))
        rows, base, reference = [], None, None
        exact = args.scheme in ("rk4", "ssprk3", "euler", "heun")
        for r in ranks:
            short = run(r, files[1], args.n, dt, args.scheme, tmp / "a.pt", worker)
            long = run(r, files[2], args.n, dt, args.scheme, tmp / "b.pt", worker)
            per = (long["wall"] - short["wall"]) / (long["steps"] - short["steps"])
            if reference is None:
                reference = long["u"]
            base = base or per
            gap = float((long["u"] - reference).abs().max() / reference.abs().max())
            # an implicit run: each step a distributed CG to a relative residual of 1e-12 in the 2-norm against one
            # process's direct solve; the max-norm error of a step is then at most 1e-12 * sqrt(nodes) of max|u|
            bound = 1e-12 * float(long["u"].numel()) ** 0.5 * long["steps"]
            same = torch.equal(long["u"], reference) if exact else gap <= bound
            memory = long["memory"]
            rows.append((r, long["blocks"], per, per / base, same, gap, float(memory[:, 0].max()),
                         float(memory[:, 1].max()), float(memory[0, 1])))
    print(f"\n{args.n + 1}² nodes, {args.scheme}, float64, eager; time per step from {args.steps} and "
          f"{2 * args.steps} steps; peak resident set per process in MiB (after import; at the end: the largest "
          "rank, rank 0)")
    print(f"{'ranks':>5} {'blocks':>7} {'ms/step':>9} {'ratio':>6} {'import':>7} {'peak':>7} {'rank 0':>7} "
          f"{'max|du|/max|u|':>14}  {'bit-equal to' if exact else 'within 1e-12 sqrt(nodes) steps of'} 1 rank")
    for r, blocks, per, ratio, same, gap, imported, peak, main in rows:
        shown = f"{per * 1e3:9.2f}" if per > 0 else " unreliable"
        print(f"{r:>5} {blocks:>7} {shown} {ratio:6.2f} {imported:7.0f} {peak:7.0f} {main:7.0f} {gap:14.1e}  "
              f"{'yes' if same else 'NO'}")
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
    if not all(row[4] for row in rows):
        raise SystemExit("a split run differs from the one-process run")


if __name__ == "__main__":
    main()
