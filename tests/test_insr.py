"""INSR: step residuals checked without training, refusals, the examples, and observed orders in time.

The step residual of every scheme is checked on the timed rows of the
manufactured catalogue (:mod:`problems`) with "networks" that are exact
expressions: the exact states at ``t`` and ``t + dt`` give a zero residual
(the exact solutions are linear in ``t``, so every scheme is exact on them),
and a perturbation ``eps*p`` of the new state (or of the old one) gives the
residual derived here by hand from the row's operator, value and sign.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

import symop
from problems import LOSS_PROBLEMS, t, x
from symop.errors import OptionError, SymopError
from symop.plugins import discretizations, resolve_options

ROOT = Path(__file__).resolve().parents[1]
EPS = 0.25
SCHEMES = ("euler", "heun", "rk4", "backward-euler", "crank-nicolson", "midpoint")
TIMED = [pytest.param(r, id=r.name) for r in LOSS_PROBLEMS.values() if r.timed]


def program(problem, **options):
    from symop_insr.method import INSRProgram

    method = discretizations()["insr"]
    return INSRProgram(problem, resolve_options("insr", method.options, {"dtype": "float64", **options}))


def state_of(expr: sp.Expr, when: float):
    """The state ``X -> (N, 1)`` of ``expr`` at the time ``when`` (the time column of ``X`` is ignored)."""
    from symop_insr.state import Live

    fn = sp.lambdify((x, t), expr, modules="torch")
    return Live(lambda X: torch.as_tensor(fn(X[:, 0], torch.full_like(X[:, 0], when)), dtype=X.dtype)
                .expand(X.shape[0])[:, None])


def numbers(expr: sp.Expr, X: torch.Tensor, when: float) -> np.ndarray:
    return np.broadcast_to(sp.lambdify(x, expr.subs(t, when), "numpy")(X[:, 0].detach().numpy()), (len(X),))


def step_residuals(row, scheme: str, new: sp.Expr, old: sp.Expr, t0: float = 0.1, dt: float = 0.05):
    """The interior step residual and the boundary residuals at ``t0 + dt`` of ``new`` after ``old``."""
    from symop_insr.steps import Fitter, FitSettings

    problem = symop.parse(row.text)
    prog = program(problem, scheme=scheme)
    physics = prog.physics("cpu")
    fitter = Fitter(physics, prog.network(physics).double(), FitSettings(points=40, boundary_points=20, seed=3))
    stepper = prog.stepper(fitter)
    points = fitter.batch(0, 0)
    u, v = state_of(old, t0), state_of(new, t0 + dt)
    r = stepper.residual(t0, u, dt, v, points)[:, 0]
    bcs = [(term, Xb, physics.loss.residual(v, term, physics.with_time(Xb, t0 + dt), n))
           for term, (Xb, n) in zip(physics.boundary_terms, points.boundary)]
    return problem, points.X, r, bcs


def theta_of(scheme: str) -> float | None:
    return {"backward-euler": 1.0, "crank-nicolson": 0.5, "midpoint": 0.5}.get(scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("row", TIMED)
def test_the_exact_next_state_has_no_step_residual(row, scheme):
    _, X, r, bcs = step_residuals(row, scheme, row.exact, row.exact)
    assert np.abs(r.detach().numpy()).max() < 1e-12
    assert bcs and all(np.abs(b.detach().numpy()).max() < 1e-10 for *_, b in bcs)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("row", TIMED)
def test_a_perturbed_new_state_has_its_own_step_residual(row, scheme):
    """``v = u*(t + dt) + eps p``: the residual is ``eps (p - theta dt p_xx)`` (0 for theta of an explicit scheme)."""
    from test_loss_conformance import expected_boundary, perturbation

    t0, dt = 0.1, 0.05
    p = perturbation(row)
    problem, X, r, bcs = step_residuals(row, scheme, row.exact + EPS * p, row.exact, t0, dt)
    theta = theta_of(scheme) or 0.0
    expected = EPS * (numbers(p, X, t0 + dt) - theta * dt * numbers(sp.diff(p, x, 2), X, t0 + dt))
    np.testing.assert_allclose(r.detach().numpy(), expected, atol=1e-10)
    for term, Xb, b in bcs:
        Z = Xb.detach().numpy().copy()
        Z[:, -1] = t0 + dt
        np.testing.assert_allclose(b.detach().numpy(), EPS * expected_boundary(row, problem, p, Z), atol=1e-10,
                                   err_msg=term.name)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("row", TIMED[:1])
def test_a_perturbed_old_state_enters_with_the_schemes_weight(row, scheme):
    """``u = u*(t) + eps q`` (q quadratic in x): the residual is ``-eps (q + (1 - theta) dt q_xx)``, and
    ``-eps (q + dt q_xx)`` for every explicit tableau (its stages see no derivative of q above the second)."""
    from test_loss_conformance import perturbation

    t0, dt = 0.1, 0.05
    q = perturbation(row)
    _, X, r, _ = step_residuals(row, scheme, row.exact, row.exact + EPS * q, t0, dt)
    theta = theta_of(scheme)
    weight = 1.0 if theta is None else 1.0 - theta
    expected = -EPS * (numbers(q, X, t0) + weight * dt * numbers(sp.diff(q, x, 2), X, t0))
    if scheme == "midpoint":  # F at (u + v)/2 sees half of q, at t + dt/2
        expected = -EPS * (numbers(q, X, t0) + 0.5 * dt * numbers(sp.diff(q, x, 2), X, t0))
    np.testing.assert_allclose(r.detach().numpy(), expected, atol=1e-10)


# ------------------------------------------------------------------ refusals
STEADY = "space x\ndomain interval(x: [0, 1])\nfield u\nequation -d(u, x, 2) = 1\nboundary all: u = 0\n"
HEAT = ("space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\nequation dt(u) = d(u, x, 2)\n"
        "boundary all: u = 0\ninitial u = sin(pi*x)\n")


@pytest.mark.parametrize("text, words", [
    (STEADY, "steady"),
    ("space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\nequation dt(u, 3) = d(u, x, 2)\n"
     "boundary all: u = 0\ninitial u = 0\ninitial dt(u) = 0\ninitial dt(u, 2) = 0\n", "order 3"),
    ("space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u, v\nequation dt(u) = d(u, x, 2) + dt(v)\n"
     "equation dt(v) = d(v, x, 2)\nboundary all: u = 0\nboundary all: v = 0\ninitial u = 0\ninitial v = 0\n",
     "time derivative"),
    ("space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\nequation dt(u) = d(u, x, 2)\n"
     "boundary left: dt(u) = 0\nboundary right: u = 0\ninitial u = 0\n", "time derivative"),
])
def test_insr_refuses_up_front_with_a_sentence(text, words):
    why = discretizations()["insr"].accepts(symop.parse(text))
    assert why is not None and words in why and " " in why
    with pytest.raises(symop.SymopError, match=words.split()[0]):
        symop.solve(symop.parse(text), "insr", progress=False)


def test_a_steady_problem_is_sent_to_the_methods_that_accept_it():
    """insr's refusal of a steady problem names only the methods that would solve it: fd solves an interval, not
    a disk; fem a disk, not a fourth-order equation."""
    installed = discretizations()
    if not {"fd", "fem", "pinn"} <= set(installed):
        pytest.skip("needs fd, fem and pinn")
    assert installed["insr"].accepts(symop.parse(STEADY)).endswith("solve it with pinn, fd or fem")
    disk = "space x, y\ndomain disk(center: (0, 0), radius: 1)\nfield u\nequation -lap(u) = 1\nboundary all: u = 0\n"
    assert installed["insr"].accepts(symop.parse(disk)).endswith("solve it with pinn or fem")


@pytest.mark.parametrize("options, words", [
    ({"advection": "semi-lagrangian"}, "split"),
    ({"estimator": "stde", "scheme": "rk4"}, "autograd"),
])
def test_options_that_cannot_work_are_refused_before_any_training(options, words):
    with pytest.raises(OptionError, match=words):
        program(symop.parse(HEAT), **options)


def test_splitting_a_second_order_problem_is_refused():
    with pytest.raises(OptionError, match="second order"):
        program(symop.load(ROOT / "examples" / "wave.pde"), split="strang")


def test_semi_lagrangian_needs_advection_by_a_velocity():
    text = HEAT.replace("d(u, x, 2)\n", "d(u, x, 2) - dx(u)^2\n")
    with pytest.raises(OptionError, match="semi-lagrangian"):
        program(symop.parse(text), split="lie", advection="semi-lagrangian")


# ------------------------------------------------------------------ the examples
EXAMPLES = sorted(p for p in ROOT.glob("examples/**/*.pde") if symop.load(p).time is not None)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_time_dependent_example_runs_or_is_refused_with_a_sentence(path):
    problem = symop.load(path)
    why = discretizations()["insr"].accepts(problem)
    if why is not None:
        assert " " in why  # a sentence, not a bare code
        return
    span = problem.time.end - problem.time.start
    s = symop.solve(problem, "insr", progress=False, dt=span / 2, iterations=2, initial_iterations=3, points=16,
                    boundary_points=8, eval_points=16, width=4, depth=1)
    assert all(np.isfinite(v).all() for v in s.fields.values())
    assert s.info["memory"]["states"] == 3 and len(s.info["step_losses"]) == 3


# ------------------------------------------------------------------ runs
def test_the_solution_is_every_step_evaluable_anywhere_with_its_memory(tmp_path):
    problem = symop.parse(HEAT)
    s = symop.solve(problem, "insr", progress=False, dt=0.25, iterations=3, initial_iterations=5, points=32,
                    width=8, depth=1, checkpoint=str(tmp_path / "steps"), tol=1e30)
    mem = s.info["memory"]
    assert mem["floats_per_state"] == (1 * 8 + 8) + (8 + 1) and mem["states"] == 5
    assert mem["bytes"] == 4 * mem["floats_per_state"] * 5
    assert s.info["step_iterations"] == [1] * 5  # tol reached at once: one iteration per fit
    xs = np.linspace(0, 1, 7)
    assert np.allclose(s(xs, t=1.0), s(xs)) and not np.allclose(s(xs, t=0.5), s(xs))
    mid = s(xs, t=0.6)
    assert np.all(np.isfinite(mid)) and s.at(0.25).time == 0.25
    assert sorted(p.name for p in (tmp_path / "steps").iterdir()) == [f"step{k:06d}.pt" for k in range(5)]
    for k in (3, 4):  # an interrupted run: resumed from step 2, it ends where the whole run ended
        (tmp_path / "steps" / f"step{k:06d}.pt").unlink()
    again = symop.solve(problem, "insr", progress=False, dt=0.25, iterations=3, initial_iterations=5, points=32,
                        width=8, depth=1, checkpoint=str(tmp_path / "steps"), tol=1e30)
    assert np.allclose(again(xs, t=0.5), s(xs, t=0.5), rtol=0, atol=1e-12)
    assert np.allclose(again(xs), s(xs), rtol=0, atol=1e-12) and len(list((tmp_path / "steps").iterdir())) == 5
    assert "memory" in s.summary()["info"]
    # a folder of another dt or scheme is refused, not mixed into this run's steps
    with pytest.raises(SymopError, match="holds step 1 at time 0.25, but step 1 of this run is at time 0.125"):
        symop.solve(problem, "insr", progress=False, dt=0.125, iterations=3, initial_iterations=5, points=32,
                    width=8, depth=1, checkpoint=str(tmp_path / "steps"), tol=1e30)
    with pytest.raises(SymopError, match="written with scheme `midpoint`, but this run uses `heun`"):
        symop.solve(problem, "insr", progress=False, dt=0.25, scheme="heun", iterations=3, initial_iterations=5,
                    points=32, width=8, depth=1, checkpoint=str(tmp_path / "steps"), tol=1e30)


def test_a_checkpoint_folder_of_another_problem_or_network_is_refused_not_resumed(tmp_path):
    """Same dt, time interval and scheme, but another equation (or activation): its steps are not this run's."""
    folder = str(tmp_path / "steps")
    quick = dict(progress=False, dt=0.5, iterations=1, initial_iterations=2, points=16, width=4, depth=1,
                 checkpoint=folder)
    symop.solve(symop.parse(HEAT), "insr", **quick)
    with pytest.raises(SymopError, match="was written for another problem"):
        symop.solve(symop.parse(HEAT.replace("d(u, x, 2)", "2*d(u, x, 2)")), "insr", **quick)
    with pytest.raises(SymopError, match="written with activation `tanh`, but this run uses `sin`"):
        symop.solve(symop.parse(HEAT), "insr", activation="sin", **quick)
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(OptionError, match="checkpoint folder .* cannot be made"):
        symop.solve(symop.parse(HEAT), "insr", **{**quick, "checkpoint": str(blocked / "steps")})

