"""The hypino method: encoding, training, zero-shot solving, refinement, resume and DDP.

Tiny models and a tiny family (a few seconds of training) keep the file fast;
the assertions compare against an untrained network or a single process, so
each can fail.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import symop
from symop.errors import MethodError, OptionError
from symop.mms import manufacture, random_solution
from symop.nn import make_engine
from symop_hypino import dataset, store
from symop_hypino.encoding import Spec, encode
from symop_hypino.errors import UnsupportedProblem
from symop_hypino.fit import FitOptions, fit
from symop_hypino.hypernet import Config, HyperNetwork
from symop_hypino.linear import linear_form
from symop_hypino.refine import refine, residual, zero_shot
from symop.training import load_checkpoint

from launch import torchrun

ROOT = Path(__file__).resolve().parents[1]

FAMILY = """\
problem tiny "a small screened Poisson family"
space x, y
domain box(x: [-1, 1], y: [-1, 1])
param k in [0, 2]
param s in [0.5, 2]
field u
equation -lap(u) + k*u = s*(1 + x)
boundary left, right, bottom: u = 0
boundary top: dn(u) = 0
"""

SIZES = {"grid": 16, "patch": 4, "dim": 32, "layers": 1, "heads": 2, "width": 24, "depth": 2, "points": 128,
         "boundary_points": 64, "mms_modes": 2, "mms_frequency": 1, "labelled": 0.75, "batch": 8, "lr": 3e-3}
SPEC = Spec(grid=16, points=128, boundary_points=64)


@pytest.fixture(scope="module")
def family(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hypino") / "tiny.pde"
    path.write_text(FAMILY)
    return path


@pytest.fixture(scope="module")
def trained(family, tmp_path_factory):
    """One training run shared by the tests that need a model: (report, model path)."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("model") / "tiny.pt"
    report = symop.train(family, "hypino", samples=24, output=out, seed=0, steps=200, **SIZES)
    return report, out


def held_out_error(hyper: HyperNetwork, instances) -> float:
    errors = []
    for inst in instances:
        ens = zero_shot(hyper, inst)
        with torch.no_grad():
            u = ens(inst.Z[None])[0]
        errors.append(float(((u - inst.u) ** 2).mean().sqrt() / (inst.u ** 2).mean().sqrt()))
    return float(np.mean(errors))


# ----------------------------------------------------------------- the class of problems
def test_linear_form_reads_coefficients_source_and_conditions():
    p = symop.load(ROOT / "examples/operators/helmholtz.pde")
    form = linear_form(p)
    assert [float(c) for c in form.coefficients] == [1, 0, 0, 1, 0, 1]
    assert form.conditions[0].kind == "dirichlet" and form.conditions[0].g == 0
    heat = linear_form(symop.load(ROOT / "examples/operators/heat.pde"))
    assert heat.timed and [c != 0 for c in heat.coefficients] == [False, False, True, True, False, False]
    assert {c.parts for c in heat.conditions} >= {("initial",)}


def test_nonlinear_and_system_problems_are_refused_with_sentences(family):
    p = symop.load(family)
    eq = p.equations[0]
    nonlinear = replace(p, equations=(replace(eq, lhs=eq.lhs + p.fields[0].applied ** 2),))
    with pytest.raises(UnsupportedProblem, match="linear equations"):
        linear_form(nonlinear)
    gray = symop.load(ROOT / "examples/gray_scott.pde")
    with pytest.raises(MethodError, match="two variables|one field"):
        symop.solve(gray, method="hypino", model="nothing.pt")


def test_numeric_manufacture_matches_symop_mms(family):
    p = symop.load(family)
    u = random_solution(p, 5, modes=2, max_frequency=2)["u"]
    numeric = encode(p, SPEC, seed=3, exact=u)
    symbolic = encode(manufacture(p, {"u": u}, simplify=False), SPEC, seed=3)
    for name in ("f", "g", "u", "ub", "grid_source"):
        a, b = getattr(numeric, name), getattr(symbolic, name)
        assert torch.allclose(a, b, atol=1e-5 * (1 + float(b.abs().max()))), name


def test_encoding_marks_geometry_and_boundary_kinds():
    p = symop.load(ROOT / "examples/operators/poisson_holes.pde")
    inst = encode(p, SPEC)
    from symop_hypino.encoding import image

    im = image(inst)
    assert 0.7 < float(im[0].mean()) < 1.0  # four holes are outside
    assert float(im[8].sum()) > 0 and float(im[10].sum()) == 0  # Dirichlet everywhere, no Neumann


def test_a_batch_stays_on_the_device_of_its_instances(family):
    """Every tensor of a collated batch is on the instances' device ("meta" stands in for CUDA: a tensor made
    without a device would land on the CPU, as the labelled flags once did)."""
    from symop_hypino.encoding import collate

    instances = dataset.build(symop.load(family), 3, 0, SPEC, labelled=0.5)
    collate(instances)  # the images, computed from the values (meta tensors have none), travel with them
    batch = collate([i.to("meta") for i in instances])
    assert {k: v.device.type for k, v in batch.items()} == {k: "meta" for k in batch}


