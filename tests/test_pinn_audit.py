"""pinn as a user meets it: checkpoints of other runs refused, unwritable paths and interrupts, kfac's singular
factors, messages, and the residual of exact solutions on curved Neumann and Robin sides."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import symop
from symop.errors import OptionError, SolveError
from symop.nn import PhysicsLoss, make_engine
from symop.nn.hard import HardConstraintError
from symop.training import Checkpoint, CheckpointError, NonFiniteLoss, Phase, load_checkpoint, optimize

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

SMALL = dict(width=8, depth=1, points=16, boundary_points=8, eval_points=20, steps=4)

# the same fields, inputs and outputs as poisson.pde: only the problem's hash tells them apart
POISSON_OTHER_SOURCE = """
problem poisson "Poisson equation with another source"
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
equation -lap(u) = 1
boundary all: u = 0
"""

# the data of dn(u) are written with the outward normal spelled out (dn(exact(u)) would use the method's own
# normal on both sides and hide its sign)
DISK_ROBIN = """
problem disk_robin "Robin data on an off-centre disk"
space x, y
domain disk(center: (0.5, -0.2), radius: 0.7)
field u
exact u = exp(x)*cos(y) + x*y^2
equation -lap(u) + u = -lap(exact(u)) + exact(u)
let g = (exp(x)*cos(y) + y^2)*(x - 0.5)/0.7 + (2*x*y - exp(x)*sin(y))*(y + 0.2)/0.7
boundary boundary: dn(u) + 2*u = g + 2*exact(u)
"""

DISK_NEUMANN = """
problem disk_neumann "Neumann data on an off-centre disk, its normal written out"
space x, y
domain disk(center: (0.5, -0.2), radius: 0.7)
field u
exact u = x^3 + 2*y + x*y
equation -lap(u) + u = -lap(exact(u)) + exact(u)
boundary boundary: dn(u) = (3*x^2 + y)*(x - 0.5)/0.7 + (2 + x)*(y + 0.2)/0.7
"""

HOLE_ROBIN = """
problem hole_robin "Robin data on a hole: its outward normal points into the hole"
space x, y
domain box(x: [0, 1], y: [0, 1]) minus disk(center: (0.5, 0.5), radius: 0.2) as hole
field u
exact u = exp(x)*cos(y) + x*y
equation -lap(u) = -lap(exact(u))
boundary left, right, top, bottom: u = exact(u)
boundary hole: dn(u) + 2*u = -(exp(x)*cos(y) + y)*(x - 0.5)/0.2 - (x - exp(x)*sin(y))*(y - 0.5)/0.2 + 2*exact(u)
"""


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def _solve(source, **options):
    problem = symop.parse(source) if "\n" in str(source) else symop.load(source)
    return symop.solve(problem, method="pinn", **{**SMALL, **options})


# ------------------------------------------------------------------ checkpoints
def test_a_checkpoint_is_resumed_by_the_same_run(tmp_path):
    ck = tmp_path / "run.pt"
    _solve(EXAMPLES / "poisson.pde", checkpoint=str(ck))
    _solve(EXAMPLES / "poisson.pde", checkpoint=str(ck), steps=6)
    state = load_checkpoint(ck)
    assert state["step"] == 6 and len(state["losses"]) == 6 and state["problem"] and state["width"] == 8


def test_a_checkpoint_of_another_problem_is_refused(tmp_path):
    """Same inputs, outputs and network: before, the other problem's network was silently trained on."""
    ck = tmp_path / "run.pt"
    _solve(EXAMPLES / "poisson.pde", checkpoint=str(ck))
    with pytest.raises(CheckpointError, match="written for another problem .*delete it"):
        _solve(POISSON_OTHER_SOURCE, checkpoint=str(ck), steps=8)
    with pytest.raises(CheckpointError, match="written for another problem"):  # a disk: 2 inputs, 1 output too
        _solve(EXAMPLES / "disk_poisson.pde", checkpoint=str(ck), steps=8)
    assert load_checkpoint(ck)["step"] == 4  # untouched


