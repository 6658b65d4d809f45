"""Gauss–Newton training (``engd``): residual Jacobians from the symbolic model, the step, resuming, schedules."""

from __future__ import annotations

import math
import re
import sys

import pytest
import torch
from torch import nn

import symop
from symop.errors import OptionError
from symop.plugins import discretizations
from symop.nn import PhysicsLoss, make_engine, objective
from symop.nn.linearise import linearise
from symop.training import Checkpoint, Phase, optimize
from symop.training.curvature import gauss_newton_direction

POISSON = """problem p "Poisson"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
equation -lap(u) = 2*pi^2*sin(pi*x)*sin(pi*y)
boundary all: u = 0
exact u = sin(pi*x)*sin(pi*y)
"""

# every kind of term: interior with a time derivative, Dirichlet, Neumann, Robin, initial, a nonlinearity
HEAT = """problem h "heat"
space x, y
time t in [0, 0.5]
domain box(x: [0, 1], y: [0, 1])
field u
equation dt(u) = 0.1*lap(u) - u^3 + sin(x)
boundary left, right: u = 0
boundary bottom: dn(u) = -pi*exp(-t)*sin(pi*x)
boundary top: dn(u) + 2*u = x*y
initial u = sin(pi*x)*sin(pi*y)
"""

PERIODIC = """problem q "periodic advection"
space x
time t in [0, 1]
domain interval(x: [0, 1])
field u
equation dt(u) + dx(u) = 0
boundary periodic(x)
initial u = sin(2*pi*x)
"""


def _loss(text, tmp_path, points=40, boundary_points=24, name="p.pde"):
    path = tmp_path / name
    path.write_text(text)
    problem = symop.load(path)
    return problem, PhysicsLoss(problem, make_engine("autograd"), points=points, boundary_points=boundary_points,
                                boundary_weight=3.0, dtype=torch.float64)


