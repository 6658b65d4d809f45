"""Tests of symop.integrate: observed orders of accuracy, solvers, the driver."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
import torch

from symop.errors import SolveError, SymopError
from symop.integrate import (
    EXPLICIT_METHODS,
    IMEX,
    ExplicitRK,
    IntegratorError,
    LieSplitting,
    SparseLinearPart,
    Stepper,
    StrangSplitting,
    ThetaMethod,
    integrate,
    solve_sparse,
    torch_bicgstab,
    torch_cg,
)

DT = torch.float64

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")


def observed_order(dts, errors) -> float:
    return float(np.polyfit(np.log(dts), np.log(errors), 1)[0])


def laplacian_1d(n: int) -> sp.csr_matrix:
    """Dirichlet Laplacian on n interior points of (0, 1)."""
    h = 1.0 / (n + 1)
    return sp.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr") / h**2


def poisson_2d(n: int) -> sp.csr_matrix:
    """The SPD 5-point matrix -Laplacian on an n x n interior grid."""
    T = -laplacian_1d(n)
    I = sp.identity(n)
    return sp.csr_matrix(sp.kron(I, T) + sp.kron(T, I))


# ---------------------------------------------------------------------------
# explicit Runge–Kutta


def _scalar_exact(t: float) -> float:
    # u' = -u + sin t, u(0) = 1:  u = 1.5 e^{-t} + (sin t - cos t)/2
    return 1.5 * math.exp(-t) + 0.5 * (math.sin(t) - math.cos(t))


@pytest.mark.parametrize(
    "method,order,dts",
    [
        ("euler", 1, [0.1, 0.05, 0.025, 0.0125]),
        ("heun", 2, [0.1, 0.05, 0.025, 0.0125]),
        ("rk2", 2, [0.1, 0.05, 0.025, 0.0125]),
        ("ssprk3", 3, [0.2, 0.1, 0.05, 0.025]),
        ("rk4", 4, [0.2, 0.1, 0.05, 0.025]),
    ],
)
def test_explicit_orders(method, order, dts):
    def f(t, u):
        return -u + math.sin(t)

    stepper = ExplicitRK(f, method)
    assert stepper.order == order
    T = 3.0  # (at T = 2 the RK4 error constant nearly cancels and spoils the fit)
    errors = []
    for dt in dts:
        traj = integrate(stepper, torch.tensor([1.0], dtype=DT), 0.0, T, dt)
        errors.append(abs(float(traj.states[-1][0]) - _scalar_exact(T)))
    assert abs(observed_order(dts, errors) - order) < 0.15


def test_unknown_explicit_method_lists_choices():
    with pytest.raises(IntegratorError) as info:
        ExplicitRK(lambda t, u: u, "rk7")
    assert isinstance(info.value, SymopError)
    for name in ("euler", "heun", "ssprk3", "rk4"):
        assert name in str(info.value)
    assert set(EXPLICIT_METHODS) >= {"euler", "heun", "rk2", "ssprk3", "rk4"}


# ---------------------------------------------------------------------------
# theta methods on the semi-discrete heat equation


def _heat_problem(n: int = 32):
    L = laplacian_1d(n)
    x = np.linspace(0, 1, n + 2)[1:-1]
    u0 = np.sin(np.pi * x) + 0.3 * x * (1 - x) * np.exp(x)
    g = np.cos(3 * x) * x * (1 - x)
    lam, V = np.linalg.eigh(L.toarray())

    def exact(t: float) -> np.ndarray:
        a0 = V.T @ u0
        gh = V.T @ g
        part = (-lam * np.cos(t) + np.sin(t) + lam * np.exp(lam * t)) / (1 + lam**2)
        return V @ (np.exp(lam * t) * a0 + gh * part)

    def source(t: float) -> torch.Tensor:
        return torch.as_tensor(g * math.cos(t))

    return L, x, u0, source, exact


@pytest.mark.parametrize(
    "theta,order,name,dts",
    [
        (1.0, 1, "backward-euler", [0.02, 0.01, 0.005, 0.0025]),
        (0.5, 2, "crank-nicolson", [0.02, 0.01, 0.005, 0.0025]),
    ],
)
def test_theta_orders(theta, order, name, dts):
    L, x, u0, source, exact = _heat_problem()
    lin = SparseLinearPart(L, (len(x),))
    stepper = ThetaMethod(lin, source, theta=theta)
    assert stepper.name == name and stepper.order == order
    T = 0.3
    ref = exact(T)
    errors = []
    for dt in dts:
        traj = integrate(stepper, torch.as_tensor(u0), 0.0, T, dt)
        errors.append(np.max(np.abs(traj.states[-1].numpy() - ref)))
    assert abs(observed_order(dts, errors) - order) < 0.15


def test_theta_with_mass_matches_transformed_problem():
    n = 20
    h = 1.0 / (n + 1)
    M = sp.diags([1.0, 4.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr") * (h / 6)
    K = sp.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr") / h
    x = np.linspace(0, 1, n + 2)[1:-1]
    g = x * (1 - x)
    Minv = np.linalg.inv(M.toarray())
    u0 = torch.as_tensor(np.sin(np.pi * x))
    for theta in (1.0, 0.5):
        a = ThetaMethod(
            SparseLinearPart(K, n, mass=M), lambda t: torch.as_tensor(g * (1 + t)), theta
        )
        b = ThetaMethod(
            SparseLinearPart(sp.csr_matrix(Minv @ K.toarray()), n),
            lambda t: torch.as_tensor(Minv @ g * (1 + t)),
            theta,
        )
        ua = integrate(a, u0, 0.0, 0.1, 0.01).states[-1]
        ub = integrate(b, u0, 0.0, 0.1, 0.01).states[-1]
        assert torch.allclose(ua, ub, rtol=1e-9, atol=1e-11)


def test_state_shape_and_dtype_are_kept():
    n = 6
    L = poisson_2d(n) * -1.0
    lin = SparseLinearPart(L, (n, n))
    u = torch.rand(n, n, dtype=torch.float32)
    out = ThetaMethod(lin, theta=1.0).step(0.0, u, 1e-3)
    assert out.shape == (n, n) and out.dtype == torch.float32
    assert lin.matvec(u).dtype == torch.float32


# ---------------------------------------------------------------------------
# splitting


class ExactLinearFlow(Stepper):
    """u -> expm(dt A) u: an exact sub-flow for splitting tests."""

    def __init__(self, A: np.ndarray) -> None:
        self.A = A
        self.order = 99
        self.name = "exact"
        self._cache: dict[float, np.ndarray] = {}

    def step(self, t, u, dt):
        if dt not in self._cache:
            self._cache[dt] = sla.expm(dt * self.A)
        return torch.as_tensor(self._cache[dt] @ u.numpy())


@pytest.mark.parametrize(
    "cls,order", [(LieSplitting, 1), (StrangSplitting, 2)]
)
def test_splitting_orders(cls, order):
    A = np.array([[-1.0, 2.0, 0.0], [-2.0, -1.0, 0.5], [0.0, 0.0, -0.5]])
    B = np.array([[-0.5, 0.0, 1.0], [0.0, 0.0, 0.0], [-1.0, 0.3, -0.2]])
    assert np.linalg.norm(A @ B - B @ A) > 0.1
    u0 = np.array([1.0, 0.5, -0.25])
    T = 1.0
    ref = sla.expm(T * (A + B)) @ u0
    stepper = cls(ExactLinearFlow(A), ExactLinearFlow(B))
    assert stepper.order == order
    dts = [0.1, 0.05, 0.025, 0.0125]
    errors = []
    for dt in dts:
        out = integrate(stepper, torch.as_tensor(u0), 0.0, T, dt).states[-1].numpy()
        errors.append(np.linalg.norm(out - ref))
    assert abs(observed_order(dts, errors) - order) < 0.15


# ---------------------------------------------------------------------------
# IMEX


@pytest.mark.parametrize("method,order", [("imex-euler", 1), ("ars222", 2)])
def test_imex_orders(method, order):
    from scipy.integrate import solve_ivp

    n = 16
    L = laplacian_1d(n) * 0.05
    x = np.linspace(0, 1, n + 2)[1:-1]
    u0 = np.sin(np.pi * x) + 0.5 * x

    def N_np(t, u):
        return np.sin(u) + np.cos(t) * x

    def rhs(t, u):
        return L @ u + N_np(t, u)

    T = 1.0
    ref = solve_ivp(rhs, (0, T), u0, method="DOP853", rtol=1e-13, atol=1e-13).y[:, -1]
    lin = SparseLinearPart(L, n)
    xt = torch.as_tensor(x)
    stepper = IMEX(lin, lambda t, u: torch.sin(u) + math.cos(t) * xt, method)
    assert stepper.order == order
    dts = [0.1, 0.05, 0.025, 0.0125]
    errors = []
    for dt in dts:
        out = integrate(stepper, torch.as_tensor(u0), 0.0, T, dt).states[-1].numpy()
        errors.append(np.max(np.abs(out - ref)))
    assert abs(observed_order(dts, errors) - order) < 0.15


def test_imex_with_mass_matches_transformed_problem():
    n = 12
    h = 1.0 / (n + 1)
    M = sp.diags([1.0, 4.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr") * (h / 6)
    K = sp.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr") / h
    Mt = torch.as_tensor(M.toarray())
    Minv = torch.linalg.inv(Mt)
    u0 = torch.linspace(0.1, 1.0, n, dtype=DT)
    for method in ("imex-euler", "ars222"):
        a = IMEX(SparseLinearPart(K, n, mass=M), lambda t, u: Mt @ torch.sin(u), method)
        b = IMEX(
            SparseLinearPart(sp.csr_matrix(Minv.numpy() @ K.toarray()), n),
            lambda t, u: torch.sin(u),
            method,
        )
        ua = integrate(a, u0, 0.0, 0.05, 0.01).states[-1]
        ub = integrate(b, u0, 0.0, 0.05, 0.01).states[-1]
        assert torch.allclose(ua, ub, rtol=1e-9, atol=1e-11)


def test_unknown_imex_method():
    with pytest.raises(IntegratorError, match="ars222"):
        IMEX(SparseLinearPart(laplacian_1d(4), 4), lambda t, u: u, "ars443")


# ---------------------------------------------------------------------------
# driver


def test_blow_up_reports_step_and_time():
    L = laplacian_1d(32)
    lin = SparseLinearPart(L, 32)
    stepper = ExplicitRK(lambda t, u: lin.matvec(u), "euler")
    u0 = torch.rand(32, dtype=DT)
    with pytest.raises(SolveError) as info:
        integrate(stepper, u0, 0.0, 1.0, 1e-2, check_every=5)
    msg = str(info.value)
    assert "at step" in msg and "(t = " in msg and "dt = 0.01" in msg
    assert "crank-nicolson" in msg


def test_nan_detected_at_the_end():
    class Bad(Stepper):
        order, name = 1, "bad"

        def step(self, t, u, dt):
            return u + float("nan") if t > 0.25 else u

    with pytest.raises(SolveError, match="NaN at step"):
        integrate(Bad(), torch.zeros(3), 0.0, 0.35, 0.1, check_every=100)


def test_save_times_and_progress():
    stepper = ExplicitRK(lambda t, u: -u, "rk4")
    u0 = torch.ones(2, dtype=DT)
    calls = []
    traj = integrate(stepper, u0, 0.0, 1.0, 0.03, progress=lambda k, n, t: calls.append((k, n, t)))
    assert traj.times == [0.0, 1.0]
    assert traj.steps == 34 and abs(traj.dt - 1 / 34) < 1e-15
    assert len(calls) == 34 and calls[-1] == (34, 34, 1.0)

    traj = integrate(stepper, u0, 0.0, 1.0, 0.1, save_times=5)
    assert np.allclose(traj.times, [0.0, 0.25, 0.5, 0.75, 1.0])
    for t, u in zip(traj.times, traj.states):
        assert torch.allclose(u, torch.full((2,), math.exp(-t), dtype=DT), atol=1e-5)

    traj = integrate(stepper, u0, 0.0, 1.0, 0.1, save_times=[0.3, 0.55])
    assert np.allclose(traj.times, [0.0, 0.3, 0.55, 1.0])
    for t, u in zip(traj.times, traj.states):
        assert torch.allclose(u, torch.full((2,), math.exp(-t), dtype=DT), atol=1e-5)
    assert traj.steps == 10

    with pytest.raises(IntegratorError):
        integrate(stepper, u0, 0.0, 1.0, 0.1, save_times=[2.0])


def test_step_count_rounding():
    stepper = ExplicitRK(lambda t, u: -u, "euler")
    traj = integrate(stepper, torch.ones(1), 0.0, 1.0, 0.1)
    assert traj.steps == 10  # 1/0.1 = 10.000000000000002 must not give 11


# ---------------------------------------------------------------------------
# linear solvers


def test_torch_cg_spd():
    A = poisson_2d(12)
    At = torch.as_tensor(A.toarray()).to_sparse_csr()
    x_true = torch.rand(A.shape[0], dtype=DT)
    b = torch.as_tensor(A @ x_true.numpy())
    x = torch_cg(At, b, tol=1e-12)
    assert torch.allclose(x, x_true, atol=1e-8)
    # dense and callable operators too
    Ad = torch.as_tensor(A.toarray())
    assert torch.allclose(torch_cg(Ad, b, tol=1e-12), x_true, atol=1e-8)
    assert torch.allclose(torch_cg(lambda v: Ad @ v, b, tol=1e-12), x_true, atol=1e-8)


def test_torch_bicgstab_nonsymmetric():
    n = 10
    A = poisson_2d(n) + sp.kron(sp.identity(n), sp.diags([-3.0, 3.0], [-1, 1], shape=(n, n)))
    A = sp.csr_matrix(A)
    assert abs(A - A.T).max() > 1
    At = torch.as_tensor(A.toarray()).to_sparse_csr()
    x_true = torch.rand(A.shape[0], dtype=DT)
    b = torch.as_tensor(A @ x_true.numpy())
    x = torch_bicgstab(At, b, tol=1e-12)
    assert torch.allclose(x, x_true, atol=1e-8)


def test_torch_cg_failure_raises_solve_error():
    A = torch.diag(torch.tensor([1.0, -1.0, 2.0, -3.0], dtype=DT)) + 0.1
    with pytest.raises(SolveError, match="residual"):
        torch_cg(A, torch.ones(4, dtype=DT), maxiter=1)


def test_solve_sparse_direct_and_amg_agree_on_poisson():
    A = poisson_2d(40)
    b = np.ones(A.shape[0])
    xd = solve_sparse(A, b, solver="direct")
    xa = solve_sparse(A, b, solver="amg", tol=1e-10)
    assert isinstance(xa, np.ndarray)
    assert np.linalg.norm(A @ xd - b) / np.linalg.norm(b) < 1e-10
    assert np.allclose(xd, xa, rtol=1e-7, atol=1e-10)
    bt = torch.ones(40, 40, dtype=torch.float32)
    xt = solve_sparse(A, bt, solver="amg", tol=1e-8)
    assert isinstance(xt, torch.Tensor) and xt.dtype == torch.float32 and xt.shape == (40, 40)
    assert np.allclose(xt.reshape(-1).numpy(), xd, rtol=1e-5)


def test_solve_sparse_nonsymmetric_amg():
    n = 20
    A = sp.csr_matrix(
        poisson_2d(n) + sp.kron(sp.identity(n), sp.diags([-50.0, 50.0], [-1, 1], shape=(n, n)))
    )
    b = np.random.default_rng(0).random(A.shape[0])
    xd = solve_sparse(A, b, solver="direct")
    xa = solve_sparse(A, b, solver="amg")
    assert np.allclose(xd, xa, rtol=1e-6, atol=1e-9)


def test_amg_linear_part_matches_direct():
    L = -poisson_2d(15)
    u0 = torch.rand(15, 15, dtype=DT)
    a = ThetaMethod(SparseLinearPart(L, (15, 15), solver="direct"), theta=0.5)
    b = ThetaMethod(SparseLinearPart(L, (15, 15), solver="amg"), theta=0.5)
    ua = integrate(a, u0, 0.0, 0.01, 1e-3).states[-1]
    ub = integrate(b, u0, 0.0, 0.01, 1e-3).states[-1]
    assert torch.allclose(ua, ub, atol=1e-8)


@pytest.mark.parametrize("solver", ["cg", "gmres", "auto"])
def test_solve_sparse_named_krylov_solvers(solver):
    A = poisson_2d(25)
    b = np.random.default_rng(1).random(A.shape[0])
    x = solve_sparse(A, b, solver=solver, tol=1e-10)
    assert np.linalg.norm(A @ x - b) / np.linalg.norm(b) < 1e-9


def test_solve_sparse_device_argument_returns_tensor():
    A = poisson_2d(10)
    b = np.ones(A.shape[0])
    x = solve_sparse(A, b, device="cpu")
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float64
    assert np.allclose(x.numpy(), solve_sparse(A, b, solver="direct"))


def test_singular_direct_solve_raises_solve_error():
    # pure Neumann 1D Laplacian: constant vectors span the kernel
    n = 8
    A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="lil")
    A[0, 0] = A[n - 1, n - 1] = 1.0
    with pytest.raises(SolveError, match="singular"):
        solve_sparse(sp.csr_matrix(A), np.ones(n), solver="direct")


def test_iterative_failure_names_residual():
    A = poisson_2d(30)
    with pytest.raises(SolveError, match="relative residual"):
        torch_bicgstab(torch.as_tensor(A.toarray()), torch.ones(A.shape[0], dtype=DT), maxiter=2)


def test_device_route_falls_back_to_bicgstab_on_indefinite_matrix():
    from symop.integrate.linear import _torch_krylov

    # symmetric indefinite diag(1, -1, 2, -2, ...) with b = 1: (r, D^-1 r) = 0, so
    # Jacobi-preconditioned CG breaks down at once; the device route must still solve it
    d = np.array([1.0, -1.0, 2.0, -2.0] * 4)
    A = sp.diags(d, format="csr")
    At = torch.as_tensor(A.toarray()).to_sparse_csr()
    b = torch.ones(len(d), dtype=DT)
    with pytest.raises(SolveError):
        torch_cg(At, b)
    x = _torch_krylov(At, b, "auto", True, 1e-11)
    assert torch.allclose(x, torch.as_tensor(1.0 / d), atol=1e-10)
    with pytest.raises(SolveError):
        _torch_krylov(At, b, "cg", True, 1e-11)


def test_torch_cg_float32_sparse():
    from symop.integrate.linear import _to_torch_csr

    A = poisson_2d(10)
    At = _to_torch_csr(A, torch.device("cpu"), torch.float32)
    assert At.dtype == torch.float32 and At.layout == torch.sparse_csr
    b = torch.ones(A.shape[0], dtype=torch.float32)
    x = torch_cg(At, b)
    assert x.dtype == torch.float32
    ref = solve_sparse(A, np.ones(A.shape[0]))
    assert np.allclose(x.numpy(), ref, rtol=1e-4)


def test_save_times_accepts_numpy_integers():
    traj = integrate(ExplicitRK(lambda t, u: -u, "rk4"), torch.ones(1, dtype=DT), 0.0, 1.0, 0.1,
                     save_times=np.int64(3))
    assert np.allclose(traj.times, [0.0, 0.5, 1.0])


def test_unknown_solver():
    with pytest.raises(IntegratorError, match="direct"):
        SparseLinearPart(laplacian_1d(4), 4, solver="magic")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_paths_match_cpu():
    dev = torch.device("cuda")
    L, x, u0, source, exact = _heat_problem()
    lin = SparseLinearPart(L, (len(x),))
    cpu = ThetaMethod(lin, source, theta=0.5)
    gpu = ThetaMethod(lin, lambda t: source(t).to(dev), theta=0.5)
    uc = integrate(cpu, torch.as_tensor(u0), 0.0, 0.1, 0.01).states[-1]
    ug = integrate(gpu, torch.as_tensor(u0).to(dev), 0.0, 0.1, 0.01).states[-1]
    assert ug.device.type == "cuda"
    assert torch.allclose(ug.cpu(), uc, atol=1e-8)
    A = poisson_2d(20)
    b = torch.ones(A.shape[0], dtype=DT, device=dev)
    xg = solve_sparse(A, b)
    xc = solve_sparse(A, np.ones(A.shape[0]))
    assert xg.is_cuda and np.allclose(xg.cpu().numpy(), xc, atol=1e-8)
    xd = solve_sparse(A, np.ones(A.shape[0]), device="cuda")
    assert xd.is_cuda and np.allclose(xd.cpu().numpy(), xc, atol=1e-8)
    # float32 state, mass matrix, nonsymmetric operator: BiCGSTAB on the device
    n = len(x)
    C = sp.csr_matrix(L + sp.diags([-5.0, 5.0], [-1, 1], shape=(n, n)))
    M = sp.diags([1.0, 4.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr") / 6
    lin32 = SparseLinearPart(C, n, mass=M)
    u32 = torch.as_tensor(u0, dtype=torch.float32)
    uc32 = integrate(ThetaMethod(lin32, theta=1.0), u32, 0.0, 0.05, 0.01).states[-1]
    ug32 = integrate(ThetaMethod(lin32, theta=1.0), u32.to(dev), 0.0, 0.05, 0.01).states[-1]
    assert ug32.is_cuda and ug32.dtype == torch.float32
    assert torch.allclose(ug32.cpu(), uc32, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------
# the scheme registry: every registered scheme reaches its declared order


def _registry_problem(n: int = 8):
    """u' = L u + s(t) + N(t, u) on n points: L a damped 1D Laplacian, s(t) = cos(t) g, N = sin(u)/2."""
    L = laplacian_1d(n) * 0.05
    x = np.linspace(0, 1, n + 2)[1:-1]
    u0 = np.sin(np.pi * x) + 0.5 * x
    g = x * (1 - x)
    xt, gt = torch.as_tensor(x), torch.as_tensor(g)
    return L, x, u0, g, xt, gt


