"""Tests of symop.codegen: SymPy → PyTorch source, compiled and cached."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from symop.codegen import CodegenError, GeneratedFunction, generate
from symop.errors import SymopError
from symop.model.operators import Laplacian, NormalDerivative, Partial

x, y, t, kappa = sp.symbols("x y t kappa")
X = sp.IndexedBase("x")
i, j = sp.symbols("i j", integer=True)


def _rand(*shape, low=0.1, high=0.9, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(*shape, generator=g, dtype=dtype)


def _check(expr, args=(x, y), low=0.1, high=0.9, n=50):
    fn = generate(expr, list(args))
    values = [_rand(n, low=low, high=high, seed=k) for k in range(len(args))]
    got = fn(*values)
    ref = sp.lambdify(list(args), expr, "numpy")(*[v.numpy() for v in values])
    np.testing.assert_allclose(got.numpy(), np.broadcast_to(ref, got.shape), rtol=1e-12, atol=1e-14)
    return fn


# ------------------------------------------------------------------ functions
@pytest.mark.parametrize(
    "expr",
    [
        sp.sin(x) + sp.cos(y) * sp.tan(x),
        sp.exp(x) - sp.log(y) + sp.sqrt(x * y),
        sp.tanh(x) + sp.sinh(y) / sp.cosh(x),
        sp.asin(x) + sp.acos(y) + sp.atan(x / y),
        x**2 + y**3 - x**-2 + 1 / y + x ** sp.Rational(1, 3) + y**0.5,
        1 / sp.sqrt(x + y) + x**y,
        sp.pi * x + sp.E * y + sp.Rational(2, 3) + sp.sqrt(2) * x,
        -x / 3 - y * sp.Rational(-5, 7),
        sp.exp(-x**2 / (2 * y)),
    ],
)
def test_functions_match_numpy(expr):
    _check(expr)


@pytest.mark.parametrize(
    "expr",
    [
        sp.Abs(x) + sp.sign(y),
        sp.Min(x, y) + sp.Max(x, y, 0.2),
        sp.Min(x, y, sp.Rational(1, 10)) * sp.Max(x, 0),
        sp.Heaviside(x) + sp.Heaviside(y, 0),
        sp.Piecewise((x, x > y), (y**2, True)),
        sp.Piecewise((1, sp.And(x > 0, y < 0)), (2, sp.Or(x < -0.5, y > 0.5)), (x * y, True)),
        sp.Piecewise((sp.sin(x), sp.Eq(x, y) | (x <= -0.2)), (0.25, x >= 0.3), (y, True)),
    ],
)
def test_nonsmooth_and_piecewise(expr):
    _check(expr, low=-1.0, high=1.0)


def test_float32_in_float32_out():
    expr = sp.pi * sp.sin(x) + sp.Rational(1, 3) * y + sp.Piecewise((0.1, x > 0.5), (0.2, True)) + sp.sqrt(2)
    fn = generate({"a": expr, "b": sp.Integer(3)}, [x, y])
    a, b = fn(_rand(10, dtype=torch.float32), _rand(10, dtype=torch.float32, seed=1))
    assert a.dtype == torch.float32 and b.dtype == torch.float32
    fs = generate(sp.Sum(i * X[i] ** 2, (i, 1, 5)), [X])
    assert fs(_rand(4, 5, dtype=torch.float32)).dtype == torch.float32


def test_broadcasting():
    fn = generate(sp.sin(x) * y + x, [x, y])
    xs, ys = _rand(7, 1), _rand(1, 5, seed=1)
    out = fn(xs, ys)
    assert out.shape == (7, 5)
    torch.testing.assert_close(out, torch.sin(xs) * ys + xs)


def test_constant_and_partial_outputs_broadcast():
    fn = generate({"c": sp.pi / 2, "z": sp.Integer(0), "ty": 2 * y}, [x, y])
    xs = _rand(3, 4, dtype=torch.float32)
    c, z, ty = fn(xs, _rand(4, dtype=torch.float32))
    assert c.shape == (3, 4) and c.dtype == torch.float32
    torch.testing.assert_close(c, torch.full((3, 4), float(np.pi / 2)))
    assert torch.all(z == 0) and z.shape == (3, 4)
    assert ty.shape == (4,)
    # single constant output, indexed first argument: one value per point
    fc = generate(sp.Float(1.5), [X, t])
    out = fc(_rand(6, 3), _rand(6))
    assert out.shape == (6,) and torch.all(out == 1.5)


def test_python_numbers_are_converted():
    fn = generate(x * y, [x, y])
    out = fn(_rand(3, dtype=torch.float32), 2.0)
    assert out.dtype == torch.float32


# ---------------------------------------------------------------------- nodes
def test_nodes_default_names_and_values():
    u = sp.Function("u")(x, y, t)
    expr = kappa * (sp.Derivative(u, (x, 2)) + sp.Derivative(u, (y, 2))) + u**2
    fn = generate(expr, [x, y, t], constants={kappa: 0.1})
    assert isinstance(fn, GeneratedFunction)
    assert fn.arguments == ("x", "y", "t", "u", "u_xx", "u_yy")
    assert fn.nodes["u_xx"] == sp.Derivative(u, (x, 2))
    assert fn.nodes["u"] == u
    code = "\n".join(line for line in fn.source.splitlines() if not line.lstrip().startswith("#"))
    assert "Derivative" not in code and "kappa" not in code
    vals = [_rand(20, seed=k) for k in range(6)]
    got = fn(*vals)
    torch.testing.assert_close(got, 0.1 * (vals[4] + vals[5]) + vals[3] ** 2, rtol=1e-12, atol=0)


def test_more_default_node_names():
    u = sp.Function("u")(x, y, t)
    v = sp.Function("v")(X, t)
    fn = generate(
        {
            "a": sp.Derivative(u, (x, 2), y) + sp.Derivative(u, t) + sp.Derivative(u, (t, 2)) + sp.Derivative(u, x, y),
            "b": NormalDerivative(u) + sp.Derivative(u**2, x),
        },
        [x, y, t],
    )
    assert fn.arguments == ("x", "y", "t", "dn_u", "node0", "u_t", "u_tt", "u_xxy", "u_xy")
    assert fn.nodes["node0"] == sp.Derivative(u**2, x)
    g = generate(Laplacian(v) + Partial(v, 1, 1) + v, [X, t])
    assert g.arguments == ("x", "t", "d_v_1_1", "lap_v", "v")
    xs = _rand(4, 3)
    out = g(xs, _rand(4), *[torch.full((4,), float(k), dtype=torch.float64) for k in (1, 2, 3)])
    torch.testing.assert_close(out, torch.full((4,), 6.0, dtype=torch.float64))


def test_custom_node_name():
    u = sp.Function("u")(x, t)
    names = {sp.Derivative(u, (x, 2)): "second"}
    fn = generate(sp.Derivative(u, (x, 2)) - u, [x, t], node_name=lambda n: names.get(n))
    assert fn.arguments == ("x", "t", "second", "u")
    out = fn(torch.zeros(2), torch.zeros(2), torch.tensor([3.0, 4.0]), torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(out, torch.tensor([2.0, 3.0]))
    with pytest.raises(CodegenError):
        generate(sp.Derivative(u, x) + u, [x, t], node_name=lambda n: "same")


def test_keyword_arguments_and_outputs_order():
    fn = generate({"second": x - y, "first": x + y}, [x, y])
    assert fn.outputs == ("second", "first")
    a, b = fn(x=torch.tensor([3.0]), y=torch.tensor([1.0]))
    assert float(a) == 2.0 and float(b) == 4.0


# ----------------------------------------------------------------------- sums
def test_vectorized_sum_d1000():
    d = 1000
    body = 100 * (X[i + 1] - X[i] ** 2) ** 2 + (1 - X[i]) ** 2
    expr = sp.Sum(body, (i, 1, d - 1)) + t * sp.Sum(i * sp.sin(X[i]), (i, 1, d)) + sp.Sum(X[i] ** 2 * t, (i, 2, d))
    fn = generate(expr, [X, t])
    assert "for " not in fn.source and ".sum(-1)" in fn.source
    xs, ts = _rand(8, d, low=-1.0, high=1.0), _rand(8, seed=3)
    got = fn(xs, ts)
    assert got.shape == (8,)
    # naive unrolled reference, term by term in plain Python floats
    for n in range(3):
        xv, tv = xs[n].tolist(), ts[n].item()
        ref = sum(100 * (xv[k] - xv[k - 1] ** 2) ** 2 + (1 - xv[k - 1]) ** 2 for k in range(1, d))
        ref += tv * sum(k * np.sin(xv[k - 1]) for k in range(1, d + 1))
        ref += sum(xv[k - 1] ** 2 * tv for k in range(2, d + 1))
        assert got[n].item() == pytest.approx(ref, rel=1e-12)
    # float32 stays float32
    assert fn(xs.float(), ts.float()).dtype == torch.float32


def test_loop_fallback_and_nested_sums():
    d = 6
    expr = (
        sp.Sum(sp.sin(i) * X[2 * i], (i, 1, 3))
        + sp.Sum(sp.Sum(X[i] * X[j], (j, 1, i)), (i, 1, d))
        + sp.Sum(sp.Sum(j * X[i] * X[j], (j, 1, d)), (i, 1, 2))
        + sp.Sum(sp.Sum(X[j] * t, (j, 1, 3)), (i, 1, 4))
    )
    fn = generate(expr, [X, t])
    assert "for " in fn.source
    xs, ts = _rand(5, d), _rand(5, seed=1)
    got = fn(xs, ts)
    for n in range(5):
        xv, tv = [None] + xs[n].tolist(), ts[n].item()  # 1-based
        ref = sum(np.sin(k) * xv[2 * k] for k in range(1, 4))
        ref += sum(xv[a] * xv[b] for a in range(1, d + 1) for b in range(1, a + 1))
        ref += sum(b * xv[a] * xv[b] for a in range(1, 3) for b in range(1, d + 1))
        ref += sum(xv[b] * tv for a in range(1, 5) for b in range(1, 4))
        assert got[n].item() == pytest.approx(ref, rel=1e-12)


def test_sum_errors():
    n = sp.Symbol("n", integer=True)
    with pytest.raises(CodegenError):
        generate(sp.Sum(X[i], (i, 1, n)), [X])
    with pytest.raises(CodegenError):
        generate(sp.Sum(X[i - 1], (i, 1, 3)), [X])


# --------------------------------------------------------------- source, cache
def test_cse_extracts_repeated_subexpression():
    expr = sp.sin(x * y + 1) ** 2 + sp.cos(x * y + 1) + sp.exp(x * y + 1)
    fn = _check(expr)
    assert fn.source.count("x*y") == 1
    assert "_t0 = " in fn.source


def test_cache_hit():
    a = generate(sp.sin(x) + y**2, [x, y], name="g")
    b = generate(sp.sin(x) + y**2, [x, y], name="g")
    assert a.function is b.function
    c = generate(sp.sin(x) + y**3, [x, y], name="g")
    assert c.function is not a.function


def test_traceback_shows_source():
    import linecache

    fn = generate(sp.sin(x) + y, [x, y], name="shown")
    filename = fn.function.__code__.co_filename
    assert "".join(linecache.getlines(filename)) == fn.source


def test_golden_source():
    u = sp.Function("u")(x, t)
    expr = {
        "r": sp.Derivative(u, t) - kappa * sp.Derivative(u, (x, 2)) - sp.sin(sp.pi * x) * sp.exp(-t),
        "g": sp.Piecewise((0, x < 0), (x**2, True)),
    }
    fn = generate(expr, [x, t], name="residual", constants={kappa: 0.5})
    assert fn.source == (
        "def residual(x, t, u_t, u_xx):\n"
        '    """Inputs: x, t, u_t, u_xx. Outputs: r, g."""\n'
        "    # u_t = Derivative(u(x, t), t)\n"
        "    # u_xx = Derivative(u(x, t), (x, 2))\n"
        "    return (\n"
        "        u_t - 0.5*u_xx - torch.exp(-t)*torch.sin(math.pi*x),  # r\n"
        "        torch.where(x < 0, 0, x**2),  # g\n"
        "    )\n"
    )
    xs = torch.tensor([-1.0, 2.0], dtype=torch.float64)
    r, g = fn(xs, torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(g, torch.tensor([0.0, 4.0], dtype=torch.float64))
    assert g.dtype == torch.float64


def test_errors_are_symop_errors():
    z = sp.Symbol("z")
    with pytest.raises(CodegenError) as info:
        generate(x + z, [x])
    assert isinstance(info.value, SymopError)
    assert "`z`" in str(info.value)
    with pytest.raises(CodegenError):
        generate(sp.besselj(0, x), [x])
    with pytest.raises(CodegenError):
        generate(X[i], [X])


# ------------------------------------------------------------------------ GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda():
    u = sp.Function("u")(x, y, t)
    fn = generate(
        {"a": sp.sin(x) * u + sp.Piecewise((1, x > 0.5), (0, True)), "b": sp.Integer(2), "s": sp.Sum(i * X[i] ** 2, (i, 1, 100))},
        [x, y, t, X],
    )
    dev = torch.device("cuda")
    args = [torch.rand(10, device=dev, dtype=torch.float32) for _ in range(3)]
    xs = torch.rand(10, 100, device=dev, dtype=torch.float32)
    uu = torch.rand(10, device=dev, dtype=torch.float32)
    a, b, s = fn(*args, xs, uu)
    for out in (a, b, s):
        assert out.device.type == "cuda" and out.dtype == torch.float32
    torch.testing.assert_close(a, torch.sin(args[0]) * uu + (args[0] > 0.5).float())
    torch.testing.assert_close(s, (torch.arange(1, 101, device=dev) * xs**2).sum(-1))
