"""The pino method: grid physics, family training, zero-shot and fine-tuned solves, resume, DDP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import symop
from symop.errors import MethodError, SymopError
from symop.model import family
from symop_pino.encoding import Encoder
from symop_pino.fno import FNO, FNOConfig, FNOError
from symop_pino.grid import build
from symop_pino.program import predict
from symop_pino.physics import GridPhysics
from symop.training import load_checkpoint

from launch import free_port

POISSON = """
problem poisson1d "1D Poisson family: a random source"
space x
domain interval(x: [0, 1])
param f ~ field(modes: 3, amplitude: 10, frequency: 3, kinds: fourier)
field u
equation -d(u, x, 2) = f
boundary all: u = 0
"""

HEAT = """
problem heat1d "1D heat family: random diffusivity and initial data"
space x
time t in [0, 0.2]
domain interval(x: [0, 1])
param kappa ~ uniform(0.05, 0.2)
param a ~ uniform(-1, 1)
field u
equation dt(u) = kappa*d(u, x, 2)
boundary all: u = 0
initial u = sin(pi*x) + a*sin(2*pi*x)
exact u = exp(-kappa*pi^2*t)*sin(pi*x) + a*exp(-4*kappa*pi^2*t)*sin(2*pi*x)
"""

TINY = {"width": 16, "modes": 6, "layers": 2, "n": 16, "batch": 8, "lr": 1e-2}


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """Tiny grids only lose to thread contention; one thread for the whole module."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pino")
    out = {}
    for name, text in (("poisson", POISSON), ("heat", HEAT)):
        out[name] = root / f"{name}.pde"
        out[name].write_text(text)
    out["root"] = root
    return out


@pytest.fixture(scope="module")
def poisson(files):
    return symop.load(files["poisson"])


@pytest.fixture(scope="module")
def held_out(poisson):
    """Three members the models never see, with their fd solutions on the training grid."""
    out = []
    for values, member in family.members(poisson, 3, seed=99):
        out.append((values, symop.solve(member, method="fd", n=TINY["n"]).fields["u"]))
    return out


@pytest.fixture(scope="module")
def trained(poisson, files):
    """The same seeded run stopped after 5 and after 150 steps (1D Poisson, 32 members, fd references)."""
    out = {}
    for steps in (5, 150):
        path = files["root"] / f"poisson{steps}.pt"
        out[steps] = symop.train(poisson, "pino", samples=32, output=path, seed=1, steps=steps, **TINY)
    return out


def _error(poisson, path, held_out) -> float:
    errs = [np.linalg.norm(predict(poisson, v, model=str(path)).fields["u"] - ref) / np.linalg.norm(ref)
            for v, ref in held_out]
    return float(np.mean(errs))


# ------------------------------------------------------------------ network
def test_fno_maps_grids_of_every_dimension_and_refuses_too_many_modes():
    for d in (1, 2, 3):
        net = FNO(FNOConfig(inputs=3, outputs=2, dimension=d, width=4, modes=3, layers=2, padding=0.25))
        assert net(torch.randn(2, 3, *(8,) * d)).shape == (2, 2, *(8,) * d)
    net = FNO(FNOConfig(inputs=1, outputs=1, dimension=1, width=4, modes=6, layers=1))
    with pytest.raises(FNOError, match="at most 5 Fourier modes"):
        net(torch.randn(1, 1, 8))


def test_spectral_layer_keeps_only_its_modes():
    """A one-layer FNO without padding cannot create frequencies above its modes from a low-frequency input."""
    from symop_pino.fno import SpectralConv

    conv = SpectralConv(1, 1, 1, modes=3)
    x = torch.linspace(0, 1, 32 + 1)[:-1]
    with torch.no_grad():
        high = conv(torch.sin(2 * np.pi * 7 * x)[None, None])
        low = conv(torch.sin(2 * np.pi * 2 * x)[None, None])
    assert float(high.abs().max()) < 1e-5  # mode 7 is filtered out
    assert float(low.abs().max()) > 1e-3