# ----------------------------------------------------------------- training and solving
def test_training_loss_falls_and_zero_shot_error_falls(trained, family):
    report, path = trained
    losses = report.losses
    assert len(losses) == 200
    # with the corrections scaled by Xavier std / D (too small) the ratio was 0.54 and the error 0.67
    assert np.mean(losses[-20:]) < 0.45 * np.mean(losses[:20])
    p = symop.load(family)
    held = dataset.build(p, 8, 999, SPEC, labelled=1.0, modes=2, frequency=1)
    hyper, _, data = store.load(path)
    torch.manual_seed(0)
    untrained = HyperNetwork(Config(**data["config"]))
    before, after = held_out_error(untrained, held), held_out_error(hyper, held)
    assert after < 0.65 * before, (before, after)


def test_refinement_lowers_the_residual_at_each_step(trained, family):
    _, path = trained
    hyper, _, _ = store.load(path)
    p = symop.load(family)
    inst = dataset.build(p, 1, 4242, SPEC, labelled=1.0, modes=2, frequency=1)[0]
    engine = make_engine("autograd")
    ens = zero_shot(hyper, inst)
    history = refine(hyper, engine, inst, ens, 3)
    values = [h["residual"] for h in history]
    assert all(b < a for a, b in zip(values, values[1:])), values
    assert residual(engine, ens, inst).loss() == pytest.approx(values[-1], rel=1e-4)


def test_run_returns_a_solution_with_errors_and_refinement_record(trained, family, tmp_path):
    _, path = trained
    p = symop.load(family)
    u = random_solution(p, 8, modes=2, max_frequency=1)["u"]
    member = manufacture(p, {"u": u})
    sol = symop.solve(member, method="hypino", model=str(path), refine=2, finetune=5, points=128,
                      boundary_points=64, eval_points=300)
    assert sol.fields["u"].shape == (300,)
    assert np.isfinite(sol.errors()["u"]["rel_l2"])
    assert len(sol.info["refinement"]) == 3 and sol.info["terms"] == 3


def test_finetuning_takes_gauss_newton_steps(trained, family):
    """engd fine-tunes through the shared registry: the line search never accepts a higher loss on a step's points."""
    _, path = trained
    p = symop.load(family)
    u = random_solution(p, 8, modes=2, max_frequency=1)["u"]
    member = manufacture(p, {"u": u})
    sol = symop.solve(member, method="hypino", model=str(path), refine=0, finetune=3, finetune_optimizer="engd",
                      points=64, boundary_points=32, eval_points=100)
    losses = sol.info["finetune_losses"]
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_finetuning_with_kfac_steps_one_generated_network_and_refuses_a_sum(trained, family):
    """kfac takes Kronecker factors of the generated MLP itself (no refinement); a refined sum is refused."""
    _, path = trained
    p = symop.load(family)
    member = manufacture(p, {"u": random_solution(p, 8, modes=2, max_frequency=1)["u"]})
    sol = symop.solve(member, method="hypino", model=str(path), refine=0, finetune=3, finetune_optimizer="kfac",
                      points=64, boundary_points=32, eval_points=100)
    losses = sol.info["finetune_losses"]
    assert len(losses) == 3 and all(np.isfinite(losses))
    with pytest.raises(OptionError, match="sum of networks"):
        symop.solve(member, method="hypino", model=str(path), refine=1, finetune=3, finetune_optimizer="kfac")
    with pytest.raises(OptionError, match="`finetune_lr` is not used by kfac, which finds its own step length"):
        symop.solve(member, method="hypino", model=str(path), refine=0, finetune=3, finetune_optimizer="kfac",
                    finetune_lr=1e-6)


def test_user_errors_read_as_sentences(trained, family, tmp_path):
    _, path = trained
    p = symop.load(family)
    with pytest.raises(MethodError, match="needs a trained model"):
        symop.solve(p, method="hypino")
    with pytest.raises(MethodError, match="no model file"):
        symop.solve(p, method="hypino", model=str(tmp_path / "missing.pt"))
    other = symop.load(ROOT / "examples/operators/helmholtz.pde")
    with pytest.raises(MethodError, match="trained for the family `tiny`"):
        symop.solve(other, method="hypino", model=str(path))
    heat = symop.load(ROOT / "examples/operators/heat.pde")
    with pytest.raises(MethodError, match="one space variable and time"):
        symop.solve(heat, method="hypino", model=str(path), strict=False)