class RandomFeatures(nn.Module):
    """``u(x) = c . tanh(W x + b) + c0`` with ``W, b`` fixed: a model linear in its parameters."""

    def __init__(self, inputs: int, features: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.register_buffer("W", 2 * torch.randn(features, inputs, generator=g, dtype=torch.float64))
        self.register_buffer("b", torch.randn(features, generator=g, dtype=torch.float64))
        self.last = nn.Linear(features, 1).double()

    def forward(self, x):
        return self.last(torch.tanh(x @ self.W.T + self.b))


def _autograd_rows(loss, model, batch):
    """The weighted residuals and their Jacobian row by row with plain autograd (the reference)."""
    params = list(model.parameters())
    rows, jac = [], []
    for term, (X, n) in zip(loss.terms, batch):
        r = (term.weight / X.shape[0]) ** 0.5 * loss.residual(model, term, X, n)
        for i in range(r.shape[0]):
            g = torch.autograd.grad(r[i], params, retain_graph=True, allow_unused=True)
            jac.append(torch.cat([(gi if gi is not None else torch.zeros_like(p)).reshape(-1)
                                  for gi, p in zip(g, params)]))
        rows.append(r.detach())
    return torch.cat(rows), torch.stack(jac)


class Wrapped(nn.Module):
    """Any module: its Jacobian comes from per-point torch.func transforms, not from an MLP's Taylor-mode copies."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize("path", ["copies", "functional"])
@pytest.mark.parametrize("text", [HEAT, PERIODIC], ids=["heat-all-kinds-nonlinear", "periodic"])
def test_jacobian_of_every_term_matches_autograd(text, path, tmp_path):
    problem, loss = _loss(text, tmp_path, points=12, boundary_points=8)
    torch.manual_seed(0)
    model = symop.nn.MLP(loss.inputs, 1, 6, 2).double()
    model = model if path == "copies" else Wrapped(model)
    batch = loss.sample(3)
    lin = linearise(loss, model, batch, chunk=7)
    r, J = _autograd_rows(loss, model, batch)
    total, _ = loss(model, batch)
    assert torch.allclose(lin.residual, r, atol=1e-13)
    assert torch.allclose(lin.jacobian, J, atol=1e-12)
    assert float((lin.residual ** 2).sum()) == pytest.approx(float(total), rel=1e-12)
    assert [name for name, _ in lin.terms] == [t.name for t in loss.terms]


def test_one_engd_step_solves_the_linear_least_squares_problem(tmp_path):
    """For a model linear in its parameters, r(θ) = Jθ - b: one step lands on the least-squares solution."""
    problem, loss = _loss(POISSON, tmp_path)
    model = RandomFeatures(2, 30)
    batch, value = objective(model, loss)
    data = batch(0)
    r, J = _autograd_rows(loss, model, data[0])
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    delta = torch.linalg.lstsq(J, r[:, None], driver="gelsd").solution[:, 0]
    projection = float(((r - J @ delta) ** 2).sum())  # min over θ of |r(θ)|², the error of projecting b
    before = float(value(data)[0])
    result = optimize(model, value, [Phase(1, "engd", 1.0, options={"damping": 0.0})], batch=lambda step: data)
    after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert projection < 1e-2 * before  # the problem is far from solved before the step
    assert result.losses[0] == pytest.approx(projection, rel=1e-6)
    assert torch.allclose(after, theta - delta, atol=1e-6 * float(delta.abs().max()))


def test_woodbury_and_dense_give_the_same_direction():
    g = torch.Generator().manual_seed(0)
    J = torch.randn(20, 60, dtype=torch.float64, generator=g)
    r = torch.randn(20, dtype=torch.float64, generator=g)
    previous = torch.randn(60, dtype=torch.float64, generator=g)
    for momentum in (0.0, 0.7):
        dense = gauss_newton_direction(J, r, 1e-3, "dense", previous, momentum)
        woodbury = gauss_newton_direction(J, r, 1e-3, "woodbury", previous, momentum)
        assert torch.allclose(dense, woodbury, rtol=1e-9, atol=1e-11)
    # the undamped direction is the minimum-norm solution of J d = r
    exact = torch.linalg.lstsq(J, r[:, None]).solution[:, 0]
    assert torch.allclose(gauss_newton_direction(J, r, 0.0, "woodbury"), exact, atol=1e-9)


class Interrupted(Exception):
    pass


def _train(tmp_path, phases, resume_path=None, every=0, stop_at=0, width=5, fixed=False):
    problem, loss = _loss(POISSON, tmp_path, points=30, boundary_points=16)
    torch.manual_seed(0)
    model = symop.nn.MLP(2, 1, width, 1).double()
    batch, value = objective(model, loss)
    if fixed:
        batch = lambda step, draw=batch: draw(0)  # noqa: E731
    saving = Checkpoint(resume_path, every=every, resume=True) if resume_path else None

    def stop(record):
        if record.step == stop_at:
            raise Interrupted

    return optimize(model, value, phases, batch=batch, checkpoint=saving, callbacks=[stop])


@pytest.mark.parametrize("name, options, key", [("engd", {"momentum": 0.5, "damping": 1e-6}, "direction"),
                                                ("soap", {"precondition_frequency": 2}, "exp_avg"),
                                                ("kfac", {"ema": 0.5, "momentum": 0.3}, "A_interior")])
def test_optimizers_resume_from_a_checkpoint(tmp_path, name, options, key):
    """Interrupted mid-phase and resumed, the run takes the same steps (the SPRING direction, SOAP's
    statistics and eigenbases are in the checkpoint, a file read with weights_only)."""
    if name == "soap":
        pytest.importorskip("pytorch_optimizer")
    phases = [Phase(2, "adam", 1e-2), Phase(5, name, 1e-2 if name == "soap" else 1.0, options=options)]
    whole = _train(tmp_path, phases)
    path = tmp_path / "run.ckpt"
    with pytest.raises(Interrupted):
        _train(tmp_path, phases, path, every=1, stop_at=5)
    state = symop.training.load_checkpoint(path)
    assert state["optimizer_name"] == name and state["step"] == 5
    assert any(key in s for s in state["optimizer"]["state"].values())
    resumed = _train(tmp_path, phases, path, every=1)
    assert resumed.start_step == 5
    assert resumed.losses == pytest.approx(whole.losses, rel=1e-10)


def test_schedule_switches_from_adam_to_engd(tmp_path):
    phases = [Phase(3, "adam", 1e-2), Phase(10, "engd", 1.0, options={"damping": 1e-3})]
    result = _train(tmp_path, phases, width=12, fixed=True)
    assert len(result.losses) == 13 and len(result.phase_times) == 2
    assert result.losses[-1] < 1e-2 * result.losses[2]  # the Gauss-Newton steps do what Adam's could not


def test_refusals_are_sentences(tmp_path):
    model = nn.Linear(1, 1)
    with pytest.raises(OptionError, match=r"needs the residuals .* use adam or lbfgs\.$"):
        optimize(model, lambda b: {"x": model(torch.ones(1, 1)).sum() ** 2}, [Phase(1, "engd", 1.0)])
    with pytest.raises(OptionError, match="there is no Gauss–Newton solver `qr`; the solvers are"):
        _train(tmp_path, [Phase(1, "engd", 1.0, options={"solver": "qr"})])
    with pytest.raises(OptionError, match="there is no line search `exact`"):
        _train(tmp_path, [Phase(1, "engd", 1.0, options={"line_search": "exact"})])
    with pytest.raises(OptionError, match="does not take the options"):
        _train(tmp_path, [Phase(1, "engd", 1.0, options={"rho": 1})])


def test_soap_refuses_with_a_sentence_without_its_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pytorch_optimizer", None)  # as if not installed
    with pytest.raises(OptionError, match=r"comes from the package pytorch-optimizer, which is not installed; install "
                                          r"it with `pip install 'symop\[soap\]'`, or use adam\.$"):
        _train(tmp_path, [Phase(1, "soap", 1e-3)])


def test_pinn_lists_each_optimizer_with_its_cost():
    from symop.cli import method_text
    from symop.plugins import get_discretization

    text = " ".join(method_text(get_discretization("pinn"), width=1000).split())
    for name in ("adam", "lbfgs", "soap", "engd", "kfac"):
        assert f"{name}: " in text
    assert "one solve of size min(M, P)" in text and "warmup" in text and "damping" in text


# ------------------------------------------------------------------ kfac
def _recorded_jacobian(loss, net, batch):
    """Rows of the Jacobian rebuilt from the recorder's copies: sum_s g_{n,s} [a_{n,s}, 1_value]^T per layer."""
    from symop.nn.engines import StdeEngine
    from symop.nn.kfac import Recorder, _residual

    rec, engine, rows = Recorder(net, loss.dim), StdeEngine(1), []
    for term, (X, n) in zip(loss.terms, batch):
        rec.clear()
        r = _residual(loss, engine, rec, term, X, n) * (term.weight / X.shape[0]) ** 0.5
        outs = [z for layer in rec.records for _, z in layer]
        for i in range(X.shape[0]):
            grads = iter(torch.autograd.grad(r[i], outs, retain_graph=True, allow_unused=True))
            row = []
            for layer, copies in zip(rec.layers, rec.records):
                M = torch.zeros(layer.out_features, layer.in_features + 1, dtype=torch.float64)
                for a, _ in copies:
                    g = next(grads)
                    if g is not None:
                        M += torch.einsum("so,si->oi", g[i], a[i])
                row += [M[:, :-1].reshape(-1), M[:, -1]]
            rows.append(torch.cat(row))
    return torch.stack(rows)


def test_kfac_copies_of_every_layer_rebuild_the_exact_jacobian(tmp_path):
    """The recorded layer inputs and output gradients are the Jacobian's weight-sharing structure, for every term."""
    problem, loss = _loss(HEAT, tmp_path, points=6, boundary_points=8)
    torch.manual_seed(0)
    net = symop.nn.MLP(loss.inputs, 1, 5, 2).double()
    batch = loss.sample(1)
    exact = linearise(loss, net, batch).jacobian
    assert torch.allclose(_recorded_jacobian(loss, net, batch), exact, atol=1e-12)


REGRESSION = """problem r "a field fitted to data inside and on the sides"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
equation u = sin(pi*x)*y
boundary all: u = x*y
"""


def test_kfac_factors_match_the_gauss_newton_matrix_of_a_one_layer_network(tmp_path):
    from symop.nn.kfac import kronecker

    problem, loss = _loss(REGRESSION, tmp_path, points=25, boundary_points=16)
    torch.manual_seed(0)
    net = symop.nn.MLP(2, 1, 4, 0).double()  # one linear layer
    batch = loss.sample(0)
    lin = linearise(loss, net, batch)
    factors = kronecker(loss, net, batch)
    start = 0
    for (name, rows), group in zip(lin.terms, ("interior", "boundary")):
        J = lin.jacobian[start:start + rows]
        start += rows
        A, B = factors.A[group][0], factors.B[group][0]
        assert torch.allclose(torch.kron(B, A), J.T @ J, atol=1e-13)


def test_inverse_of_a_sum_of_two_kronecker_products():
    from symop.training.curvature import inverse_kronecker_sum

    g = torch.Generator().manual_seed(0)

    def spd(n):
        M = torch.randn(n, n, dtype=torch.float64, generator=g)
        return M @ M.T + 0.1 * torch.eye(n, dtype=torch.float64)

    A1, A2, B1, B2 = spd(4), spd(4), spd(3), spd(3)
    X = torch.randn(3, 4, dtype=torch.float64, generator=g)
    K = torch.kron(B1, A1) + torch.kron(B2, A2)
    Y = inverse_kronecker_sum(X, [(A1, B1), (A2, B2)])
    assert torch.allclose(K @ Y.reshape(-1), X.reshape(-1), atol=1e-10)
    Y1 = inverse_kronecker_sum(X, [(A1, B1)])
    assert torch.allclose(torch.kron(B1, A1) @ Y1.reshape(-1), X.reshape(-1), atol=1e-10)


def test_kfac_trains_and_refuses_networks_it_cannot_factor(tmp_path):
    result = _train(tmp_path, [Phase(30, "kfac", 1.0, options={"damping": 1e-8, "ema": 0.0})], width=12, fixed=True)
    assert result.losses[-1] < 0.02 * result.losses[0]
    path = tmp_path / "p.pde"
    path.write_text(POISSON)
    with pytest.raises(OptionError, match="kfac takes its Kronecker factors from an MLP without Fourier features"):
        symop.solve(symop.load(path), method="pinn", optimizer="kfac", fourier=4, steps=1)


# ------------------------------------------------------------------ fresh points, STDE curvature, hard constraints
BALL = """problem b "Poisson on the unit ball in five dimensions, u = 0 on the sphere"
param d = 5
space x[1..d]
domain ball(dim: d, radius: 1)
field u
let r2 = sum(i, 1, d, x[i]^2)
exact u = (1 - r2)*sum(i, 1, d, sin(x[i]))
equation lap(u) = -(1 - r2)*sum(i, 1, d, sin(x[i])) - 4*sum(i, 1, d, x[i]*cos(x[i])) - 2*d*sum(i, 1, d, sin(x[i]))
boundary all: u = 0
"""


def _ball(tmp_path, estimator="stde", samples=2, points=6, **extra):
    from symop_pinn.method import PINN, PINNProgram

    path = tmp_path / "ball.pde"
    path.write_text(BALL)
    problem = symop.load(path)
    options = {o.name: o.default for o in PINN.options}
    options.update(estimator=estimator, samples=samples, hard=True, output_scale=3.0, width=6, depth=2,
                   points=points, dtype="float64", **extra)
    program = PINNProgram(problem, options)
    loss = program._loss("cpu")
    return loss, program.network(loss).double()


def test_engd_draws_fresh_points_every_step_unless_resample_is_off(tmp_path, monkeypatch):
    """pinn's default: each Gauss-Newton step linearises the residuals at that step's own points."""
    import importlib

    from symop_pinn.train import train

    objective_module = importlib.import_module("symop.nn.objective")  # the module (symop.nn.objective is the function)

    seen = []
    real = objective_module.linearise
    monkeypatch.setattr(objective_module, "linearise",
                        lambda loss, model, batch, **kw: seen.append(batch[0][0].clone()) or real(loss, model, batch,
                                                                                                  **kw))
    for resample in (True, False):
        seen.clear()
        problem, loss = _loss(POISSON, tmp_path, points=20, boundary_points=8)
        torch.manual_seed(0)
        train(symop.nn.MLP(2, 1, 5, 1).double(), loss, steps=3, optimizer="engd", resample=resample)
        assert len(seen) == 3
        assert all(torch.equal(seen[0], X) != resample for X in seen[1:])


def test_stde_residuals_are_the_loss_estimates_and_their_jacobian_is_unbiased(tmp_path):
    """With an STDE loss the Gauss-Newton rows are the loss's own estimates (|r|² is the loss, same directions),
    through the hard-constraint transform; their Jacobian averages to the exact one."""
    loss, model = _ball(tmp_path)
    batch, value = objective(model, loss)
    data = batch(4)
    lin = value.linearise(data)
    assert float((lin.residual ** 2).sum()) == pytest.approx(float(value(data)[0].detach()), rel=1e-12)
    exact = linearise(loss, model, data[0]).jacobian  # no seed: exact jets
    functional = linearise(loss, Wrapped(model), data[0]).jacobian  # per-point torch.func, exact Laplacian
    assert torch.allclose(exact, functional, atol=1e-11)
    draws = [linearise(loss, model, data[0], seed=s).jacobian for s in range(400)]
    scale = float(exact.abs().max())
    one = float((draws[0] - exact).abs().max()) / scale
    mean = float((torch.stack(draws).mean(0) - exact).abs().max()) / scale
    assert one > 0.05 and mean < one / 5, (one, mean)


def test_kfac_takes_its_factors_through_the_hard_constraint(tmp_path):
    loss, model = _ball(tmp_path, estimator="autograd", points=12)
    from symop.nn.kfac import kronecker

    batch, value = objective(model, loss)
    data = batch(0)
    lin = linearise(loss, model, data[0])
    factors = kronecker(loss, model, data[0])
    assert torch.allclose(factors.residual, lin.residual, atol=1e-12)
    assert torch.allclose(factors.gradient, lin.jacobian.T @ lin.residual, atol=1e-10)
    v = torch.randn(lin.jacobian.shape[1], dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(factors.jvp(v), lin.jacobian @ v, atol=1e-10)
    with pytest.raises(OptionError, match="kfac takes its Kronecker factors from an MLP without Fourier features"):
        path = tmp_path / "p.pde"
        path.write_text(POISSON)
        symop.solve(symop.load(path), method="pinn", optimizer="kfac", fourier=4, steps=1)


def _kfac_closure(tmp_path, width=8):
    from symop.training.curvature import ResidualClosure

    problem, loss = _loss(POISSON, tmp_path, points=30, boundary_points=12)
    torch.manual_seed(0)
    model = symop.nn.MLP(2, 1, width, 2).double()
    batch, value = objective(model, loss)
    data = batch(0)
    params = list(model.parameters())
    closure = ResidualClosure(lambda: value(data), lambda: value.linearise(data), params,
                              lambda: value.kronecker(data))
    return model, loss, value, data, params, closure


def test_kfac_step_minimises_the_gauss_newton_model_over_direction_and_momentum(tmp_path):
    """The update δ = -a d + m δ_prev solves the 2 x 2 model |r + Jδ|² (then halved while the loss rises): the
    unhalved update 2^k δ leaves r + J 2^k δ orthogonal to Jδ and to Jδ_prev."""
    from symop.training.curvature import KFAC

    model, loss, value, data, params, closure = _kfac_closure(tmp_path)
    opt = KFAC(params)
    for k in range(4):
        lin = value.linearise(data)
        previous = opt._flat_state("update") if k else None
        before = float(closure())
        closure.last = None
        opt.step(closure)
        delta = opt._flat_state("update")
        assert float(closure.last[0]) < before and bool(delta.any())
        Jd = lin.jacobian @ delta
        scale = -float(lin.residual @ Jd) / float(Jd @ Jd)  # the best multiple of δ: 2^(halvings)
        assert scale >= 1 - 1e-8 and scale == pytest.approx(2.0 ** round(math.log2(scale)), rel=1e-8)
        full = lin.residual + scale * Jd
        if previous is not None:
            Jp = lin.jacobian @ previous
            assert abs(float(full @ Jp)) < 1e-8 * float(full.norm() * Jp.norm())


def test_kfac_factors_are_averaged_and_their_inverse_kept_between_updates(tmp_path):
    from symop.nn.kfac import kronecker
    from symop.training.curvature import KFAC

    model, loss, value, data, params, closure = _kfac_closure(tmp_path)
    opt = KFAC(params, ema=0.5, update=2)
    seen, inverses = [], []
    for k in range(3):
        seen.append(kronecker(loss, model, data[0]).A["interior"][0])
        closure.last = None
        opt.step(closure)
        inverses.append(opt.state[params[0]]["inverse"])
    A = opt.state[params[0]]["A_interior"]
    assert torch.allclose(A, 0.5 * seen[0] + 0.5 * seen[2], atol=1e-12)  # steps 0 and 2 took factors, step 1 not
    assert inverses[1] is inverses[0] and inverses[2] is not inverses[1]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("optimizer", ["engd", "kfac"])
def test_gauss_newton_optimizers_train_on_cuda_as_on_the_cpu(tmp_path, optimizer):
    """--device cuda: the Gauss–Newton steps (Jacobians, Kronecker factors, solves) stay on the device and give
    the CPU's losses (float64)."""
    path = tmp_path / "p.pde"
    path.write_text(POISSON)
    problem = symop.load(path)
    opts = dict(method="pinn", optimizer=optimizer, steps=6, width=8, depth=2, points=64, boundary_points=32,
                dtype="float64", seed=0, resample=False, eval_points=50)
    cpu = symop.solve(problem, **opts)
    gpu = symop.solve(problem, device="cuda", **opts)
    a = [v for _, v in cpu.info["history"]]
    b = [v for _, v in gpu.info["history"]]
    assert len(a) == len(b) and a == pytest.approx(b, rel=1e-6)


def test_pinn_passes_ema_to_kfac_and_bounds_it(tmp_path, monkeypatch):
    """`ema` reaches kfac's running average of the factors; left out, kfac keeps each step's own (0)."""
    from symop.training.curvature import KFAC

    seen = []
    real = KFAC.__init__
    monkeypatch.setattr(KFAC, "__init__", lambda self, params, **kw: seen.append(kw.get("ema")) or
                        real(self, params, **kw))
    path = tmp_path / "p.pde"
    path.write_text(POISSON)
    problem = symop.load(path)
    small = dict(method="pinn", optimizer="kfac", steps=2, width=6, depth=2, points=32, boundary_points=16,
                 dtype="float64")
    symop.solve(problem, ema=0.9, **small)
    symop.solve(problem, **small)
    assert seen == [0.9, None]
    with pytest.raises(OptionError, match="ema"):
        symop.solve(problem, ema=1.0, **small)


@pytest.mark.parametrize("given, words", [
    ({"optimizer": "adam", "ema": 0.9}, "`ema` acts only with optimizer kfac, and this run has optimizer adam: "
                                        "change optimizer, or leave ema out."),
    ({"optimizer": "kfac", "momentum": 0.5}, "`momentum` acts only with optimizer engd, and this run has optimizer "
                                             "kfac"),
    ({"optimizer": "soap", "damping": 1e-3}, "`damping` acts only with optimizer engd or kfac"),
    ({"optimizer": "lbfgs", "solver": "dense"}, "`solver` acts only with optimizer engd"),
    ({"optimizer": "adam", "warmup": 10}, "`warmup` acts only with optimizer other than adam"),
    ({"sigma": 2.0}, "`sigma` acts only with fourier other than 0, and this run has fourier 0"),
    ({"samples": 4}, "`samples` acts only with estimator stde, and this run has estimator autograd"),
    ({"tangents": "dense"}, "`tangents` acts only with estimator stde"),
    ({"loss": "product"}, "`loss` acts only with estimator stde"),
    ({"optimizer": "engd", "lr": 0.5}, "`lr` is not used by engd, which finds its own step length"),
    ({"optimizer": "kfac", "lr": 0.5}, "`lr` is not used by kfac"),
    ({"optimizer": "kfac", "lr_decay": 0.5}, "`lr_decay` decays Adam's and soap's rate, and kfac keeps its step"),
    ({"optimizer": "lbfgs", "lr_decay": 0.5}, "and lbfgs keeps its step without decay"),
])
def test_options_that_would_be_dropped_are_refused(tmp_path, given, words):
    """An option pinn would drop (its optimizer, engine or Fourier features are not there) is refused up front,
    with a sentence; the same option where it acts, or given its default, is taken."""
    path = tmp_path / "p.pde"
    path.write_text(POISSON)
    problem = symop.load(path)
    with pytest.raises(OptionError, match=re.escape(words)):
        symop.solve(problem, method="pinn", steps=1, **given)
    defaults = {o.name: o.default for o in discretizations()["pinn"].options}
    harmless = {k: defaults[k] for k in given if k != "optimizer"}
    symop.solve(problem, method="pinn", steps=0, eval_points=10, **{**given, **harmless})
    if "lr" in given or "lr_decay" in given:  # with an Adam warm-up the rate and its decay act there
        symop.solve(problem, method="pinn", steps=0, warmup=1, eval_points=10, **given)