# ------------------------------------------------------------------ physics
def test_physics_residual_vanishes_on_the_fd_solution_and_not_on_zero(poisson):
    grid = build(poisson, 16)
    physics = GridPhysics(poisson, grid, dtype=torch.float64)
    drawn = family.members(poisson, 2, seed=3)
    encoded = Encoder(poisson, grid).encode([v for v, _ in drawn], torch.float64)
    _, params, _ = encoded.take(slice(None))
    ref = torch.as_tensor(np.stack([symop.solve(m, method="fd", n=16).fields["u"] for _, m in drawn]))[:, None]
    at_ref = physics.terms_of(ref, params)
    assert set(at_ref) == {"pde[u]", "bc[u:left]", "bc[u:right]"}
    assert all(float(v.max()) < 1e-20 for v in at_ref.values())
    assert float(physics.terms_of(torch.zeros_like(ref), params)["pde[u]"].min()) > 1.0
    hard = physics.constrain(torch.randn_like(ref), params)  # hard_dirichlet: boundary nodes set to g = 0
    assert float(hard[..., 0].abs().max()) == 0.0 and float(hard[..., -1].abs().max()) == 0.0
    assert float(physics.terms_of(hard, params)["bc[u:left]"].max()) == 0.0


def test_space_time_residual_of_the_exact_heat_solution_is_small(files):
    heat = symop.load(files["heat"])
    grid = build(heat, 32, 32)
    assert grid.names == ("x", "t") and grid.shape == (33, 33)
    physics = GridPhysics(heat, grid, dtype=torch.float64)
    encoder = Encoder(heat, grid)
    assert encoder.channels == ["x", "t", "kappa", "a", "initial[u:0]"]
    encoded = encoder.encode([v for v, _ in family.members(heat, 2, seed=0)], torch.float64)
    _, params, _ = encoded.take(slice(None))
    exact = physics.exact_values(params, 2)
    terms = physics.terms_of(exact, params)
    assert float(terms["ic[u:0]"].max()) < 1e-20
    assert float(terms["pde[u]"].max()) < 1e-3 * float(physics.terms_of(0 * exact, params)["ic[u:0]"].min())


# ------------------------------------------------------------------ training
def test_training_loss_falls(trained):
    losses = trained[150].losses
    assert len(losses) == 150
    assert np.mean(losses[-10:]) < 0.1 * np.mean(losses[:5])
    assert trained[150].info["data"] == "fd"  # no exact solution: fd references by default


def test_zero_shot_error_on_held_out_members_falls_with_training(poisson, trained, held_out):
    few = _error(poisson, trained[5].path, held_out)
    more = _error(poisson, trained[150].path, held_out)
    assert more < 0.4 * few
    assert more < 0.2


def test_finetuning_lowers_the_residual(poisson, trained, held_out):
    values, ref = held_out[0]
    sol = predict(poisson, values, model=str(trained[150].path), finetune=40)
    before, after = sol.info["residual_zero_shot"]["total"], sol.info["residual"]["total"]
    assert after < 0.5 * before


def test_model_file_records_the_family_and_solves_through_symop_solve(poisson, trained):
    data = load_checkpoint(trained[150].path)
    assert data["family"]["name"] == "poisson1d" and "param f ~ field" in data["family"]["text"]
    assert data["grid"]["cells"] == [16] and data["options"]["steps"] == 150
    sol = symop.solve(poisson, method="pino", model=str(trained[150].path))  # the representative member: f = 0
    assert sol.geometry.shape == (17,)
    assert float(np.abs(sol.fields["u"]).max()) < 0.1  # u = 0 solves -u'' = 0
    fine = symop.solve(poisson, method="pino", model=str(trained[150].path), n=32)  # another resolution
    assert fine.geometry.shape == (33,) and np.isfinite(fine.fields["u"]).all()


def test_heat_family_zero_shot_with_set_parameters(files):
    heat = symop.load(files["heat"])
    path = files["root"] / "heat.pt"
    report = symop.train(heat, "pino", samples=16, output=path, steps=80, nt=12, **{**TINY, "n": 12})
    assert report.info["data"] == "exact" and report.info["grid"] == [13, 13]
    sol = symop.solve(heat, method="pino", model=str(path), kappa=0.1, a=0.5)
    assert sol.time == pytest.approx(0.2) and sol.history["u"].shape == (13, 13)
    untrained = symop.train(heat, "pino", samples=16, output=files["root"] / "heat0.pt", steps=1, nt=12,
                            **{**TINY, "n": 12})
    before = symop.solve(heat, method="pino", model=str(untrained.path), kappa=0.1, a=0.5)
    assert sol.errors()["u"]["rel_l2"] < 0.3 * before.errors()["u"]["rel_l2"]