def test_an_exact_steady_initial_state_stays_put():
    """``u = 1 + 2x`` solves dt(u) = u_xx with its own Dirichlet data: five steps leave the fitted state alone."""
    text = HEAT.replace("u = 0\n", "u = 1 + 2*x\n").replace("sin(pi*x)", "1 + 2*x")
    s = symop.solve(symop.parse(text), "insr", progress=False, dt=0.2, scheme="midpoint", iterations=2,
                    initial_iterations=40, optimizer="lbfgs", lr=1.0, points=64, boundary_points=8, width=8, depth=1,
                    dtype="float64")
    xs = np.linspace(0, 1, 21)
    for when in (0.0, 0.4, 1.0):  # as close to it at the end as the initial fit was
        assert np.abs(s(xs, t=when) - (1 + 2 * xs)).max() < 1e-3, when


DECAY = """
space x
time t in [0, 0.4]
domain interval(x: [0, 2])
boundary periodic(x)
field u
equation dt(u) = d(u, x, 2)/4
initial u = sin(pi*x)
exact u = exp(-pi^2*t/4)*sin(pi*x)
"""
#: a reaction whose rate varies in space, so that the state changes shape: for explicit schemes, which on a
#: diffusion amplify the fits' errors at high wavenumbers beyond their stability interval
REACTION = """
space x
time t in [0, 0.8]
domain interval(x: [0, 2])
boundary periodic(x)
field u
equation dt(u) = -(1 + cos(pi*x)/2)*u
initial u = sin(pi*x)
exact u = exp(-(1 + cos(pi*x)/2)*t)*sin(pi*x)
"""


