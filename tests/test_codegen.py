"""Tests of symop.codegen: SymPy → PyTorch source, compiled and cached."""

from __future__ import annotations

import linecache
import time
import traceback

import numpy as np
import pytest
import sympy as sp
import torch

from symop.codegen import CodegenError, GeneratedFunction, TorchPrinter, generate
from symop.errors import SymopError
from symop.model.operators import Laplacian, NormalDerivative, Partial

x, y, z, t, kappa = sp.symbols("x y z t kappa")
u = sp.Function("u")
X = sp.IndexedBase("x")
i, j, d = sp.symbols("i j d", integer=True)

RNG = np.random.default_rng(1234)


def _points(n: int, lo: float, hi: float) -> np.ndarray:
    return RNG.uniform(lo, hi, size=n)


def _check(expr, symbols=(x, y, z), lo=-2.0, hi=2.0, n=64):
    """Compare the generated function with sympy.lambdify(numpy) in float64."""
    fn = generate(expr, list(symbols))
    pts = [_points(n, lo, hi) for _ in symbols]
    ref = sp.lambdify(list(symbols), expr, modules="numpy")(*pts)
    out = fn(*[torch.tensor(p) for p in pts])
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(ref, out.shape), rtol=1e-12, atol=1e-14)
    return fn


# --------------------------------------------------------------- functions
ARITHMETIC = [
    x + y - z,
    x * y * z,
    x / y,
    -x + 3,
    x**2,
    x**3 * y**-2,
    (x + y) ** -1,
    z**5 - x**4,
    sp.Rational(1, 3) * x + sp.Rational(2, 7),
    -x / 3 - y * sp.Rational(-5, 7),
    sp.pi * x + sp.E,
    2 * sp.pi * x / 3,
    x * sp.sin(2) + sp.sqrt(3),
]

POSITIVE = [  # domain (0.1, 0.9): logs, roots and inverse trigonometric functions
    sp.sqrt(x),
    x**0.5,
    x**-0.5,
    x ** sp.Rational(3, 2),
    x ** sp.Rational(1, 3),
    x**y,
    2**x,
    1 / sp.sqrt(x + y),
    sp.log(x) * y,
    sp.log(x * y + z),
    sp.exp(-(x**2) / (2 * y)),
    sp.asin(x),
    sp.acos(y),
    sp.atan(z / x),
]

FUNCTIONS = [
    sp.sin(x),
    sp.cos(x * y),
    sp.tan(x / 2),
    sp.exp(x) - sp.exp(-y),
    sp.tanh(x),
    sp.sinh(y),
    sp.cosh(z),
    sp.Abs(x - y),
    sp.sign(x),
    sp.Min(x, y),
    sp.Min(x, y, z),
    sp.Max(x, y, z),
    sp.Max(x, sp.Rational(1, 2)),
    sp.Min(x, y, 0.25),
    sp.Min(x, y, sp.Rational(1, 10)) * sp.Max(x, 0),
    sp.atan2(y, x),
    sp.atan2(y, 1),
    sp.Heaviside(x - y),
    sp.Heaviside(x, 0) + sp.Heaviside(-y, 1),
]

PIECEWISE = [
    sp.Piecewise((x, x < y), (y, True)),
    sp.Piecewise((1, x <= 0), (x**2, sp.And(x > 0, y >= 0.5)), (-1, True)),
    sp.Piecewise((sp.sin(x), sp.Or(x < -1, y > 1)), (0, True)),
    sp.Piecewise((1, sp.Eq(sp.floor(3 * x), 2)), (2, True)),
    sp.Piecewise((2.5, sp.And(x > 0, sp.Or(y < 0, z < 0))), (-1.5, True)),
    sp.Piecewise((x, sp.Ne(sp.floor(2 * x), 1)), (y, True)),
    sp.Piecewise((sp.sin(x), sp.Eq(x, y) | (x <= -0.2)), (0.25, x >= 0.3), (y, True)),
]


@pytest.mark.parametrize("expr", ARITHMETIC, ids=str)
def test_arithmetic(expr):
    _check(expr)


@pytest.mark.parametrize("expr", POSITIVE, ids=str)
def test_functions_on_positive_domain(expr):
    _check(expr, lo=0.1, hi=0.9)