def test_resume_continues_an_interrupted_run(poisson, files, monkeypatch):
    import symop_pino.train as training

    options = dict(samples=8, seed=2, steps=12, checkpoint_every=4, data="none", **TINY)
    full = symop.train(poisson, "pino", output=files["root"] / "full.pt", **options)

    real = training.save_checkpoint

    def interrupt(path, state, info=None):
        real(path, state, info)
        if state.get("step") == 8:
            raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_checkpoint", interrupt)
    with pytest.raises(KeyboardInterrupt):
        symop.train(poisson, "pino", output=files["root"] / "cut.pt", **options)
    monkeypatch.setattr(training, "save_checkpoint", real)
    resumed = symop.train(poisson, "pino", output=files["root"] / "cut.pt", resume=True, **options)
    assert resumed.info["start_step"] == 8
    np.testing.assert_allclose(resumed.losses, full.losses, rtol=1e-5)
    a = load_checkpoint(full.path)["model"]
    b = load_checkpoint(resumed.path)["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_two_ddp_processes_follow_one_process(files, poisson):
    """Two gloo processes started with torchrun's environment, each half of the global batch and of the fd
    reference solves, match one process."""
    settings = {"steps": 6, "batch": 4, "data": "fd", "dtype": "float64", "lr": 0.01,
                **{k: v for k, v in TINY.items() if k not in ("batch", "lr")}}
    args = [sys.executable, "-m", "symop", "train", str(files["poisson"]), "--method", "pino", "--samples", "8",
            "-o", str(files["root"] / "ddp.pt")]
    for k, v in settings.items():
        args += ["--set", f"{k}={v}"]
    port = str(free_port())
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank),
               "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    single = symop.train(poisson, "pino", samples=8, output=files["root"] / "one.pt", **settings)
    for p in procs:
        out, _ = p.communicate(timeout=240)
        assert p.returncode == 0, out
    ddp = load_checkpoint(files["root"] / "ddp.pt")
    np.testing.assert_allclose(ddp["losses"], single.losses, rtol=1e-10)
    one = load_checkpoint(single.path)["model"]
    assert all(torch.allclose(one[k], ddp["model"][k], atol=1e-12) for k in one)


@pytest.mark.slow
def test_torchrun_two_processes_match_one(files, poisson):
    """The documented command: torchrun --nproc_per_node 2 -m symop train ... (gloo on CPU)."""
    settings = ["steps=4", "batch=4", "data=none", "dtype=float64", "width=8", "modes=4", "layers=2", "n=16"]
    common = ["-m", "symop", "train", str(files["poisson"]), "--method", "pino", "--samples", "8"]
    for s in settings:
        common += ["--set", s]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    subprocess.run(run + common + ["-o", str(files["root"] / "tr2.pt")], env=env, check=True, timeout=300)
    subprocess.run([sys.executable] + common + ["-o", str(files["root"] / "tr1.pt")], env=env, check=True, timeout=300)
    two = load_checkpoint(files["root"] / "tr2.pt")
    one = load_checkpoint(files["root"] / "tr1.pt")
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-10)


# ------------------------------------------------------------------ errors
def test_errors_read_as_sentences(poisson, files, trained):
    with pytest.raises(SymopError, match="pino solves with a trained model: give one with `--set model="):
        symop.solve(poisson, method="pino")
    # one problem, not a family: the hint says so, rather than a `symop train` that would refuse it
    with pytest.raises(SymopError, match="and `single` is one problem \\(no parameter has a range\\): give a "
                                         "parameter one"):
        symop.solve(symop.parse("problem single\nspace x\ndomain interval(x: [0, 1])\nfield u\n"
                                "equation -d(u, x, 2) = 1\nboundary all: u = 0\n"), method="pino")
    heat = symop.load(files["heat"])
    with pytest.raises(SymopError, match="was trained on the family `poisson1d`, which differs from `heat1d`"):
        symop.solve(heat, method="pino", model=str(trained[5].path))
    with pytest.raises(SymopError, match="there is no model file"):
        symop.solve(poisson, method="pino", model=str(files["root"] / "missing.pt"))
    disk = symop.parse("space x, y\ndomain disk(center: (0, 0), radius: 1)\nfield u\nequation -lap(u) = 1\n"
                       "boundary all: u = 0\n")
    with pytest.raises(MethodError, match="pino needs a box domain .* domain is a disk"):
        symop.solve(disk, method="pino", model=str(trained[5].path))


@pytest.mark.parametrize("source, n, nt, order, words", [
    ("poisson", 2, None, 4, "2 cells along x, .*order 4.* set n to at least 4"),
    ("poisson", 1, None, 2, "1 cell along x, .* set n to at least 2"),
    ("heat", 8, 1, 2, "1 cell along t, .* set nt to at least 2"),
])
def test_a_grid_too_coarse_for_the_stencils_is_refused_before_training(files, source, n, nt, order, words):
    """Without the check these crash inside a tensor narrow, or train on a nan loss and blame the learning rate."""
    from symop_pino.physics import PhysicsError

    problem = symop.load(files[source])
    with pytest.raises(PhysicsError, match=words):
        GridPhysics(problem, build(problem, n, nt), order)
    with pytest.raises(PhysicsError, match=words):
        symop.train(problem, "pino", samples=2, output=files["root"] / "coarse.pt", steps=1, n=n, nt=nt or 0,
                    order=order, width=4, modes=1, layers=1, data="none")


