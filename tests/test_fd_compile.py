"""fd's compiled explicit step: the default, its eager fallback, and its reuse across solves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import symop
from symop_fd import fused, timestep


def test_compile_default_follows_the_option_then_the_environment(monkeypatch):
    monkeypatch.delenv(fused.COMPILE_ENV, raising=False)
    assert fused.compile_default(None)
    assert fused.compile_default(True) and not fused.compile_default(False)
    for off in ("0", "false", "off"):
        monkeypatch.setenv(fused.COMPILE_ENV, off)
        assert not fused.compile_default(None)
        assert fused.compile_default(True)  # asking for it still compiles


def test_cache_dir_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv(fused.CACHE_ENV, str(tmp_path / "c"))
    assert fused.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(fused.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fused.cache_dir() == tmp_path / "symop"


def test_a_short_default_run_steps_eagerly_and_a_long_one_would_compile(monkeypatch):
    monkeypatch.delenv(fused.COMPILE_ENV, raising=False)
    problem = symop.load("examples/advection_diffusion.pde")
    sol = symop.solve(problem, "fd", n=16, scheme="rk4", dt=1e-2)
    assert "compiled" not in sol.info  # 100 steps of 16 points: compiling could not pay
    low = symop.lower(problem, "fd", n=16).lowered("cpu")
    assert not timestep.worth_compiling(low, "rk4", 100)
    assert timestep.worth_compiling(low, "rk4", timestep.CPU_COMPILE_WORK // 16)


def test_without_a_compiler_fd_says_why_in_one_line_and_steps_eagerly(monkeypatch, capsys):
    import torch._inductor

    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nsecond line")

    monkeypatch.setattr(torch._inductor, "compile", broken)
    monkeypatch.setattr(fused, "_SAID", set())
    problem = symop.load("examples/advection_diffusion.pde")
    before = fused.STATS.fallbacks
    got = symop.solve(problem, "fd", n=16, scheme="rk4", dt=1e-2, compile=True)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fd: stepping eagerly, since torch.compile is unavailable here "
                   "(RuntimeError: no C++ compiler found)."]
    assert fused.STATS.fallbacks == before + 1
    assert "compiled" not in got.info
    want = symop.solve(problem, "fd", n=16, scheme="rk4", dt=1e-2, compile=False)
    assert np.array_equal(np.asarray(got.fields["c"]), np.asarray(want.fields["c"]))


def test_the_default_compiles_once_per_structure(monkeypatch):
    """Other parameter values and another dt reuse the compiled step: parameters and dt are inputs."""
    monkeypatch.delenv(fused.COMPILE_ENV, raising=False)
    monkeypatch.setattr(timestep, "CPU_COMPILE_WORK", 0)  # every run is long enough
    problem = symop.load("examples/advection_diffusion.pde")
    compiled = fused.STATS.compiled
    a = symop.solve(problem, "fd", n=16, scheme="rk4", dt=1e-2)
    assert a.info.get("compiled")
    reused = fused.STATS.reused
    other = problem.with_params(a=0.5, nu=0.05)
    b = symop.solve(other, "fd", n=16, scheme="rk4", dt=5e-3)
    assert b.info.get("compiled")
    assert fused.STATS.compiled <= compiled + 1 and fused.STATS.reused == reused + 1
    for sol, prob, dt in ((a, problem, 1e-2), (b, other, 5e-3)):
        eager = symop.solve(prob, "fd", n=16, scheme="rk4", dt=dt, compile=False)
        assert np.allclose(np.asarray(sol.fields["c"]), np.asarray(eager.fields["c"]), rtol=0, atol=1e-12)
    assert not np.allclose(np.asarray(a.fields["c"]), np.asarray(b.fields["c"]), atol=1e-3)
    # another periodic box of the same shape: spacings and coordinates are inputs too
    text = open("examples/advection_diffusion.pde").read().replace("interval(x: [0, 1])", "interval(x: [0, 2])")
    wider = symop.parse(text)
    c = symop.solve(wider, "fd", n=16, scheme="rk4", dt=1e-2)
    assert c.info.get("compiled") and fused.STATS.reused == reused + 2
    eager = symop.solve(wider, "fd", n=16, scheme="rk4", dt=1e-2, compile=False)
    assert np.allclose(np.asarray(c.fields["c"]), np.asarray(eager.fields["c"]), rtol=0, atol=1e-12)


def test_the_compiled_step_on_a_grid_with_closed_sides_matches_eager():
    """Dirichlet, Neumann and Robin sides: ghost closures and boundary data inside the compiled step."""
    problem = symop.load("examples/heat.pde")
    a = symop.solve(problem, "fd", n=12, scheme="ssprk3", dt=2e-3, compile=True)
    b = symop.solve(problem, "fd", n=12, scheme="ssprk3", dt=2e-3, compile=False)
    assert a.info.get("compiled") and "compiled" not in b.info
    assert np.allclose(np.asarray(a.fields["u"]), np.asarray(b.fields["u"]), rtol=0, atol=1e-12)