def observed_orders(text: str, scheme: str, steps, initial: int, iterations: int) -> list[float]:
    problem = symop.parse(text)
    xs = np.linspace(0, 2, 101)
    errors = []
    for dt in steps:
        s = symop.solve(problem, "insr", progress=False, scheme=scheme, dt=dt, width=16, depth=2, points=128,
                        iterations=iterations, initial_iterations=initial, optimizer="lbfgs", lr=1.0,
                        dtype="float64")
        errors.append(float(np.abs(s(xs) - exact_of(problem, xs)).max()))
    return [math.log2(a / b) for a, b in zip(errors, errors[1:])]


def exact_of(problem, xs: np.ndarray) -> np.ndarray:
    """The exact solution at the end time at ``xs``."""
    expr = problem.numeric(problem.exact["u"]).subs(problem.t, problem.time.end)
    return np.broadcast_to(sp.lambdify(problem.space.coords[0], expr, "numpy")(xs), xs.shape)


@pytest.mark.parametrize("text, scheme, order, initial", [(REACTION, "euler", 1, 20), (DECAY, "midpoint", 2, 50)],
                         ids=["euler", "midpoint"])
def test_observed_temporal_order_with_few_steps(text, scheme, order, initial):
    (p,) = observed_orders(text, scheme, (0.2, 0.1), initial, 3)
    assert abs(p - order) < 0.2, p