@pytest.mark.parametrize("given, other, words", [
    ({}, {"activation": "sin"}, "activation `tanh`, and this run has activation `sin`"),
    ({"output_scale": 2.0}, {"output_scale": 3.0}, "output_scale `2.0`, and this run has output_scale `3.0`"),
    ({"fourier": 4}, {"fourier": 4, "sigma": 2.0}, "sigma `1.0`, and this run has sigma `2.0`"),
    ({}, {"optimizer": "engd", "warmup": 8}, "optimizer option `adam`, and this run has optimizer option `engd`"),
])
def test_a_checkpoint_of_other_network_or_optimizer_options_is_refused(tmp_path, given, other, words):
    """Options that leave the parameters' shapes alone were resumed silently before."""
    ck = tmp_path / "run.pt"
    _solve(EXAMPLES / "poisson.pde", checkpoint=str(ck), **given)
    with pytest.raises(CheckpointError, match=words):
        _solve(EXAMPLES / "poisson.pde", checkpoint=str(ck), **{**given, **other, "steps": 8})


def test_a_hard_checkpoint_is_not_resumed_soft(tmp_path):
    ck = tmp_path / "run.pt"
    _solve(EXAMPLES / "disk_poisson.pde", checkpoint=str(ck), hard=True)
    with pytest.raises(CheckpointError, match="hard `on`, and this run has hard `off`"):
        _solve(EXAMPLES / "disk_poisson.pde", checkpoint=str(ck), hard=False, output_scale=1.5, steps=8)


def test_an_unwritable_checkpoint_is_refused_before_training(tmp_path):
    """Before, /proc/x trained to the first checkpoint and ended in FileNotFoundError."""
    with pytest.raises(OptionError, match="checkpoint `/proc/x` cannot be written"):
        _solve(EXAMPLES / "poisson.pde", checkpoint="/proc/x")
    with pytest.raises(OptionError, match="is a folder; name a file in it"):
        optimize(torch.nn.Linear(1, 1), lambda step: {"a": torch.tensor(1.0, requires_grad=True)}, [Phase(1)],
                 checkpoint=Checkpoint(tmp_path))


def _line():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1).double()
    X = torch.randn(32, 2, dtype=torch.float64)

    def loss(step):
        return {"fit": ((model(X) - X.sum(1, keepdim=True)) ** 2).mean()}
    return model, loss


def test_an_interrupt_between_steps_leaves_the_checkpoint_of_the_last_step(tmp_path):
    """Ctrl-C in a callback: the checkpoint holds the step before it, and resuming ends where one run ends."""
    path = tmp_path / "run.ckpt"
    phases = [Phase(20, "adam", 1e-2)]
    model, loss = _line()
    whole = optimize(model, loss, phases)

    def halt(record):
        if record.step == 7:
            raise KeyboardInterrupt

    model, loss = _line()
    with pytest.raises(KeyboardInterrupt):
        optimize(model, loss, phases, checkpoint=Checkpoint(path, every=5), callbacks=[halt])
    assert load_checkpoint(path)["step"] == 7  # not 5, the last one written every 5 steps
    model, loss = _line()
    again = optimize(model, loss, phases, checkpoint=Checkpoint(path, every=5, resume=True))
    assert again.start_step == 7 and again.losses == whole.losses