@pytest.mark.parametrize("expr", FUNCTIONS, ids=str)
def test_functions(expr):
    _check(expr)


@pytest.mark.parametrize("expr", PIECEWISE, ids=str)
def test_piecewise(expr):
    fn = _check(expr)
    assert "torch.where" in fn.source


def test_heaviside_at_zero():
    fn = generate(sp.Heaviside(x) + 2 * sp.Heaviside(y, 0) + 4 * sp.Heaviside(z, 1), [x, y, z])
    zero = torch.zeros(3, dtype=torch.float64)
    assert torch.equal(fn(zero, zero, zero), torch.full((3,), 0.5 + 0 + 4, dtype=torch.float64))


def test_evalf_agrees_at_a_point():
    expr = sp.exp(-(x**2)) * sp.cos(sp.pi * y) + sp.Rational(5, 4) * sp.tanh(x * y)
    fn = generate(expr, [x, y])
    ref = float(expr.evalf(30, subs={x: sp.Rational(3, 10), y: sp.Rational(-7, 10)}))
    out = fn(torch.tensor(0.3, dtype=torch.float64), torch.tensor(-0.7, dtype=torch.float64))
    assert out.shape == ()
    assert abs(out.item() - ref) <= 1e-12 * abs(ref)


def test_constant_functions_are_precomputed():
    fn = generate(x * sp.sin(2) + sp.sqrt(2) * y + sp.log(3), [x, y])
    assert "torch.sin" not in fn.source and "torch.log" not in fn.source
    assert "sqrt" not in fn.source
    assert "0.9092974268256817" in fn.source


def test_sqrt_power_is_torch_sqrt():
    assert "torch.sqrt(x)" in generate(x**0.5, [x]).source
    assert "torch.sqrt(x)" in generate(sp.sqrt(x), [x]).source


# --------------------------------------------------------------- dtypes, shapes
def test_float32_stays_float32():
    expr = {
        "a": sp.sin(x) * sp.pi + sp.Rational(1, 3) * y**2 + sp.sqrt(2),
        "b": sp.Piecewise((1, x < 0), (2, True)),
        "c": sp.Heaviside(x) + sp.Min(x, y, 0.5) + sp.atan2(y, 2),
        "d": sp.Integer(7),
    }
    fn = generate(expr, [x, y])
    xs = torch.linspace(-1, 1, 11, dtype=torch.float32)
    outs = fn(xs, xs.flip(0))
    ref = fn(xs.double(), xs.flip(0).double())
    for o, r in zip(outs, ref):
        assert o.dtype == torch.float32
        assert r.dtype == torch.float64
        assert o.shape == (11,)
        np.testing.assert_allclose(o.numpy(), r.numpy(), rtol=1e-6, atol=1e-6)


def test_broadcasting():
    fn = generate({"sum": x + y, "only_x": sp.sin(x), "both": sp.Max(x, y) * sp.exp(-x * y)}, [x, y])
    xs = torch.linspace(0, 1, 5, dtype=torch.float64).reshape(5, 1)
    ys = torch.linspace(0, 2, 7, dtype=torch.float64).reshape(1, 7)
    s, ox, both = fn(xs, ys)
    assert s.shape == (5, 7) and ox.shape == (5, 1) and both.shape == (5, 7)
    torch.testing.assert_close(s, xs + ys)
    torch.testing.assert_close(both, torch.maximum(xs, ys) * torch.exp(-xs * ys))


def test_constant_outputs_broadcast_to_first_argument():
    fn = generate({"c": sp.Integer(2), "pi": sp.pi / 2, "zero": sp.S.Zero, "v": y}, [x, y])
    xs = torch.rand(4, 3, dtype=torch.float32)
    ys = torch.rand(3, dtype=torch.float32)
    c, p, zero, v = fn(xs, ys)
    for out, value in ((c, 2.0), (p, np.pi / 2), (zero, 0.0)):
        assert isinstance(out, torch.Tensor)
        assert out.shape == (4, 3) and out.dtype == torch.float32
        torch.testing.assert_close(out, torch.full((4, 3), value, dtype=torch.float32))
    assert v.shape == (3,)