def test_auto_data_that_fd_cannot_solve_fall_back_to_physics_with_a_warning(poisson, monkeypatch):
    """fd accepts the family but fails on a member (as on abs(u) today): data auto trains on the physics and
    says so; data fd, asked for by name, stops with fd's sentence."""
    from symop_pino import reference

    def failing(*args, **kwargs):
        raise SymopError("fd cannot evaluate this.")

    monkeypatch.setattr(reference, "fd_references", failing)
    grid = build(poisson, 8)
    physics = GridPhysics(poisson, grid)
    drawn = family.members(poisson, 2, seed=0)
    encoded = Encoder(poisson, grid).encode([v for v, _ in drawn])
    with pytest.warns(UserWarning, match=r"physics alone: the fd references \(data: auto\) could not be made "
                                         r"\(fd cannot evaluate this\)"):
        assert reference.attach("auto", encoded, physics, [m for _, m in drawn]) == "none"
    assert encoded.reference is None
    with pytest.raises(SymopError, match="fd cannot evaluate this"):
        reference.attach("fd", encoded, physics, [m for _, m in drawn])


def test_a_member_outside_the_trained_range_is_solved_with_a_warning(files, capsys):
    """kappa was drawn in [0.05, 0.2]: asking the operator about kappa = 5 extrapolates, and says so once, by
    name, value and range; a member inside the range, or one fine-tuned on its own physics, is solved quietly."""
    import warnings

    from symop.cli import main

    heat = symop.load(files["heat"])
    path = files["root"] / "heat_range.pt"
    symop.train(heat, "pino", samples=2, output=path, steps=1, nt=4, data="none", width=4, modes=2, layers=1, n=4)
    with pytest.warns(UserWarning, match=r"the parameter `kappa` = 5 lies outside what the pino model .* was "
                                         r"trained on \(\[0\.05, 0\.2\]\)") as caught:
        symop.solve(heat, method="pino", model=str(path), kappa=5, a=0.5)
    assert len([w for w in caught if "outside" in str(w.message)]) == 1  # `a` = 0.5 is inside [-1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the solve
        symop.solve(heat, method="pino", model=str(path), kappa=0.2, a=-1)  # the bounds themselves
        symop.solve(heat, method="pino", model=str(path), kappa=5, a=0.5, finetune=1)
    assert main(["run", str(files["heat"]), "-m", "pino", "--set", f"model={path}", "--set", "a=-3", "-q"]) == 0
    err = capsys.readouterr().err
    assert "warning: the parameter `a` = -3 lies outside" in err and "[-1, 1]" in err


def test_untrained_names_each_kind_of_range():
    from symop.model.family import Distribution
    from symop_pino.program import untrained

    dists = {"u": Distribution("u", "uniform", (1.0, 2.0)), "l": Distribution("l", "loguniform", (0.1, 10.0)),
             "c": Distribution("c", "choice", (1.0, 2.0, 4.0)), "n": Distribution("n", "normal", (0.0, 1.0))}
    assert untrained(dists, {"u": 1.5, "l": 1.0, "c": 3.0, "n": 2.9}, "m.pt") == []
    words = untrained(dists, {"u": 5.0, "l": 20.0, "c": 0.5, "n": -3.5}, "m.pt")
    assert [w.split("`")[1] for w in words] == ["u", "l", "c", "n"]
    assert "`u` = 5 " in words[0] and "[1, 2]" in words[0]
    assert "the values 1, 2, 4" in words[2] and "3 standard deviations" in words[3]


def test_symop_train_shows_a_training_warning_as_a_warning_line(files, monkeypatch, capsys):
    """`symop train` prints what training warns of as `warning: ...`, as `symop run` does, not in Python's form."""
    from symop.cli import main
    from symop_pino import reference

    def failing(*args, **kwargs):
        raise SymopError("fd cannot evaluate this.")

    monkeypatch.setattr(reference, "fd_references", failing)
    rc = main(["train", str(files["poisson"]), "-m", "pino", "--samples", "2", "-o", str(files["root"] / "w.pt"),
               "-q", "--set", "steps=1", "--set", "n=8", "--set", "width=4", "--set", "modes=2", "--set", "layers=1"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "warning: pino trains on the physics alone" in err and "UserWarning" not in err and ".py:" not in err
