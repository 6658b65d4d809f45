"""Cost of the Laplacian of an MLP in d dimensions: STDE jets vs exact autograd, nested jvp and jet-for-pytorch.

    python benchmarks/stde.py [--dims 10 100 1024 10000] [--device cpu|cuda] [--jet-python PATH]

Network: MLP width 128, depth 4, tanh; 256 points; 16 random directions.
Every method is timed twice (``--modes``): ``eval``, the Laplacian at all points without a graph for training
(exact autograd keeps the graph it needs for its d backward passes); and ``train``, a training step: the
Laplacian with the network's parameters requiring gradients, then ``(lap**2).mean().backward()``, which is what
a PINN step pays.  Methods (float32):

* ``stde-sparse``: our Taylor-mode 2-jets along 16 directions sqrt(d)·e_i (column gather in layer 1);
* ``stde-dense``: our Taylor-mode 2-jets along 16 Rademacher directions;
* ``jet``: ``jet-for-pytorch`` collapsed Taylor mode (``jet.jet(f, collapsed=True)``, the engine of its
  ``laplacian(..., randomization=("rademacher", 16))``) fed the *same* 16 Rademacher directions and points as
  ``stde-dense`` (the values agree to rounding; the run checks it);
* ``jet-sparse``: the same, fed the sqrt(d)·e_i directions of ``stde-sparse`` (as dense tensors: its API has no
  sparse tangents);
* ``autograd``: exact, one gradient then d backward passes (Hessian diagonal), ``create_graph=True``
  as in training;
* ``jvp``: exact, nested ``torch.func.jvp`` (forward-over-forward) 2-jets along all d basis
  vectors, vmapped in chunks of at most 256 directions (fewer at large d, to bound memory).

``jet-for-pytorch`` needs Python >= 3.12: give an interpreter that has it with ``--jet-python``
(e.g. a venv with ``pip install torch==2.13.0 jet-for-pytorch sympy lark pluggy rich numpy scipy``: the
rows import symop from this repository); the ``jet`` rows run in a subprocess under it
and are skipped, with a note, when it is missing.

Exact methods whose cost would exceed ``--budget`` seconds are timed on a prefix of the d directions and
extrapolated linearly (marked ``~``); their memory is extrapolated linearly from two prefixes (the graph kept
by ``create_graph`` grows with every direction).  Times are wall times, the best of ``--reps`` runs (1 for
exact); the process CPU time of the same runs (all ``--threads`` together) is kept too, and the target lines
give the ratios by both clocks (on a shared machine with more than one thread, wall time measures the
scheduler as well; CPU time hides a speed-up from threads and counts workers that spin-wait).
Peak memory: on CPU the process peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` after the warm-up;
``ru_maxrss`` where that is not possible) above the resident size after building the network and points *and*
warming the library up by one call on the same points (so that one-off allocations, such as loading kernels or
tracing a jet, do not count), measured in a fresh subprocess with ``MALLOC_MMAP_THRESHOLD_=65536`` (large
blocks go back to the system when freed, so the warm-up's memory does not stay resident and hide the timed run's).
The times come from another fresh subprocess with the environment as given: with that allocator setting every
large temporary faults its pages in again, which more than doubled STDE's training step at d = 1024 (21.5 against
48 ms, one thread) and is not what a user pays.  On CUDA ``torch.cuda.max_memory_allocated``
above the same baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import torch

from machine import cpu_model, load_average  # benchmarks/machine.py: run as python benchmarks/NAME.py

# the repository's symop and plugins, also under an interpreter that has only torch and jet-for-pytorch (--jet-python)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "plugins")]

WIDTH, DEPTH, POINTS, SAMPLES, CHUNK = 128, 4, 256, 16, 256
# glibc keeps freed memory resident once its mmap threshold has adapted upwards, which would hide the timed run's
# allocations behind the warm-up's; a fixed threshold returns every large tensor to the system when freed.
ENV = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
METHODS = ("stde-sparse", "stde-dense", "jet", "jet-sparse", "autograd", "jvp")


def _status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset the process high-water mark (Linux ``clear_refs`` 5); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _resident_mb() -> float:
    rss = _status_mb("VmRSS")
    return rss if rss is not None else _peak_mb()


def laplacian_fn(method: str, net, d: int, device: str):
    """``run(x, generator, limit)`` computing the Laplacian at ``x`` with ``method``."""
    from symop.nn import stde

    if method in ("stde-sparse", "stde-dense"):
        kind = method.split("-")[1]
        return lambda x, g, limit=None: stde.laplacian(net, x, d, SAMPLES, kind, g)[:, 0]
    if method in ("jet", "jet-sparse"):
        from jet import jet

        layers = []
        for layer in net.hidden:
            layers += [layer, torch.nn.Tanh()]
        seq = torch.nn.Sequential(*layers, net.last)
        cache = {}

        def run(x, g, limit=None):
            if x.shape not in cache:  # tracing is a one-off, done in the warm-up
                cache[x.shape] = jet(seq, (x,), collapsed=True)
            dirs = stde.laplacian_tangents(d, SAMPLES, "dense" if method == "jet" else "sparse", g, x.dtype, x.device)
            if isinstance(dirs, tuple):
                index, scale = dirs
                V = torch.zeros(SAMPLES, d, dtype=x.dtype, device=x.device)
                V[torch.arange(SAMPLES, device=x.device), index] = scale
            else:
                V = dirs
            X1 = V[:, None, :].expand(SAMPLES, x.shape[0], d)
            _, _, F2 = cache[x.shape]((x, X1, torch.zeros_like(x)))
            return F2[:, 0] / SAMPLES

        return run
    if method == "autograd":
        def run(x, g, limit=None):
            m = d if limit is None else min(limit, d)
            X = x.clone().requires_grad_(True)
            u = net(X)[:, 0]
            (grad,) = torch.autograd.grad(u.sum(), X, create_graph=True)
            lap = torch.zeros(x.shape[0], device=x.device)
            for i in range(m):
                (h,) = torch.autograd.grad(grad[:, i].sum(), X, retain_graph=True, create_graph=True)
                lap = lap + h[:, i]
            return lap

        return run
    if method == "jvp":
        from torch.func import jvp, vmap

        f = lambda p: net(p)[:, 0]  # noqa: E731

        def run(x, g, limit=None):
            m = d if limit is None else min(limit, d)

            def second(v):
                return jvp(lambda p: jvp(f, (p,), (v,))[1], (x,), (v,))[1]

            lap = torch.zeros(x.shape[0], device=x.device)
            chunk = max(8, min(CHUNK, 2**25 // (x.shape[0] * d)))  # at most ~128 MiB of basis vectors at once
            for start in range(0, m, chunk):
                idx = torch.arange(start, min(start + chunk, m), device=x.device)
                V = torch.zeros(len(idx), x.shape[0], d, device=x.device)
                V[torch.arange(len(idx)), :, idx] = 1.0
                lap = lap + vmap(second)(V).sum(0)
            return lap

        return run
    raise ValueError(method)


def measure(method: str, d: int, device: str, budget: float, reps: int, threads: int = 1,
            mode: str = "eval") -> dict:
    """One method at one d: time and peak memory of the Laplacian (``eval``) or of a training step (``train``)."""
    from symop.nn import MLP

    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = MLP(d, 1, WIDTH, DEPTH, "tanh").to(device)
    train = mode == "train"
    for p in net.parameters():
        # eval: the jets need no parameter graph, autograd keeps its own; train: every method differentiates
        p.requires_grad_(train or method == "autograd")
    x = torch.randn(POINTS, d, device=device) / math.sqrt(d)
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    lap = laplacian_fn(method, net, d, device)
    exact = method in ("autograd", "jvp")
    grad_ctx = torch.enable_grad if method == "autograd" or train else torch.no_grad

    def run(x, g, limit=None):
        out = lap(x, g, limit)
        if train:  # the training step: a loss of the Laplacian, back through the network's parameters
            for p in net.parameters():
                p.grad = None
            out.pow(2).mean().backward()
        return out.detach()

    with grad_ctx():
        # warm the library up (kernels, jet tracing) with one call on the same points (2 directions for the exact
        # methods), then reset the high-water mark and take the baseline
        run(x, torch.Generator(device=device).manual_seed(1), limit=2)
        sync()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            reset_peak()
            base = _resident_mb()

        def peak() -> float:
            return (torch.cuda.max_memory_allocated() - base) / 2**20 if cuda else _peak_mb() - base

        limit, mems = None, []
        if exact:
            probe = min(d, 32)
            t0 = time.perf_counter(); run(x, None, probe); sync()
            per = (time.perf_counter() - t0) / probe
            mems.append((probe, peak()))
            if per * d > budget:
                limit = max(2 * probe, int(budget / per))
                limit = min(limit, d)
        times, cpu_times = [], []
        out = None
        for _ in range(1 if exact else reps):
            g = torch.Generator(device=device).manual_seed(0)
            t0, c0 = time.perf_counter(), time.process_time()
            out = run(x, g, limit)
            sync()
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
        elapsed, elapsed_cpu = min(times), min(cpu_times)
        mem = peak()
        extrap = False
        if limit is not None and limit < d:
            elapsed *= d / limit
            elapsed_cpu *= d / limit
            (m1, p1), (m2, p2) = mems[0], (limit, mem)
            mem = p1 + (p2 - p1) * (d - m1) / max(m2 - m1, 1)
            extrap = True
    row = {"method": method, "d": d, "mode": mode, "time_s": elapsed, "cpu_s": elapsed_cpu, "peak_mb": mem,
           "extrapolated": extrap,
           "directions": SAMPLES if not exact else d, "value_checksum": float(out.double().abs().mean())}
    if method in ("jet", "jet-sparse"):  # same points, same directions: compare with our jets
        from symop.nn import stde

        with torch.no_grad():
            ours = stde.laplacian(net, x, d, SAMPLES, "dense" if method == "jet" else "sparse",
                                  torch.Generator(device=device).manual_seed(0))[:, 0]
        row["max_rel_diff_vs_stde"] = float((out - ours).abs().max() / ours.abs().max())
    return row


def machine(device: str) -> str:
    text = f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}; torch {torch.__version__}"
    if device.startswith("cuda"):
        text += f"; GPU {torch.cuda.get_device_name()}"
    return text


def jet_interpreter(path: str | None) -> tuple[str | None, str]:
    """The interpreter that runs the ``jet`` rows, or ``None`` and why not."""
    candidates = [path] if path else [sys.executable]
    for exe in candidates:
        res = subprocess.run([exe, "-c", "import jet, torch; print(torch.__version__)"], capture_output=True, text=True)
        if res.returncode == 0:
            return exe, f"jet-for-pytorch under {exe} (torch {res.stdout.strip()})"
    if path:
        return None, f"note: `{path}` cannot import jet-for-pytorch; the jet rows are skipped."
    return None, ("note: jet-for-pytorch is not importable here (it needs Python >= 3.12); the jet rows are "
                  "skipped. Give an interpreter that has it with --jet-python PATH.")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else ""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[10, 100, 1024, 10000])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per exact measurement before extrapolating")
    ap.add_argument("--reps", type=int, default=5, help="runs per stochastic measurement (the best counts)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per measurement (1: fair on a shared machine; 0: torch's default)")
    ap.add_argument("--jet-python", default=None, help="Python (>= 3.12) with jet-for-pytorch for the jet rows")
    ap.add_argument("--modes", nargs="+", default=["eval", "train"], choices=("eval", "train"),
                    help="eval: the Laplacian alone; train: a training step (the Laplacian, a loss, backward)")
    ap.add_argument("--one", nargs=3, metavar=("METHOD", "D", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.device, args.budget, args.reps, args.threads,
                                 args.one[2])))
        return
    methods = list(args.methods)
    jet_exe, jet_note = (None, "")
    if any(m.startswith("jet") for m in methods):
        jet_exe, jet_note = jet_interpreter(args.jet_python)
        print(jet_note, file=sys.stderr, flush=True)
        if jet_exe is None:
            methods = [m for m in methods if not m.startswith("jet")]
    load_before = load_average()
    rows = []
    for d in args.dims:
        for m in methods:
            for mode in args.modes:
                exe = jet_exe if m.startswith("jet") else sys.executable

                def one(env: dict, reps: int) -> subprocess.CompletedProcess:
                    cmd = [exe, os.path.abspath(__file__), "--one", m, str(d), mode, "--device", args.device,
                           "--budget", str(args.budget), "--reps", str(reps), "--threads", str(args.threads)]
                    return subprocess.run(cmd, capture_output=True, text=True, env=env)

                # time with the allocator a user has; on the CPU the memory in a second process with ENV's
                # allocator (see the module docstring), which would slow the timed runs down
                res = one(dict(os.environ), args.reps)
                if res.returncode == 0 and not args.device.startswith("cuda"):
                    held = res
                    res = one(ENV, 1)
                    if res.returncode == 0:
                        row = json.loads(held.stdout.strip().splitlines()[-1])
                        row["peak_mb"] = json.loads(res.stdout.strip().splitlines()[-1])["peak_mb"]
                if res.returncode != 0:
                    lines = res.stderr.strip().splitlines() or ["no output"]
                    rows.append({"method": m, "d": d, "mode": mode, "error": lines[-1][:80]})
                else:
                    rows.append(row if not args.device.startswith("cuda") else
                                json.loads(res.stdout.strip().splitlines()[-1]))
                print(rows[-1], file=sys.stderr, flush=True)
    mem = "CUDA max_memory_allocated" if args.device.startswith("cuda") else "peak RSS above the warmed-up resident size"
    print(f"Machine: {machine(args.device)}; device {args.device}; load average {load_before} before, "
          f"{load_average()} after.")
    if jet_note:
        print(jet_note)
    print(f"MLP width {WIDTH} depth {DEPTH} tanh, {POINTS} points, {SAMPLES} directions, float32; "
          f"{args.threads or torch.get_num_threads()} torch thread(s) per measurement; best of {args.reps} "
          f"runs. Memory: {mem}. `~`: exact method extrapolated from a prefix of the d directions. "
          "eval: the Laplacian, no gradient for training (autograd keeps its own graph); "
          "train: the Laplacian, (lap^2).mean() and backward() through the parameters.\n")
    modes = list(args.modes)
    head = " | ".join(f"{m} time (s) | {m} peak mem (MiB) | {m} time / stde-sparse {m}" for m in modes)
    print(f"| d | method | {head} | check |")
    print("|---:|---|" + "---:|---:|---:|" * len(modes) + "---|")

    def find(d, method, mode):
        return next((r for r in rows if r["d"] == d and r["method"] == method and r.get("mode") == mode
                     and "error" not in r), None)

    for d in args.dims:
        for m in methods:
            cells, check = [], ""
            for mode in modes:
                r = next((r for r in rows if r["d"] == d and r["method"] == m and r.get("mode") == mode), None)
                if r is None or "error" in r:
                    cells.append(f"failed: {r['error'] if r else 'not run'} | | ")
                    continue
                ref = find(d, "stde-sparse", mode)
                mark = "~" if r["extrapolated"] else ""
                tr = ratio(r["time_s"], ref["time_s"]) if ref else ""
                cells.append(f"{mark}{r['time_s']:.4f} | {mark}{r['peak_mb']:.1f} | {tr}")
                if "max_rel_diff_vs_stde" in r:
                    check = f"rel diff {r['max_rel_diff_vs_stde']:.1e} vs stde"
            print(f"| {d} | {m} | " + " | ".join(cells) + f" | {check} |")
    print("\nTargets (exact autograd / stde-sparse: time >= 300x at d = 1024 for a training step, "
          ">= 1000x at d = 10000, memory >= 30x; stde-sparse no slower than jet):")
    for d in args.dims:
        parts = []
        for mode in modes:
            ref = find(d, "stde-sparse", mode)
            if ref is None:
                continue
            a = find(d, "autograd", mode)
            if a is not None:
                parts.append(f"{mode}: autograd {ratio(a['time_s'], ref['time_s'])} time "
                             f"({ratio(a['cpu_s'], ref['cpu_s'])} by CPU time: "
                             f"{a['cpu_s']:.4g} s / {ref['cpu_s']:.4g} s), "
                             f"{ratio(a['peak_mb'], max(ref['peak_mb'], 1.0))} memory")
            for j in ("jet", "jet-sparse"):
                r = find(d, j, mode)
                if r is not None:
                    parts.append(f"{mode}: {j} {ratio(r['time_s'], ref['time_s'])} time")
        if parts:
            print(f"- d = {d}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