def test_constant_single_output_on_indexed_argument_has_point_shape():
    fn = generate(sp.Float(1.5), [X, t])
    out = fn(torch.rand(8, 4, dtype=torch.float64), torch.rand(8, dtype=torch.float64))
    assert out.shape == (8,) and out.dtype == torch.float64
    assert torch.all(out == 1.5)


def test_python_numbers_are_accepted_as_arguments():
    fn = generate(sp.sin(x) * t, [x, t])
    xs = torch.linspace(0, 1, 4, dtype=torch.float64)
    torch.testing.assert_close(fn(xs, 0.5), torch.sin(xs) * 0.5)
    torch.testing.assert_close(fn(x=xs, t=2.0), torch.sin(xs) * 2.0)
    assert fn(xs.float(), 2.0).dtype == torch.float32


def test_keyword_arguments_and_output_order():
    fn = generate({"second": x - y, "first": x + y}, [x, y])
    assert fn.outputs == ("second", "first")
    a, b = fn(x=torch.tensor([3.0]), y=torch.tensor([1.0]))
    assert float(a) == 2.0 and float(b) == 4.0


# --------------------------------------------------------------- nodes
def test_default_node_names_and_value():
    lap = sp.Derivative(u(x, y, t), (x, 2)) + sp.Derivative(u(x, y, t), (y, 2))
    expr = kappa * lap + u(x, y, t) ** 2
    fn = generate(expr, [x, y, t], constants={kappa: 0.1})
    assert fn.arguments == ("x", "y", "t", "u", "u_xx", "u_yy")
    assert fn.nodes == {
        "u": u(x, y, t),
        "u_xx": sp.Derivative(u(x, y, t), (x, 2)),
        "u_yy": sp.Derivative(u(x, y, t), (y, 2)),
    }
    code = [line for line in fn.source.splitlines() if not line.lstrip().startswith("#")]
    assert "Derivative" not in "\n".join(code) and "kappa" not in fn.source
    assert "    # u_xx = d(u, x, 2)" in fn.source  # the legend of node arguments, in the language
    vals = [torch.rand(6, dtype=torch.float64) for _ in range(6)]
    xs, ys, ts, uu, uxx, uyy = vals
    torch.testing.assert_close(fn(*vals), 0.1 * (uxx + uyy) + uu**2, rtol=1e-14, atol=1e-14)


def test_derivative_names():
    expr = (
        sp.Derivative(u(x, y, t), (x, 2), y)
        + sp.Derivative(u(x, y, t), x, y)
        + sp.Derivative(u(x, y, t), t)
        + sp.Derivative(u(x, y, t), (t, 2))
        + sp.Derivative(u(x, y, t), x)
        + NormalDerivative(u(x, y, t))
        + sp.Derivative(u(x, y, t) ** 2, x)
    )
    fn = generate(expr, [x, y, t])
    assert fn.arguments == ("x", "y", "t", "dn_u", "node0", "u_t", "u_tt", "u_x", "u_xxy", "u_xy")
    assert fn.nodes["node0"] == sp.Derivative(u(x, y, t) ** 2, x)


def test_operator_node_names():
    v = sp.Function("v")
    expr = (
        Laplacian(u(X, t))
        + Partial(u(X, t), 1, 1)
        + Partial(v(X, t), 2)
        + NormalDerivative(u(X, t))
        + Laplacian(sp.sin(X[1]))
        + Laplacian(sp.cos(X[2]))
    )
    fn = generate(expr, [X, t])
    assert fn.arguments == ("x", "t", "d_u_1_1", "d_v_2", "dn_u", "lap_u", "node0", "node1")
    assert set(fn.nodes.values()) == {
        Laplacian(u(X, t)),
        Partial(u(X, t), 1, 1),
        Partial(v(X, t), 2),
        NormalDerivative(u(X, t)),
        Laplacian(sp.sin(X[1])),
        Laplacian(sp.cos(X[2])),
    }
    pts = torch.rand(4, 3, dtype=torch.float64)
    nodes = [torch.full((4,), float(k), dtype=torch.float64) for k in range(1, 7)]
    torch.testing.assert_close(fn(pts, pts[:, 0], *nodes), torch.full((4,), 21.0, dtype=torch.float64))


def test_same_field_at_different_points_gets_distinct_names():
    fn = generate(u(x, y, t) - u(x, 0, t), [x, y, t])
    assert len(fn.arguments) == 5 and len(set(fn.arguments)) == 5
    assert set(fn.nodes.values()) == {u(x, y, t), u(x, 0, t)}


