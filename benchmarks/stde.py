"""Cost of the Laplacian of an MLP in d dimensions: STDE jets vs exact autograd vs nested jvp.

    python benchmarks/stde.py [--dims 10 100 1000 10000] [--device cpu|cuda] [--markdown]

Network: MLP width 128, depth 4, tanh; 256 points; STDE with 16 directions.
Methods (each evaluates the Laplacian value at all points, float32):

* ``stde-sparse``: Taylor-mode 2-jets along 16 directions sqrt(d)·e_i (column gather in layer 1);
* ``stde-dense``: Taylor-mode 2-jets along 16 Rademacher directions;
* ``autograd``: exact, one gradient then d backward passes (Hessian diagonal), ``create_graph=True``
  as in training;
* ``jvp``: exact, nested ``torch.func.jvp`` (forward-over-forward) 2-jets along all d basis
  vectors, vmapped in chunks of 256 directions.

Exact methods whose cost would exceed ``--budget`` seconds are timed on a prefix of the d
directions and extrapolated linearly (marked ``~``); their memory is then that of the prefix.
Peak memory: on CPU the increase of the process peak RSS (``resource.getrusage`` ru_maxrss) over
the level after building the network and the points, each measurement in a fresh subprocess;
on CUDA ``torch.cuda.max_memory_allocated`` above the same baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plugins"))

WIDTH, DEPTH, POINTS, SAMPLES, CHUNK = 128, 4, 256, 16, 256


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(method: str, d: int, device: str, budget: float) -> dict:
    from symop_pinn import stde
    from symop_pinn.network import MLP

    torch.manual_seed(0)
    net = MLP(d, 1, WIDTH, DEPTH, "tanh").to(device)
    x = (torch.randn(POINTS, d, device=device) / math.sqrt(d))
    g = torch.Generator(device=device).manual_seed(0)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run(limit: int | None = None):
        if method == "stde-sparse":
            return stde.laplacian(net, x, d, SAMPLES, "sparse", g)
        if method == "stde-dense":
            return stde.laplacian(net, x, d, SAMPLES, "dense", g)
        m = d if limit is None else min(limit, d)
        if method == "autograd":
            X = x.clone().requires_grad_(True)
            u = net(X)[:, 0]
            (grad,) = torch.autograd.grad(u.sum(), X, create_graph=True)
            lap = torch.zeros(POINTS, device=device)
            for i in range(m):
                (h,) = torch.autograd.grad(grad[:, i].sum(), X, retain_graph=True, create_graph=True)
                lap = lap + h[:, i]
            return lap
        if method == "jvp":
            from torch.func import jvp, vmap

            f = lambda p: net(p)[:, 0]  # noqa: E731

            def second(v):
                return jvp(lambda p: jvp(f, (p,), (v,))[1], (x,), (v,))[1]

            lap = torch.zeros(POINTS, device=device)
            for start in range(0, m, CHUNK):
                idx = torch.arange(start, min(start + CHUNK, m), device=device)
                V = torch.zeros(len(idx), POINTS, d, device=device)
                V[torch.arange(len(idx)), :, idx] = 1.0
                lap = lap + vmap(second)(V).sum(0)
            return lap
        raise ValueError(method)

    # warm-up on a prefix, estimate, then measure
    sync()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_mb()
    limit = None
    if method in ("autograd", "jvp"):
        probe = min(d, CHUNK if method == "jvp" else 32)
        t0 = time.perf_counter(); run(probe); sync()
        per = (time.perf_counter() - t0) / probe
        if per * d > budget:
            limit = max(probe, int(budget / per))
    else:
        run(); sync()
    reps = 3 if method.startswith("stde") else 1
    t0 = time.perf_counter()
    for _ in range(reps):
        out = run(limit)
        sync()
    elapsed = (time.perf_counter() - t0) / reps
    extrap = False
    if limit is not None and limit < d:
        elapsed *= d / limit
        extrap = True
    if device.startswith("cuda"):
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = _rss_mb() - base
    del out
    return {"method": method, "d": d, "time_s": elapsed, "peak_mb": peak, "extrapolated": extrap,
            "directions": SAMPLES if method.startswith("stde") else d}


def machine(device: str) -> str:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    text = f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}; torch {torch.__version__}, {torch.get_num_threads()} threads"
    if device.startswith("cuda"):
        text += f"; GPU {torch.cuda.get_device_name()}"
    return text


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[10, 100, 1000, 10000])
    ap.add_argument("--methods", nargs="+", default=["stde-sparse", "stde-dense", "autograd", "jvp"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per exact measurement before extrapolating")
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "D"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.device, args.budget)))
        return
    rows = []
    for d in args.dims:
        for m in args.methods:
            cmd = [sys.executable, os.path.abspath(__file__), "--one", m, str(d), "--device", args.device,
                   "--budget", str(args.budget)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                rows.append({"method": m, "d": d, "error": res.stderr.strip().splitlines()[-1][:80]})
            else:
                rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(rows[-1], file=sys.stderr, flush=True)
    mem = "CUDA max_memory_allocated" if args.device.startswith("cuda") else "peak RSS increase (ru_maxrss)"
    print(f"Machine: {machine(args.device)}; device {args.device}.")
    print(f"MLP width {WIDTH} depth {DEPTH} tanh, {POINTS} points, STDE {SAMPLES} directions, float32. "
          f"Memory: {mem}. `~`: extrapolated from a prefix of the d directions.\n")
    print("| d | method | time (s) | peak mem (MiB) | time / stde-sparse | mem / stde-sparse |")
    print("|---:|---|---:|---:|---:|---:|")
    for d in args.dims:
        ref = next((r for r in rows if r["d"] == d and r["method"] == "stde-sparse" and "error" not in r), None)
        for r in (r for r in rows if r["d"] == d):
            if "error" in r:
                print(f"| {d} | {r['method']} | failed: {r['error']} | | | |")
                continue
            mark = "~" if r["extrapolated"] else ""
            tr = f"{r['time_s'] / ref['time_s']:.1f}x" if ref else ""
            mr = f"{r['peak_mb'] / ref['peak_mb']:.1f}x" if ref and ref["peak_mb"] > 0.5 else ""
            print(f"| {d} | {r['method']} | {mark}{r['time_s']:.4f} | {mark}{r['peak_mb']:.1f} | {tr} | {mr} |")


if __name__ == "__main__":
    main()
