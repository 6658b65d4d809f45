"""Families of problems (random parameters) and the training spine shared by neural operators."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

import symop
from symop import plugins
from symop.errors import SourceErrors, SymopError
from symop.model.family import FamilyError, draw, instantiate, is_family, member, members
from symop.training import DistInfo, load_checkpoint, progress_bar, save_checkpoint, shard

from launch import torchrun

FAMILY = """
problem fam
space x, y
domain box(x: [0, 1], y: [0, 1])
param k in [1, 2], c ~ loguniform(0.1, 1), s ~ normal(0, 0.5), m ~ choice(1, 2, 5)
param f ~ field(modes: 2, amplitude: 1, kinds: (fourier, gaussian))
param fixed = 3
field u
equation -k*lap(u) + c*u = f + s*m + fixed
boundary left, right, top, bottom: u = 0
"""


def test_every_distribution_parses_with_its_representative_value():
    p = symop.parse(FAMILY)
    kinds = {n: d.kind for n, d in p.param_distributions.items()}
    assert kinds == {"k": "uniform", "c": "loguniform", "s": "normal", "m": "choice", "f": "field"}
    assert p.params["k"] == 1.5 and p.params["c"] == pytest.approx(np.sqrt(0.1))
    assert p.params["s"] == 0.0 and p.params["m"] == 1.0 and p.params["f"] == 0.0 and p.params["fixed"] == 3.0
    assert p.param_ranges == {"k": (1.0, 2.0)}
    assert p.param_distributions["f"].options == {"modes": 2, "amplitude": 1.0, "kinds": ("fourier", "gaussian")}
    assert is_family(p) and not is_family(symop.parse(FAMILY.replace("param k in [1, 2], c ~ loguniform(0.1, 1), s ~ normal(0, 0.5), m ~ choice(1, 2, 5)\nparam f ~ field(modes: 2, amplitude: 1, kinds: (fourier, gaussian))", "param k = 1, c = 1, s = 0, m = 1, f = 0")))


def test_draws_are_reproducible_and_inside_their_supports():
    p = symop.parse(FAMILY)
    a, b = draw(p, 7), draw(p, 7)
    assert {n: str(v) for n, v in a.items()} == {n: str(v) for n, v in b.items()}
    x, y = p.space.coords
    for seed in range(30):
        v = draw(p, seed)
        assert 1 <= float(v["k"]) <= 2 and 0.1 <= float(v["c"]) <= 1 and int(v["m"]) in (1, 2, 5)
        assert v["f"].free_symbols <= {x, y} and v["f"].free_symbols
        grid = np.linspace(0, 1, 11)
        values = sp.lambdify((x, y), v["f"], "numpy")(*np.meshgrid(grid, grid))
        assert np.max(np.abs(values)) <= 1.0 + 1e-12
    spread = [float(draw(p, s)["s"]) for s in range(400)]
    assert abs(np.mean(spread)) < 0.1 and 0.4 < np.std(spread) < 0.6


def test_a_member_is_an_ordinary_problem_that_fd_solves():
    p = symop.parse(FAMILY)
    values, m = member(p, seed=3, index=0)
    assert not is_family(m) and "f" not in m.params and "f" not in m.param_symbols
    assert m.params["k"] == pytest.approx(float(values["k"])) and m.params["fixed"] == 3.0
    rhs = m.equations[0].rhs
    assert not rhs.has(p.param_symbols["f"]) and (rhs.has(sp.sin) or rhs.has(sp.exp))
    sol = symop.solve(m, method="fd", n=16)
    assert np.isfinite(sol.fields["u"]).all() and np.abs(sol.fields["u"]).max() > 0


def test_a_parameter_given_a_value_is_no_longer_random():
    p = symop.parse(FAMILY).with_params(k=3)
    assert "k" not in p.param_distributions and "k" not in p.param_ranges and p.params["k"] == 3.0
    assert all(m.params["k"] == 3.0 for _, m in members(p, 3, seed=0))


DARCY = """
problem darcy
space x, y
domain box(x: [0, 1], y: [0, 1])
param a ~ field(mean: 2, amplitude: 1, modes: 2, kinds: fourier)
field u
equation -div(a*grad(u)) = 1
boundary left, right, top, bottom: u = 0
"""


def test_a_random_field_inside_a_derivative_keeps_its_derivatives():
    """div(a*grad(u)) with a random field a: the product rule's a_x, a_y are parameters drawn with a."""
    p = symop.parse(DARCY)
    assert [d.kind for d in p.param_distributions.values()] == ["field", "derivative", "derivative"]
    assert p.params == {"a": 2.0, "a_x": 0.0, "a_y": 0.0}  # the representative: the mean, a constant
    x, y = p.space.coords
    u = p.field("u").applied
    for values, m in members(p, 3, seed=4):
        a = values["a"]
        assert a.free_symbols == {x, y}
        expected = -(sp.diff(a * sp.diff(u, x), x) + sp.diff(a * sp.diff(u, y), y))
        assert sp.simplify(m.equations[0].lhs - expected) == 0
        grid = np.linspace(0, 1, 9)
        va = sp.lambdify((x, y), a, "numpy")(*np.meshgrid(grid, grid))
        assert 1.0 - 1e-12 <= va.min() and va.max() <= 3.0 + 1e-12  # mean 2, amplitude 1
    fixed = p.with_params(a=1.5)
    assert fixed.params["a_x"] == 0.0 and not is_family(fixed)


