"""Cost of one PINN training step as the dimension grows: Sine–Gordon on the unit ball (the STDE paper's problem).

    python benchmarks/pinn_step.py [--dims 100 1000 10000] [--threads N] [--as-set] [--profile] [--rows 12]

One step is what ``symop run`` repeats: fresh collocation points, the STDE loss
(``lap(u) + sin(u) - f`` with 16 sparse directions, a hard ball constraint),
``backward()`` and an Adam update (symop's: ``make_optimizer("adam", ...)``), on
``examples/highdim/sine_gordon_ball_<d>.pde`` (width 128, depth 4, 100 points,
float32).  Process CPU time (all threads together) with ``--threads`` torch intra-op
threads (default 1; 0: torch's own default), the best of 4 runs of 10 steps after 3
warm-up steps; ratios against the first d.  The wall time of the same runs is printed
beside it (the best run by wall time on its own): with more than one thread CPU time
hides a speed-up and counts workers that spin-wait.  The steps run on the threads
``symop run`` trains with (pinn's rule, ``symop_pinn.train.training_threads``: one
intra-op thread on the CPU for steps as small as these); ``--as-set`` keeps the
``--threads`` count instead.

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
    """``step(k)``: one training step of the d-dimensional example, the problem's source text, and the
    intra-op thread count ``symop run`` trains it with (None: torch's setting)."""
    import symop
    from symop.nn import objective
    from symop.training import OptimizerSetup, make_optimizer
    from symop_pinn.train import training_threads

    problem = symop.load(ROOT / "examples" / "highdim" / f"sine_gordon_ball_{d}.pde")
    program = symop.lower(problem, "pinn")
    loss = program._loss("cpu")
    model = program.network(loss).to(dtype=loss.dtype)
    batch, value = objective(model, loss)
    opt = make_optimizer("adam", OptimizerSetup(list(model.parameters()), 1e-3))  # the Adam `symop run` makes

    def step(k: int) -> None:
        opt.zero_grad()
        total, _ = value(batch(k))
        total.backward()
        opt.step()

    o = program.options
    return step, program.source, training_threads(o["points"], o["width"], loss.dim, "cpu")


def timed(step, reps: int = 4, count: int = 10) -> tuple[float, float]:
    """(CPU, wall) seconds per step: the best of ``reps`` runs of ``count`` steps after 3 warm-up steps, each
    clock's best on its own."""
    for k in range(3):
        step(k)
    cpu = wall = float("inf")
    for r in range(reps):
        c0, w0 = time.process_time(), time.perf_counter()
        for k in range(count):
            step(3 + r * count + k)
        cpu = min(cpu, (time.process_time() - c0) / count)
        wall = min(wall, (time.perf_counter() - w0) / count)
    return cpu, wall


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--profile", action="store_true", help="the operators that take the most time, per d")
    ap.add_argument("--rows", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--as-set", action="store_true", help="time on --threads, not on the threads pinn trains with")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    n = torch.get_num_threads()
    print(f"torch {torch.__version__}, {n} thread{'s' if n > 1 else ''}, CPU time (wall time beside it); "
          f"load average " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    from symop.threads import intra_op_threads

    base = None
    for d in args.dims:
        step, _, threads = pinn_step(d)
        if args.as_set:
            threads = None
        with intra_op_threads(threads):
            per, wall = timed(step)
        base = base or (per, wall)
        used = f"{threads or n} thread{'s' if (threads or n) > 1 else ''}, " + ("as set" if threads is None else
                                                                                 "pinn's rule")
        print(f"d = {d:>6}: {per * 1e3:7.1f} ms per training step ({per / base[0]:.2f}x d = {args.dims[0]}); "
              f"wall {wall * 1e3:7.1f} ms ({wall / base[1]:.2f}x); {used}", flush=True)
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