def _scheme_cases():
    from symop.integrate import schemes

    return [pytest.param(s.name, id=s.name) for s in schemes()]


@pytest.mark.parametrize("name", _scheme_cases())
def test_every_registered_scheme_reaches_its_order(name):
    from scipy.integrate import solve_ivp

    from symop.integrate import get_scheme, make_stepper

    scheme = get_scheme(name)
    L, x, u0, g, xt, gt = _registry_problem()
    nonlinear = scheme.kind != "implicit"  # an implicit scheme alone steps the linear problem

    def rhs_np(t, u):
        return L @ u + g * math.cos(t) + (0.5 * np.sin(u) if nonlinear else 0.0)

    T = 1.0
    ref = solve_ivp(rhs_np, (0, T), u0, method="DOP853", rtol=1e-13, atol=1e-13).y[:, -1]
    lin = SparseLinearPart(L, len(x))
    stepper = make_stepper(
        name,
        rhs=lambda t, u: lin.matvec(u) + gt * math.cos(t) + (0.5 * torch.sin(u) if nonlinear else 0.0),
        linear=lin,
        source=lambda t: gt * math.cos(t),
        explicit=(lambda t, u: 0.5 * torch.sin(u)) if nonlinear else None,
    )
    assert stepper.order == scheme.order
    dts = [0.04, 0.02, 0.01, 0.005]
    errors = []
    for dt in dts:
        out = integrate(stepper, torch.as_tensor(u0), 0.0, T, dt).states[-1].numpy()
        errors.append(np.max(np.abs(out - ref)))
    assert abs(observed_order(dts, errors) - scheme.order) < 0.15, errors


