"""How small an error the 100-dimensional Poisson ball allows: fits of the exact solution itself.

    python benchmarks/ball_floor.py [--budget S] [--widths 32x2,128x2]

``examples/highdim/poisson_ball.pde`` has u = (1 - |x|^2) g with
g = sum_i sin(x_i + cos(x_{i+1}) + x_{i+1} cos(x_i)).  Uniform points of the 100-ball lie in a
thin shell (|x| > 0.97 for 95% of them) with |x_i| ~ 0.1, where
g ~ 99 sin 1 + cos 1 * (linear) - sin 1 * (sum_i x_i x_{i+1}) + ...: the coupling of neighbouring
coordinates is a quadratic form of rank 100 whose share of u is about 1e-3 in relative L2.

This script measures, on 5000 held-out points, the relative L2 error of

1. least-squares fits of u by (1 - |x|^2) times the span of a few feature sets (the best any model
   in that span can do), and
2. the networks pinn trains (symop's tanh MLP, Xavier start, u = (1 - |x|^2) * 100 * N(x) as
   ``hard: true, output_scale: 100`` builds it), fitted to u's exact values rather than to the PDE:
   L-BFGS on 20000 fixed points and Adam on 1000 fresh points a step, each for ``--budget`` CPU
   seconds on one thread.

A physics-informed fit sees u only through its Laplacian on the sampled points, so (2) is a
generous bound on what the same networks reach in the same time when trained on the equation.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from machine import cpu_model, load_average, torch_on_one_thread  # benchmarks/machine.py: run as python benchmarks/NAME.py

D = 100


def ball_points(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` points uniform in the unit ball of R^D."""
    z = rng.standard_normal((n, D))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return z * rng.random(n)[:, None] ** (1 / D)


def exact(x: np.ndarray) -> np.ndarray:
    """The example's exact solution (1 - |x|^2) sum_i sin(x_i + cos(x_{i+1}) + x_{i+1} cos(x_i))."""
    a, b = x[:, :-1], x[:, 1:]
    return (1 - (x ** 2).sum(1)) * np.sin(a + np.cos(b) + b * np.cos(a)).sum(1)


def features(x: np.ndarray, kind: str) -> np.ndarray:
    """Feature columns of a span: constant, linear, |x|^2, the neighbour products, the squares."""
    one = np.ones((len(x), 1))
    cols = {"const": [one], "linear": [one, x], "linear+r2": [one, x, (x ** 2).sum(1, keepdims=True)],
            "linear+r2+coupling": [one, x, (x ** 2).sum(1, keepdims=True),
                                   (x[:, :-1] * x[:, 1:]).sum(1, keepdims=True)],
            "quadratic (squares, neighbour products)": [one, x, x ** 2, x[:, :-1] * x[:, 1:]]}[kind]
    return np.concatenate(cols, axis=1)


def rel(u: np.ndarray, ref: np.ndarray) -> float:
    """Relative L2 error."""
    return float(np.linalg.norm(u - ref) / np.linalg.norm(ref))


def least_squares(X: np.ndarray, Y: np.ndarray, Xt: np.ndarray, Yt: np.ndarray) -> None:
    print("1. least squares, u ~ (1 - |x|^2) * span(features), 20000 points; held-out relative L2:")
    wx, wt = 1 - (X ** 2).sum(1), 1 - (Xt ** 2).sum(1)
    for kind in ("const", "linear", "linear+r2", "linear+r2+coupling", "quadratic (squares, neighbour products)"):
        A = features(X, kind) * wx[:, None]
        c, *_ = np.linalg.lstsq(A, Y, rcond=None)
        print(f"   {kind:42s} {A.shape[1]:5d} columns   {rel(features(Xt, kind) @ c * wt, Yt):.2e}")


def network(width: int, depth: int):
    """pinn's network on the ball with ``hard: true, output_scale: 100``, as a function of x."""
    from symop.nn import MLP

    net = MLP(D, 1, width=width, depth=depth).double()
    return net, lambda x: (1 - (x ** 2).sum(1)) * 100 * net(x)[:, 0]


def supervised(width: int, depth: int, X, Y, Xt, Yt, budget: float, rng: np.random.Generator) -> None:
    import torch

    torch.manual_seed(0)
    net, u = network(width, depth)
    lbfgs = torch.optim.LBFGS(net.parameters(), lr=1, max_iter=20, history_size=50,
                              line_search_fn="strong_wolfe", tolerance_grad=0, tolerance_change=0)
    Xa, Ya, Xta, Yta = (torch.as_tensor(v) for v in (X, Y, Xt, Yt))

    def held_out() -> float:
        with torch.no_grad():
            return float((u(Xta) - Yta).norm() / Yta.norm())

    def closure():
        lbfgs.zero_grad()
        loss = ((u(Xa) - Ya) ** 2).mean()
        loss.backward()
        return loss

    start, seen = time.process_time(), []
    while time.process_time() - start < budget:
        lbfgs.step(closure)
        seen.append(held_out())
    print(f"   {width}x{depth} L-BFGS, 20000 fixed points: {seen[-1]:.2e} after {time.process_time() - start:.0f} s "
          f"(best seen {min(seen):.2e}, {len(seen) * 20} iterations)")

    torch.manual_seed(0)
    net, u = network(width, depth)
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    start, steps, seen = time.process_time(), 0, []
    while (spent := time.process_time() - start) < budget:
        for group in adam.param_groups:  # decay to 1e-6 over the budget
            group["lr"] = 1e-3 * 1e-3 ** (spent / budget)
        x = ball_points(rng, 1000)
        xb, yb = torch.as_tensor(x), torch.as_tensor(exact(x))
        adam.zero_grad()
        ((u(xb) - yb) ** 2).mean().backward()
        adam.step()
        steps += 1
        if steps % 500 == 0:
            seen.append(held_out())
    seen.append(held_out())
    print(f"   {width}x{depth} Adam, 1000 fresh points a step: {seen[-1]:.2e} after {budget:.0f} s "
          f"(best seen {min(seen):.2e}, {steps} steps)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="CPU seconds per network fit (default 120)")
    parser.add_argument("--widths", default="32x2,128x2", help="networks WIDTHxDEPTH, comma-separated")
    args = parser.parse_args()
    torch = torch_on_one_thread()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} (1 thread); "
          f"load average {load_average()}")
    rng = np.random.default_rng(0)
    X, Xt = ball_points(rng, 20000), ball_points(rng, 5000)
    Y, Yt = exact(X), exact(Xt)
    coupling = np.sin(1) * (1 - (Xt ** 2).sum(1)) * (Xt[:, :-1] * Xt[:, 1:]).sum(1)
    print(f"held-out points with |x| > 0.97: {np.mean(np.linalg.norm(Xt, axis=1) > 0.97):.0%}; share of the "
          f"neighbour coupling -sin(1) (1 - |x|^2) sum_i x_i x_(i+1) in u: {np.linalg.norm(coupling) / np.linalg.norm(Yt):.2e}")
    least_squares(X, Y, Xt, Yt)
    print(f"2. the networks fitted to u's values, {args.budget:.0f} CPU-s each, held-out relative L2:")
    for spec in args.widths.split(","):
        width, depth = (int(v) for v in spec.split("x"))
        supervised(width, depth, X, Y, Xt, Yt, args.budget, rng)
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