def test_a_family_is_matched_by_its_structure_not_its_name(trained, tmp_path):
    """The training file under another problem name (and title) is the same family; another operator is not."""
    _, path = trained
    renamed = tmp_path / "renamed.pde"
    renamed.write_text(FAMILY.replace('problem tiny "a small screened Poisson family"', 'problem other "renamed"'))
    sol = symop.solve(symop.load(renamed), method="hypino", model=str(path))
    assert np.isfinite(np.asarray(sol.fields["u"])).all()
    fixed = tmp_path / "fixed.pde"  # a member: a random parameter given one value still matches
    fixed.write_text(FAMILY.replace("param k in [0, 2]", "param k = 1.5"))
    symop.solve(symop.load(fixed), method="hypino", model=str(path))
    changed = tmp_path / "changed.pde"  # the same name, a different operator
    changed.write_text(FAMILY.replace("-lap(u) + k*u", "-lap(u) + k*u + d(u, x)"))
    with pytest.raises(MethodError, match="differs from `tiny` in its equation"):
        symop.solve(symop.load(changed), method="hypino", model=str(path))
    symop.solve(symop.load(changed), method="hypino", model=str(path), strict=False)


# ----------------------------------------------------------------- resume and DDP
def _small(seed=0) -> HyperNetwork:
    torch.manual_seed(seed)
    return HyperNetwork(Config(grid=16, patch=4, dim=16, layers=1, heads=2, width=8, depth=1))


def test_checkpoint_resume_ends_where_an_uninterrupted_run_ends(family, tmp_path):
    p = symop.load(family)
    data = dataset.build(p, 6, 1, SPEC, labelled=0.5, modes=2, frequency=1)
    opts = FitOptions(steps=8, batch=4, lr=3e-3, seed=1, checkpoint_every=2)
    engine = make_engine("autograd")
    whole = _small()
    fit(whole, data, engine, opts)

    class Stop(Exception):
        pass

    def stop(step):
        if step == 5:
            raise Stop

    ckpt = tmp_path / "m.pt.ckpt"
    broken = _small()
    with pytest.raises(Stop):
        fit(broken, data, engine, opts, checkpoint=ckpt, callback=stop)
    resumed = _small(seed=123)  # different start: everything must come from the checkpoint
    history = fit(resumed, data, engine, opts, checkpoint=ckpt, resume=True)
    assert len(history) == 8
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_ddp_with_two_gloo_processes_matches_one_process(family, tmp_path):
    settings = ["--set", "steps=4", "--set", "batch=4", "--set", "grid=16", "--set", "dim=16", "--set", "layers=1",
                "--set", "heads=2", "--set", "width=8", "--set", "depth=1", "--set", "points=64",
                "--set", "boundary_points=32", "--set", "mms_frequency=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    two = tmp_path / "two.pt"
    run = torchrun(["-m", "symop", "train", str(family), "--method", "hypino", "--samples", "8", "-o", str(two), "-q",
                    *settings], 2, env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    one = tmp_path / "one.pt"
    options = {k.split("=")[0]: k.split("=")[1] for k in settings[1::2]}
    symop.train(family, "hypino", samples=8, output=one, seed=0, **options)
    a, b = load_checkpoint(one), load_checkpoint(two)
    assert np.allclose(a["history"], b["history"], rtol=1e-5)
    for key in a["state"]:
        assert torch.allclose(a["state"][key], b["state"][key], atol=1e-5), key


@pytest.mark.parametrize("given, words", [
    (dict(finetune_optimizer="engd"), "`finetune_optimizer` acts only with finetune other than 0, and this run has "
                                      "finetune 0: change finetune, or leave finetune_optimizer out."),
    (dict(finetune_lr=1e-2), "`finetune_lr` acts only with finetune other than 0"),
    (dict(delta_lr=1e-2), "`delta_lr` acts only with delta_steps other than 0"),
])
def test_options_of_a_stage_that_is_off_are_refused(family, tmp_path, given, words):
    """Fine-tuning and delta-training options do nothing while their stage is off: hypino says so up front."""
    with pytest.raises(OptionError, match=re.escape(words)):
        symop.solve(symop.load(family), method="hypino", model=str(tmp_path / "none.pt"), **given)


def test_messages_quote_equations_in_the_language_of_the_file(family, tmp_path):
    """A model of another family, and a boundary condition hypino cannot read, are quoted as the file writes
    them (`-lap(u)`, `dn(u)`), not as SymPy prints them (`Derivative(u(x, y), (x, 2))`)."""
    from symop_hypino.errors import ModelError

    tiny = symop.load(family)
    assert store.family(tiny)["equation"] == "-lap(u) + k*u = s*(x + 1)"
    other = symop.load(ROOT / "examples/operators/helmholtz.pde")
    with pytest.raises(ModelError, match=r"trained for the family `tiny` \(-lap\(u\) \+ k\*u = s\*\(x \+ 1\)\)") as err:
        store.check({"family": store.family(tiny)}, other, "tiny.pt", strict=True)
    assert "Derivative" not in str(err.value) and "u(x, y)" not in str(err.value)
    general = symop.parse(FAMILY.replace("boundary top: dn(u) = 0", "boundary top: u*dn(u) = 0"))
    with pytest.raises(UnsupportedProblem, match=r"not `u\*dn\(u\) = 0`") as err:
        linear_form(general)
    assert "Derivative" not in str(err.value)