def test_custom_node_name():
    def name(node):
        if isinstance(node, sp.Derivative):
            return "second_" + "".join(str(v) for v, _ in node.variable_count)
        return None

    expr = sp.Derivative(u(x, y), (x, 2)) - sp.Derivative(u(x, y), (y, 2)) * u(x, y)
    fn = generate(expr, [x, y], node_name=name)
    assert fn.arguments == ("x", "y", "second_x", "second_y", "u")
    a, b, c = (torch.rand(3, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(fn(a, a, a, b, c), a - b * c)


def test_custom_node_name_clash_is_an_error():
    with pytest.raises(CodegenError, match="same name"):
        generate(sp.Derivative(u(x), x) + sp.Derivative(u(x), (x, 2)), [x], node_name=lambda n: "d")


def test_sum_with_index_dependent_nodes_is_expanded_when_small():
    expr = sp.Sum(Partial(u(X, t), i, i), (i, 1, d))
    fn = generate(expr, [X, t], constants={d: 3})
    assert fn.arguments == ("x", "t", "d_u_1_1", "d_u_2_2", "d_u_3_3")
    with pytest.raises(CodegenError, match="Laplacian"):
        generate(expr, [X, t], constants={d: 1000})


# --------------------------------------------------------------- indexed and sums
def test_indexed_coordinates():
    fn = generate(X[1] * sp.sin(X[3]) - X[2] ** 2, [X])
    assert "x[..., 0]" in fn.source and "x[..., 2]" in fn.source
    pts = torch.rand(5, 4, dtype=torch.float64)
    torch.testing.assert_close(fn(pts), pts[:, 0] * torch.sin(pts[:, 2]) - pts[:, 1] ** 2)


def _naive_sum(pts: np.ndarray, dim: int, piecewise: bool) -> np.ndarray:
    """The sum over i = 1 .. d-1, one term at a time."""
    total = np.zeros(pts.shape[0])
    for k in range(1, dim):
        xi, xn = pts[:, k - 1], pts[:, k]
        total += xi**2 + np.sin(xi) * xn + k * xi
        if piecewise:
            total += np.where(xi > 0.5, k**2, 0.0)
    return total


def _best_time(f, *args, repeat=10):
    """The fastest of ``repeat`` calls after a warm-up, and the last result."""
    out = f(*args)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = f(*args)
        best = min(best, time.perf_counter() - start)
    return best, out


def test_sum_is_vectorized_and_fast_at_d_1000():
    dim = 1000
    expr = sp.Sum(X[i] ** 2 + sp.sin(X[i]) * X[i + 1] + i * X[i], (i, 1, d - 1)) * t + X[1]
    fn = generate(expr, [X, t], constants={d: dim})
    body = fn.source.split('"""')[-1]
    assert ".sum(-1)" in body and "x[..., 0:999]" in body and "x[..., 1:1000]" in body
    assert "torch.arange(1, 1000, dtype=x.dtype, device=x.device)" in body
    assert " for " not in body
    assert len(body) < 1000  # not unrolled
    pts = torch.rand(256, dim, dtype=torch.float64)
    ts = torch.full((256,), 0.5, dtype=torch.float64)
    out = _best_time(lambda: fn(pts, ts))[1]

    def by_hand():
        a, b = pts[:, :999], pts[:, 1:]
        k = torch.arange(1, 1000, dtype=pts.dtype)
        return (a**2 + torch.sin(a) * b + k * a).sum(-1) * ts + pts[:, 0]

    # < 0.1 s on an idle machine; on a loaded one, no slower than 3x the hand-written code
    assert _best_time(fn.function, pts, ts)[0] < max(0.1, 3 * _best_time(by_hand)[0])
    ref = _naive_sum(pts.numpy(), dim, piecewise=False) * 0.5 + pts.numpy()[:, 0]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)


def test_sum_with_piecewise_summand_at_d_1000():
    dim = 1000
    summand = X[i] ** 2 + sp.sin(X[i]) * X[i + 1] + i * X[i] + sp.Piecewise((i**2, X[i] > 0.5), (0, True))
    fn = generate(sp.Sum(summand, (i, 1, d - 1)), [X], constants={d: dim})
    assert fn.source.count("torch.sin(") == 1  # the piecewise-folded summand is CSE'd
    pts = torch.rand(64, dim, dtype=torch.float64)
    np.testing.assert_allclose(fn(pts).numpy(), _naive_sum(pts.numpy(), dim, piecewise=True), rtol=1e-12)
    out32 = fn(pts.float())
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), _naive_sum(pts.numpy(), dim, piecewise=True), rtol=1e-5)