def test_a_checkpoint_inside_another_schedule_is_refused(tmp_path):
    """Step 3 of a 5-step warm-up is not a point of a run whose warm-up has 2 steps."""
    path = tmp_path / "run.ckpt"
    model, loss = _line()
    optimize(model, loss, [Phase(5, "adam"), Phase(3, "lbfgs")], checkpoint=Checkpoint(path),
             until=lambda record: record.step == 3)
    assert load_checkpoint(path)["step"] == 3
    with pytest.raises(CheckpointError, match="written at step 3, in a phase of `adam` that this run has at steps "
                                              "1 to 2"):
        optimize(model, loss, [Phase(2, "adam"), Phase(3, "lbfgs")], checkpoint=Checkpoint(path, resume=True))
    # a checkpoint of a phase this run does not have (pinn's lbfgs, dropped): no longer resumed into adam
    optimize(model, loss, [Phase(2, "adam"), Phase(1, "lbfgs")], checkpoint=Checkpoint(tmp_path / "polished.ckpt"))
    with pytest.raises(CheckpointError, match="in phase 2 \\(`lbfgs`\\), and this run has 1 phase: it was written "
                                              "with another schedule"):
        optimize(model, loss, [Phase(8, "adam")], checkpoint=Checkpoint(tmp_path / "polished.ckpt", resume=True))


# ------------------------------------------------------------------ optimizers' failures as sentences
def test_kfac_with_singular_factors_is_a_sentence():
    """Before: torch's LinAlgError from a Cholesky factorisation, mid-run."""
    with pytest.raises(SolveError, match="Kronecker factors of layer .* singular in float32 .*raise `damping`"):
        _solve(EXAMPLES / "poisson.pde", optimizer="kfac", damping=1e-30, width=12, depth=2, points=64,
               boundary_points=32, steps=30)


def test_a_non_finite_loss_names_the_fix_of_its_optimizer():
    from symop_pinn.train import nonfinite_hint

    assert nonfinite_hint(Phase(1, "adam")) == "lower `lr`"
    assert "raise `damping`" in nonfinite_hint(Phase(1, "engd")) and "lr" not in nonfinite_hint(Phase(1, "kfac"))
    weight = torch.nn.Parameter(torch.tensor(1.0))
    with pytest.raises(NonFiniteLoss, match=r"\(soap, .*Hint for soap\.$"):
        optimize(torch.nn.ParameterList([weight]), lambda step: {"a": weight * math.inf}, [Phase(2, "soap")],
                 hint=lambda phase: f"hint for {phase.optimizer}")


def test_hard_on_an_interval_says_an_interval():
    with pytest.raises(HardConstraintError, match="this domain is an interval; leave hard off"):
        _solve(EXAMPLES / "advection_diffusion.pde", hard=True)


# ------------------------------------------------------------------ residuals of exact solutions
def _curved_residuals(source, flip=False):
    problem = symop.parse(source)
    loss = PhysicsLoss(problem, make_engine("autograd"), points=64, boundary_points=64, dtype=torch.float64, seed=5)
    fns = [loss._aux(problem.exact[name]) for name in problem.field_names]

    def model(X):
        return torch.cat([f(X) for f in fns], dim=1)
    out = {}
    for term, (X, n) in zip(loss.terms, loss.sample(0)):
        if flip and n is not None and term.kind != "periodic":
            n = -n
        out[term.name] = float(loss.residual(model, term, X, n, create_graph=False).detach().abs().max())
    return out


@pytest.mark.parametrize("source", [DISK_ROBIN, DISK_NEUMANN, HOLE_ROBIN])
def test_the_exact_solution_has_no_residual_on_curved_neumann_and_robin_sides(source):
    """The outward normal of a disk and of a hole (pointing into it): the exact solution's residual is ~0, and
    with the normal reversed it is not (the data's normal derivatives do not vanish there)."""
    res = _curved_residuals(source)
    assert all(r < 1e-9 for r in res.values()), res
    flipped = _curved_residuals(source, flip=True)
    curved = [name for name in res if "neumann" in name or "robin" in name]
    assert curved and all(flipped[name] > 1e-2 for name in curved), flipped


def test_pinn_trains_with_robin_data_on_a_disk():
    """Neumann-type data alone fixes the solution: engd from the Robin side reaches the exact one."""
    sol = _solve(DISK_ROBIN, optimizer="engd", width=16, depth=2, points=128, boundary_points=64, steps=60,
                 dtype="float64", eval_points=200)
    assert np.isfinite(sol.info["final_loss"]) and sol.errors()["u"]["rel_l2"] < 5e-2, sol.errors()