def test_member_i_does_not_depend_on_how_many_are_drawn():
    p = symop.parse(FAMILY)
    few, many = members(p, 2, seed=5), members(p, 6, seed=5)
    assert [str(v) for v, _ in few] == [str(v) for v, _ in many[:2]]
    assert str(few[0][0]) != str(few[1][0])


def test_instantiate_accepts_expressions_and_numbers_and_rejects_unknown_names():
    p = symop.parse(FAMILY)
    x, y = p.space.coords
    m = instantiate(p, {"f": x * y, "k": 2})
    assert m.params["k"] == 2.0 and m.equations[0].rhs.has(x * y)
    with pytest.raises(FamilyError, match="no parameter `g`"):
        instantiate(p, {"g": 1})
    single = symop.parse(FAMILY.replace("param k in [1, 2], c ~ loguniform(0.1, 1), s ~ normal(0, 0.5), m ~ choice(1, 2, 5)\nparam f ~ field(modes: 2, amplitude: 1, kinds: (fourier, gaussian))", "param k = 1, c = 1, s = 0, m = 1, f = 0"))
    with pytest.raises(FamilyError, match="one problem, not a family"):
        members(single, 2)


@pytest.mark.parametrize("line, message", [
    ("param f ~ feld(2)", "there is no distribution `feld`"),
    ("param g ~ field(mode: 2)", "`field` has no option `mode`"),
    ("param h ~ uniform(2, 1)", "the range [2, 1] of `h` is empty"),
    ("param h ~ uniform(1)", "`uniform` takes 2 numbers, not 1"),
    ("param h ~ loguniform(0, 1)", "`loguniform` needs a positive lower bound"),
    ("param h ~ normal(0, -1)", "standard deviation of `h` must be positive"),
    ("param h ~ field(kinds: waves)", "no kind of random field `waves`"),
    ("param h ~ field(3)", "`field` takes named options only"),
    ("param h ~ field(modes: 0)", "`modes` must be a whole number of at least 1"),
    ("param h ~ normal(mu: 1, 2)", "`normal` takes no named arguments"),
    ("param h ~ field(mean: x)", "must be a constant"),
])
def test_bad_distributions_are_positioned_errors(line, message):
    text = "space x\ndomain interval(x: [0, 1])\n" + line + "\nfield u\nequation lap(u) = 1\nboundary left, right: u = 0\n"
    with pytest.raises((SourceErrors, SymopError)) as info:
        symop.parse(text, "fam.pde")
    rendered = str(info.value)
    assert message in rendered and "fam.pde:3:" in rendered


# ------------------------------------------------------------------ training spine
class Counting(plugins.Discretization):
    """A method that 'trains' by counting members; enough to test the protocol."""

    name = "counting"
    trains = True
    options = (plugins.Option("model", str, "", "model file"),)
    train_options = (plugins.Option("steps", int, 3, "steps"),)

    def lower(self, problem, options):  # pragma: no cover - not used here
        raise NotImplementedError

    def train(self, problem, options, *, samples, output, device="cpu", progress=False, resume=False, seed=0):
        drawn = members(problem, samples, seed)
        save_checkpoint(output, {"ks": [float(v["k"]) for v, _ in drawn], "steps": options["steps"]})
        return plugins.TrainingReport(output, [1.0 / (i + 1) for i in range(options["steps"])], 0.0,
                                      {"members": len(drawn)})


class NotTraining(plugins.Discretization):
    name = "plain"

    def lower(self, problem, options):  # pragma: no cover - not used here
        raise NotImplementedError


class Provider:
    @plugins.hookimpl
    def symop_discretizations(self):
        return [Counting(), NotTraining()]


def test_train_resolves_training_options_and_saves(tmp_path: Path):
    pm = plugins.make_manager(load_entry_points=False, plugins=[Provider()])
    p = symop.parse(FAMILY)
    report = plugins.train(p, "counting", {"steps": "5"}, samples=4, output=tmp_path / "m.pt", seed=2, pm=pm)
    assert report.losses[-1] == pytest.approx(0.2) and report.info["members"] == 4 and report.wall_time > 0
    state = load_checkpoint(tmp_path / "m.pt")
    assert state["steps"] == 5 and len(state["ks"]) == 4
    assert plugins.trainable_methods(pm) == ["counting"]
    with pytest.raises(SymopError, match="`plain` solves one problem at a time.*methods that train: counting"):
        plugins.train(p, "plain", samples=2, output=tmp_path / "x.pt", pm=pm)
    with pytest.raises(SymopError, match="no option `stps`.*Did you mean `steps`"):
        plugins.train(p, "counting", {"stps": 1}, samples=2, output=tmp_path / "x.pt", pm=pm)
    with pytest.raises(SymopError, match="at least one sample"):
        plugins.train(p, "counting", samples=0, output=tmp_path / "x.pt", pm=pm)