def test_rosenbrock_sum_at_d_1000_matches_python_loop():
    dim = 1000
    body = 100 * (X[i + 1] - X[i] ** 2) ** 2 + (1 - X[i]) ** 2
    expr = sp.Sum(body, (i, 1, dim - 1)) + t * sp.Sum(i * sp.sin(X[i]), (i, 1, dim)) + sp.Sum(X[i] ** 2 * t, (i, 2, dim))
    fn = generate(expr, [X, t])
    assert " for " not in fn.source and ".sum(-1)" in fn.source
    xs = torch.tensor(RNG.uniform(-1, 1, size=(3, dim)))
    ts = torch.tensor(RNG.uniform(0, 1, size=3))
    got = fn(xs, ts)
    for n in range(3):
        xv, tv = xs[n].tolist(), ts[n].item()
        ref = sum(100 * (xv[k] - xv[k - 1] ** 2) ** 2 + (1 - xv[k - 1]) ** 2 for k in range(1, dim))
        ref += tv * sum(k * np.sin(xv[k - 1]) for k in range(1, dim + 1))
        ref += sum(xv[k - 1] ** 2 * tv for k in range(2, dim + 1))
        assert got[n].item() == pytest.approx(ref, rel=1e-12)


def test_sum_matches_unrolled_sympy():
    dim = 12
    expr = sp.Sum(sp.exp(-X[i]) * X[i + 2] * y / i, (i, 2, d - 2)) + sp.Sum(X[2 * i - 1], (i, 1, d / 2))
    fn = generate(expr, [X, y], constants={d: dim})
    unrolled = sum(sp.exp(-X[k]) * X[k + 2] * y / k for k in range(2, dim - 1)) + sum(
        X[2 * k - 1] for k in range(1, dim // 2 + 1)
    )
    syms = [sp.Symbol(f"x{k}") for k in range(1, dim + 1)]
    plain = unrolled.xreplace({X[k]: syms[k - 1] for k in range(1, dim + 1)})
    pts = RNG.uniform(-1, 1, size=(20, dim))
    ys = RNG.uniform(-1, 1, size=20)
    ref = sp.lambdify([*syms, y], plain, modules="numpy")(*pts.T, ys)
    out = fn(torch.tensor(pts), torch.tensor(ys))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    assert "x[..., 0:11:2]" in fn.source and "x[..., 3:12]" in fn.source


def test_nested_sums_fall_back_to_loops():
    dim = 6
    expr = (
        sp.Sum(sp.Sum(X[i] * X[j] * sp.cos(i), (j, 1, i)), (i, 1, dim))
        + sp.Sum(X[i] * X[j], (i, 1, 3), (j, 1, 4))
        + sp.Sum(sp.Sum(j * X[i] * X[j], (j, 1, dim)), (i, 1, 2))
        + sp.Sum(sp.Sum(X[j] * t, (j, 1, 3)), (i, 1, 4))
    )
    fn = generate(expr, [X, t])
    assert " for " in fn.source
    pts = RNG.uniform(-1, 1, size=(9, dim))
    ts = RNG.uniform(0, 1, size=9)
    col = [None] + [pts[:, k] for k in range(dim)]
    ref = sum(col[a] * col[b] * np.cos(a) for a in range(1, dim + 1) for b in range(1, a + 1))
    ref = ref + sum(col[a] * col[b] for a in range(1, 4) for b in range(1, 5))
    ref = ref + sum(b * col[a] * col[b] for a in range(1, 3) for b in range(1, dim + 1))
    ref = ref + 4 * ts * (col[1] + col[2] + col[3])
    np.testing.assert_allclose(fn(torch.tensor(pts), torch.tensor(ts)).numpy(), ref, rtol=1e-12)


def test_sum_needs_integer_bounds():
    with pytest.raises(CodegenError, match="not an integer"):
        generate(sp.Sum(X[i], (i, 1, d)), [X, d])


def test_sum_index_out_of_range_is_an_error():
    with pytest.raises(CodegenError, match="numbered from 1"):
        generate(sp.Sum(X[i - 1], (i, 1, 3)), [X])


def test_symbolic_index_outside_a_sum_is_an_error():
    with pytest.raises(CodegenError, match="index"):
        generate(X[j], [X, j])


# --------------------------------------------------------------- CSE, source, cache
def test_cse_removes_repeated_work():
    expr = {
        "a": sp.sin(x * y) ** 2 + sp.exp(sp.sin(x * y)),
        "b": sp.cos(sp.sin(x * y)) * sp.sqrt(x * y + 1),
    }
    fn = generate(expr, [x, y])
    assert fn.source.count("torch.sin(") == 1
    assert fn.source.count("x*y") == 1
    assert "_t0 = " in fn.source
    xs, ys = torch.rand(5, dtype=torch.float64), torch.rand(5, dtype=torch.float64)
    a, b = fn(xs, ys)
    s = torch.sin(xs * ys)
    torch.testing.assert_close(a, s**2 + torch.exp(s))
    torch.testing.assert_close(b, torch.cos(s) * torch.sqrt(xs * ys + 1))


GOLDEN = '''\
def residual(x, t, u, u_t, u_xx):
    """Inputs: x, t, u, u_t, u_xx. Outputs: r, energy, g."""
    # u_t = dt(u)
    # u_xx = d(u, x, 2)
    _t0 = torch.sin(math.pi*x)
    return (
        -0.5*_t0*torch.exp(-t) + u_t - 0.25*u_xx,  # r
        _t0**2 + u**2,  # energy
        torch.where(x < 0, x.new_tensor(0), 1.5),  # g
    )
'''


def test_golden_source():
    expr = {
        "r": sp.Derivative(u(x, t), t) - kappa * sp.Derivative(u(x, t), (x, 2)) - sp.sin(sp.pi * x) * sp.exp(-t) / 2,
        "energy": u(x, t) ** 2 + sp.sin(sp.pi * x) ** 2,
        "g": sp.Piecewise((0, x < 0), (sp.Rational(3, 2), True)),
    }
    fn = generate(expr, [x, t], name="residual", constants={kappa: 0.25})
    assert fn.source == GOLDEN
    assert fn.name == "residual"
    assert fn.outputs == ("r", "energy", "g")
    assert isinstance(fn, GeneratedFunction)


def test_cache_reuses_the_compiled_function():
    a = generate(sp.cosh(x) * y + 17, [x, y], name="cached")
    b = generate(sp.cosh(x) * y + 17, [x, y], name="cached")
    assert a.source == b.source
    assert a.function is b.function
    c = generate(sp.cosh(x) * y + 18, [x, y], name="cached")
    assert c.function is not a.function


def test_tracebacks_show_generated_source():
    fn = generate(x * y + sp.sin(x), [x, y], name="broken_shapes")
    assert "".join(linecache.getlines(fn.function.__code__.co_filename)) == fn.source
    with pytest.raises(RuntimeError) as info:
        fn(torch.rand(3), torch.rand(4))
    text = "".join(traceback.format_exception(info.value))
    assert "return x*y + torch.sin(x)" in text


def test_single_output_returns_a_tensor_and_mapping_a_tuple():
    one = generate(x + 1, [x])
    many = generate({"a": x + 1}, [x])
    xs = torch.zeros(2)
    assert isinstance(one(xs), torch.Tensor)
    out = many(xs)
    assert isinstance(out, tuple) and len(out) == 1
    assert callable(one.function)
    assert isinstance(one.function(xs), torch.Tensor)


# --------------------------------------------------------------- errors and printer
def test_unknown_symbol_is_an_error():
    with pytest.raises(CodegenError, match="neither an argument nor a constant") as info:
        generate(x + kappa, [x])
    assert "`kappa`" in str(info.value)


def test_unsupported_function_is_an_error():
    with pytest.raises(CodegenError, match="besselj"):
        generate(sp.besselj(0, x), [x])


def test_codegen_error_is_a_symop_error():
    assert issubclass(CodegenError, SymopError)


def test_printer_refuses_derivatives():
    with pytest.raises(CodegenError):
        TorchPrinter().doprint(sp.Derivative(u(x), x))
    assert TorchPrinter().doprint(sp.sqrt(x) / 2 + x**2) == "0.5*torch.sqrt(x) + x**2"


def test_constants_match_by_name():
    fn = generate(sp.Symbol("kappa", positive=True) * x, [sp.Symbol("x", real=True)], constants={kappa: 3})
    xs = torch.arange(3, dtype=torch.float64)
    torch.testing.assert_close(fn(xs), 3 * xs)


# --------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_float32_and_float64():
    expr = {
        "a": sp.sin(x) * sp.Heaviside(x - 0.5) + sp.Min(x, y, 0.3) + sp.Piecewise((1, x > 0.5), (0, True)),
        "b": sp.Sum(X[i] ** 2 * i, (i, 1, d)),
        "c": sp.Integer(1),
    }
    fn = generate(expr, [x, y, X], constants={d: 16})
    for dtype in (torch.float32, torch.float64):
        xs = torch.rand(32, device="cuda", dtype=dtype)
        ys = torch.rand(32, device="cuda", dtype=dtype)
        pts = torch.rand(32, 16, device="cuda", dtype=dtype)
        a, b, c = fn(xs, ys, pts)
        for out in (a, b, c):
            assert out.device.type == "cuda" and out.dtype == dtype and out.shape == (32,)
        ref = (pts.cpu().double() ** 2 * torch.arange(1, 17, dtype=torch.float64)).sum(-1)
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(b.cpu().double(), ref, rtol=tol, atol=tol)


def test_generated_functions_live_in_an_importable_module():
    import importlib

    fn = generate(sp.sin(x) * y, [x, y])
    module = importlib.import_module(fn.function.__module__)
    assert module.torch is torch
    compiled = torch.compile(fn.function, backend="eager")
    xs = torch.rand(4, dtype=torch.float64)
    torch.testing.assert_close(compiled(xs, xs), fn(xs, xs))


def test_vectorized_sums_share_their_function_calls():
    """cos(x[i]) in three sums over one range is computed once (the cost of a high-dimensional source term)."""
    terms = [sp.Sum(sp.cos(X[i]) * k + sp.sin(X[i] + sp.cos(X[i])), (i, 1, d)) for k in (1, 2)]
    e = terms[0] * terms[1] + sp.Sum(sp.cos(X[i]) ** 2, (i, 1, d))
    fn = generate(e, [X], constants={d: 50})
    assert fn.source.count("torch.cos(") == 1, fn.source
    assert fn.source.count("torch.sin(") == 1, fn.source
    P = torch.rand(3, 50, dtype=torch.float64)
    c, s = torch.cos(P), torch.sin(P + torch.cos(P))
    want = (c + s).sum(-1) * (2 * c + s).sum(-1) + (c * c).sum(-1)
    torch.testing.assert_close(fn(P), want)


KINK = """problem kink
space x
domain interval(x: [0, 1])
field u
equation -d(u, x, 2) + d(max(u, 0), x) = 1 + (1 - 2*x)/2
boundary all: u = 0
exact u = x*(1 - x)/2
"""


def test_a_derivative_through_a_kink_is_solved_and_a_dirac_delta_is_refused_where_written():
    """d(max(u, 0), x) = Heaviside(u) u': fd's Newton Jacobian (which differentiates the step once more, a
    DiracDelta, 0 wherever it exists) solves the quadratic exactly, and pinn trains through the step (its
    argument detached: torch.heaviside has no gradient); a Dirac delta written by the file is refused at its
    line and column."""
    import symop
    from symop.errors import SourceError

    problem = symop.parse(KINK)
    assert symop.solve(problem, "fd", n=16).errors()["u"]["rel_l2"] < 1e-10
    trained = symop.solve(problem, "pinn", steps=3, width=8, depth=1, points=32, boundary_points=4, eval_points=10)
    assert all(np.isfinite(v).all() for v in trained.fields.values())
    with pytest.raises(SourceError, match=r"<string>:5:24: error: differentiating `d\(abs\(u\), x, 2\)` in `x` "
                                          "gives a Dirac delta"):
        symop.parse(KINK.replace("d(max(u, 0), x)", "d(abs(u), x, 2)"))
