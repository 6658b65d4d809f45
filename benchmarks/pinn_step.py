"""Cost of one PINN training step as the dimension grows: Sine–Gordon on the unit ball (the STDE paper's problem).

    python benchmarks/pinn_step.py [--dims 100 1000 10000] [--profile] [--rows 12]

One step is what ``symop run`` repeats: fresh collocation points, the STDE loss
(``lap(u) + sin(u) - f`` with 16 sparse directions, a hard ball constraint),
``backward()`` and an Adam update, on ``examples/highdim/sine_gordon_ball_<d>.pde``
(width 128, depth 4, 100 points, float32).  Process CPU time on one thread, the best
of 4 runs of 10 steps after 3 warm-up steps; ratios against the first d.

``--profile`` adds, per d, the operators that take the most CPU time in 5 steps
(``torch.profiler``), grouped by input shape: which of them grow with d shows what
scales beyond the first layer (a ``(width, d)`` matrix and its Adam state) and the
source term (``(points, d)`` elementwise work).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def pinn_step(d: int):
    """``step(k)``: one training step of the d-dimensional example, and the problem's source text."""
    import symop
    from symop.nn import objective

    problem = symop.load(ROOT / "examples" / "highdim" / f"sine_gordon_ball_{d}.pde")
    program = symop.lower(problem, "pinn")
    loss = program._loss("cpu")
    model = program.network(loss).to(dtype=loss.dtype)
    batch, value = objective(model, loss)
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step(k: int) -> None:
        opt.zero_grad()
        total, _ = value(batch(k))
        total.backward()
        opt.step()

    return step, program.source


def timed(step, reps: int = 4, count: int = 10) -> float:
    """CPU seconds per step: the best of ``reps`` runs of ``count`` steps after 3 warm-up steps."""
    for k in range(3):
        step(k)
    best = float("inf")
    for r in range(reps):
        start = time.process_time()
        for k in range(count):
            step(3 + r * count + k)
        best = min(best, (time.process_time() - start) / count)
    return best


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--profile", action="store_true", help="the operators that take the most time, per d")
    ap.add_argument("--rows", type=int, default=12)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, CPU time; load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    base = None
    for d in args.dims:
        step, _ = pinn_step(d)
        per = timed(step)
        base = base or per
        print(f"d = {d:>6}: {per * 1e3:7.1f} ms per training step ({per / base:.2f}x d = {args.dims[0]})", flush=True)
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                for k in range(5):
                    step(100 + k)
            print(prof.key_averages(group_by_input_shape=True).table(
                sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=28,
                max_shapes_column_width=56))
    print("load average after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