def test_train_command_refuses_a_method_that_does_not_train(tmp_path: Path):
    path = tmp_path / "fam.pde"
    path.write_text(FAMILY)
    out = subprocess.run([sys.executable, "-m", "symop", "train", str(path), "--method", "fd", "-o",
                          str(tmp_path / "m.pt")], capture_output=True, text=True)
    assert out.returncode == 1 and "does not train" in out.stderr and "Traceback" not in out.stderr


def test_checkpoints_and_helpers(tmp_path: Path):
    with pytest.raises(SymopError, match="no model file"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a model")
    with pytest.raises(SymopError, match="not a model file"):
        load_checkpoint(tmp_path / "junk.pt")
    save_checkpoint(tmp_path / "a.pt", {"w": torch.ones(2)}, DistInfo(rank=1, world=2))
    assert not (tmp_path / "a.pt").exists()  # only rank 0 writes
    save_checkpoint(tmp_path / "a.pt", {"w": torch.ones(2)}, DistInfo())
    assert torch.equal(load_checkpoint(tmp_path / "a.pt")["w"], torch.ones(2))
    assert list(shard(10, DistInfo(rank=1, world=3))) == [1, 4, 7]
    with progress_bar("t", 3, enabled=False, loss=0.0) as update:
        update(1, loss=0.5)
    with progress_bar("t", 3, enabled=True, loss=0.0) as update:
        update(3, loss=0.5)


DDP_SCRIPT = """
import sys, torch
from symop.training import distributed, wrap, shard, average
info = distributed("cpu")
torch.manual_seed(0)
model = wrap(torch.nn.Linear(3, 1), info)
data = torch.arange(24, dtype=torch.float32).reshape(8, 3) / 10
rows = list(shard(8, info))
loss = model(data[rows]).pow(2).mean()
loss.backward()
grad = next(model.parameters()).grad.clone()
mean = average(loss.item(), info)
if info.is_main:
    print(" ".join(f"{g:.6f}" for g in grad.flatten().tolist()), f"{mean:.6f}")
"""


def test_ddp_with_two_processes_matches_one(tmp_path: Path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    one = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    two = torchrun([str(script)], 2, env, timeout=180)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    g1 = [float(v) for v in one.stdout.split()]
    g2 = [float(v) for v in two.stdout.strip().splitlines()[-1].split()]
    # the per-rank means of equal halves average to the full mean: same gradient, same loss
    assert np.allclose(g1, g2, atol=1e-5)


def test_show_prints_the_family_and_the_member_it_solves(tmp_path: Path, capsys):
    from symop.cli import main

    path = tmp_path / "darcy.pde"
    path.write_text(DARCY)
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "family  a ~ field(mean: 2, amplitude: 1, modes: 2, kinds: fourier), a_x ~ dx(a), a_y ~ dy(a)" in out
    assert "solved as one problem at a = 2, a_x = 0, a_y = 0" in out and "params" not in out


def test_family_hash_ignores_the_name_and_sees_the_structure():
    """One canonical hash of a family's structure serves pino and hypino: names and titles do not count."""
    from symop.model.family import family_hash

    base = symop.parse(FAMILY)
    assert family_hash(symop.parse(FAMILY.replace("problem fam", 'problem another "a title"'))) == family_hash(base)
    assert family_hash(symop.parse(FAMILY.replace("c*u", "c*u + d(u, x)"))) != family_hash(base)
    assert family_hash(symop.parse(FAMILY.replace("param fixed = 3", "param fixed = 4"))) != family_hash(base)
    assert family_hash(symop.parse(FAMILY.replace("right, top, bottom: u = 0", "right, top, bottom: u = 1"))) \
        != family_hash(base)
    disk = "problem d\nspace x, y\ndomain disk(center: (0, 0), radius: {})\nfield u\nequation -lap(u) = 1\n" \
           "boundary all: u = 0\n"
    assert family_hash(symop.parse(disk.format(1))) != family_hash(symop.parse(disk.format(2)))
    # without data (an operator learner reads sources and boundary values): the operator and kinds count
    other_data = symop.parse(FAMILY.replace("= f + s*m + fixed", "= x*y").replace("bottom: u = 0", "bottom: u = x"))
    assert family_hash(other_data) != family_hash(base)
    assert family_hash(other_data, data=False) == family_hash(base, data=False)
    neumann = symop.parse(FAMILY.replace("bottom: u = 0", "bottom: dn(u) = 0"))
    assert family_hash(neumann, data=False) != family_hash(base, data=False)
    assert family_hash(symop.parse(FAMILY.replace("c*u", "2*c*u")), data=False) != family_hash(base, data=False)