@pytest.mark.slow
@pytest.mark.parametrize("text, scheme, order, steps", [
    # steps where the time-discrete solution itself shows its order within 0.1 (explicit Euler on DECAY at
    # dt = 0.2 has 1.19: pre-asymptotic), and the fitted networks' error stays below the scheme's.  Heun and rk4
    # are not here: each fit leaves an error of about 3e-5 (losses near 1e-9 at fresh points), which over the
    # 16 steps of dt = 0.05 reaches their time error where it is asymptotic; their stages are checked by the
    # residual tests above
    (REACTION, "euler", 1, (0.2, 0.1, 0.05)),
    (DECAY, "backward-euler", 1, (0.1, 0.05, 0.025)), (DECAY, "midpoint", 2, (0.2, 0.1, 0.05)),
    (DECAY, "crank-nicolson", 2, (0.2, 0.1, 0.05))], ids=["euler", "backward-euler", "midpoint",
                                                         "crank-nicolson"])
def test_observed_temporal_order(text, scheme, order, steps):
    orders = observed_orders(text, scheme, steps, 200, 5)
    assert all(abs(p - order) < 0.2 for p in orders), orders


# ------------------------------------------------------------------ hard Dirichlet data
MOVING = ("space x\ntime t in [0, 0.2]\ndomain interval(x: [0, 1])\nfield u\nequation dt(u) = d(u, x, 2)\n"
          "boundary all: u = t*(1 - x) + (1 + t)*x\ninitial u = x + sin(pi*x)\n")


def test_hard_dirichlet_data_hold_exactly_at_every_stored_and_between_time():
    s = symop.solve(symop.parse(MOVING), "insr", progress=False, hard=True, dt=0.1, iterations=2,
                    initial_iterations=5, width=8, depth=1, points=32)
    for when in (0.0, 0.1, 0.15, 0.2):
        assert np.allclose(s(np.array([0.0, 1.0]), t=when), [when, 1 + when], rtol=0, atol=1e-6), when
    plain = program(symop.parse(MOVING)).physics("cpu")
    hard = program(symop.parse(MOVING), hard=True).physics("cpu")
    assert len(plain.boundary_terms) == 1 and hard.boundary_terms == []


def test_hard_keeps_the_penalties_of_the_other_sides():
    prog = program(symop.load(ROOT / "examples" / "heat.pde"), hard=True)
    kinds = sorted(term.name.split(":")[1].rstrip("]") for term in prog.physics("cpu").boundary_terms)
    assert kinds == ["neumann", "robin"]