def test_registry_offers_the_builtin_schemes_with_their_orders():
    from symop.integrate import get_scheme, scheme_names

    assert scheme_names() == ("euler", "heun", "ssprk3", "rk4", "backward-euler", "crank-nicolson",
                              "imex-euler", "ars222")
    assert scheme_names("implicit") == ("backward-euler", "crank-nicolson")
    assert {n: get_scheme(n).order for n in scheme_names()} == {
        "euler": 1, "heun": 2, "ssprk3": 3, "rk4": 4, "backward-euler": 1, "crank-nicolson": 2,
        "imex-euler": 1, "ars222": 2}
    with pytest.raises(IntegratorError, match="unknown time scheme `rk7`; choose one of: euler"):
        get_scheme("rk7")


def test_make_stepper_splits_and_names_what_is_missing():
    from symop.integrate import make_stepper

    L, x, u0, g, xt, gt = _registry_problem()
    lin = SparseLinearPart(L, len(x))
    split = make_stepper("crank-nicolson", "strang", linear=lin, source=lambda t: gt,
                         reaction=lambda t, u: torch.sin(u), reaction_scheme="euler")
    assert isinstance(split, StrangSplitting) and split.order == 1
    assert isinstance(make_stepper("backward-euler", "lie", linear=lin, reaction=lambda t, u: u), LieSplitting)
    with pytest.raises(IntegratorError, match="the implicit scheme `crank-nicolson` needs linear"):
        make_stepper("crank-nicolson")
    with pytest.raises(IntegratorError, match="needs an implicit scheme for the linear part, not the explicit `rk4`"):
        make_stepper("rk4", "lie", linear=lin, reaction=lambda t, u: u)