@pytest.mark.parametrize("text, words", [
    (MOVING.replace("boundary all: u = t*(1 - x) + (1 + t)*x", "boundary left: u = t\nboundary right: u = 1 + t"),
     "one Dirichlet expression"),
    (HEAT.replace("boundary all: u = 0", "boundary periodic(x)"), "periodic"),
    (HEAT.replace("boundary all: u = 0", "boundary all: dn(u) = 0"), "no Dirichlet"),
    (HEAT.replace("domain interval(x: [0, 1])", "domain disk(center: (0, 0), radius: 1)")
     .replace("space x", "space x, y")
     .replace("boundary all: u = 0", "boundary all: dn(u) = 0"), "no Dirichlet"),
])
def test_hard_is_refused_where_it_cannot_hold(text, words):
    with pytest.raises(OptionError, match=words):
        program(symop.parse(text), hard=True)


@pytest.mark.parametrize("resample", [True, False])
def test_a_fit_draws_fresh_points_every_step_unless_told_not_to(resample):
    from symop_insr.steps import Fitter, FitSettings

    prog = program(symop.parse(HEAT), resample=resample)
    physics = prog.physics("cpu")
    fitter = Fitter(physics, prog.network(physics), FitSettings(points=16, seed=1, resample=resample))
    first, later, other = fitter.batch(3, 0).X, fitter.batch(3, 5).X, fitter.batch(4, 0).X
    assert torch.equal(first, later) != resample and not torch.equal(first, other)


def test_a_run_fits_with_the_points_seed_and_resampling_its_options_give(monkeypatch):
    from symop_insr import steps

    class Fitted(Exception):
        """Raised by the first fit with the fitter's settings (nothing trains)."""

    def fit(self, *args, **kwargs):
        raise Fitted(self.settings)

    monkeypatch.setattr(steps.Fitter, "fit", fit)
    with pytest.raises(Fitted) as caught:
        symop.solve(symop.parse(HEAT), "insr", progress=False, dt=0.5, points=24, boundary_points=12, seed=7,
                    resample=False, width=4, depth=1)
    s = caught.value.args[0]
    assert (s.points, s.boundary_points, s.seed, s.resample) == (24, 12, 7, False)


# ------------------------------------------------------------------ a time step too large for accuracy
class _Mode(torch.nn.Module):
    """The "network" ``amplitude * sin(pi x)`` (no parameters)."""

    def __init__(self, amplitude: float) -> None:
        super().__init__()
        self.amplitude = float(amplitude)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.amplitude * torch.sin(math.pi * X[:, :1])


@pytest.mark.parametrize("ratio", [0.5, 0.9, -0.2])
def test_the_time_residual_is_half_the_relative_change_of_the_rate(ratio):
    """States ``r^k sin(pi x)`` of dt(u) = u_xx/4: every rate is ``-pi^2/4`` times its state, so the measured
    residual at the step ends is (1 - r)/2 of the largest rate, exactly."""
    from symop_insr.accuracy import time_residual

    physics = program(symop.parse(DECAY)).physics("cpu")
    nets = [_Mode(ratio ** k) for k in range(4)]
    rho = time_residual(physics, nets, [0.1 * k for k in range(4)], 64, 0)
    assert rho == pytest.approx((1 - ratio) / 2, rel=1e-6)


def test_a_steady_run_measures_no_time_residual():
    from symop_insr.accuracy import time_residual

    physics = program(symop.parse(DECAY.replace("sin(pi*x)", "1").replace("d(u, x, 2)/4", "d(u, x, 2)/4 + 1e-9")
                                  )).physics("cpu")
    assert time_residual(physics, [_Mode(0.0)] * 3, [0.0, 0.1, 0.2], 64, 0) == 0.0


def test_a_time_step_too_large_for_accuracy_warns_with_the_measured_residual():
    """Midpoint steps of 0.2 on a mode decaying at pi^2/4 (lambda dt = 0.49) leave it 2 % off per step: the run
    warns with the residual it measured; steps of 0.05 (lambda dt = 0.12) do not."""
    options = dict(progress=False, scheme="midpoint", width=8, depth=1, points=64, boundary_points=8, iterations=2,
                   initial_iterations=30, dtype="float64")
    with pytest.warns(UserWarning, match=r"dt = 0.2 is too large for accuracy.* is 0\.2\d? of the largest rate"):
        s = symop.solve(symop.parse(DECAY), "insr", dt=0.2, **options)
    assert s.info["time_residual"] > 0.1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        s = symop.solve(symop.parse(DECAY), "insr", dt=0.05, **options)
    assert s.info["time_residual"] < 0.1
