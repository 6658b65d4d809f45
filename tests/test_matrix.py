"""The conformance matrix, cell by cell: every registered method × every problem class.

A refused cell must be refused up front: ``accepts`` gives a sentence and
``symop.solve`` raises it before any work.  An accepted cell is solved:

* a method that declares orders of accuracy (fd, fem) is run on two
  refinements; the finer error is within the class's tolerance and the
  observed order is at least the declared one minus 0.3 (two levels on coarse
  grids are not yet asymptotic; 0.3 is the margin the existing convergence
  tests use);
* pinn: the residual of every loss term of the exact solution vanishes (the
  loss is the model's, so a wrong sign or a dropped term shows), and a run of
  three training steps finishes with finite errors;
* pino: the grid residual of the exact solution falls like h^2 in every term,
  in the discrete L2 norm (its stencils are second order; on the fourth-order
  class the largest residual, next to the boundary rows, falls like h^1.6), and on the family class a tiny operator is
  trained and run;
* hypino: a tiny hypernetwork is trained on the class and run;
* insr: four steps of a tiny network finish with finite errors (its step
  residuals are checked in ``test_insr.py``).

The neural methods' residuals under a known perturbation, value and sign, are
checked in ``test_loss_conformance.py``; here every class each method accepts
is covered.  The README's method matrix must equal ``symop plugins --matrix
--markdown``.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import sympy as sp
import torch

import symop
from symop import matrix
from symop.catalogue import CLASSES, ProblemClass
from symop.converge import converge
from symop.errors import SymopError
from symop.plugins import discretizations

ROOT = Path(__file__).resolve().parents[1]
METHODS = sorted(discretizations())
TABLE = matrix.build()
#: refinements: coarse cells per axis by dimension (the finer level doubles them)
BASE = {1: 16, 2: 8, 3: 6}
#: how far below the declared order two coarse levels may observe
ORDER_MARGIN = 0.3


def cells(accepted: bool):
    return [pytest.param(m, c, id=f"{m}-{c.name}") for c in CLASSES for m in METHODS
            if TABLE.cell(m, c.name).accepted == accepted]


def test_every_cell_is_an_acceptance_or_a_sentence():
    for cell in TABLE.cells.values():
        assert cell.reason is None or (isinstance(cell.reason, str) and len(cell.reason.split()) >= 4), cell


def test_every_class_is_accepted_by_some_method_and_every_method_accepts_some_class():
    for c in CLASSES:
        assert any(TABLE.cell(m, c.name).accepted for m in METHODS), c.name
    for m in METHODS:
        assert any(TABLE.cell(m, c.name).accepted for c in CLASSES), m


@pytest.mark.parametrize("method, pclass", cells(False))
def test_a_refused_cell_is_refused_before_any_work(method, pclass: ProblemClass):
    reason = TABLE.cell(method, pclass.name).reason
    with pytest.raises(SymopError) as err:
        symop.solve(pclass.problem(), method, progress=False)
    assert reason.rstrip(".") in str(err.value)


def _declares_order(method: str) -> bool:
    """Whether ``method`` declares an order in space (a mesh method; insr declares one in time only)."""
    accuracy = discretizations()[method].declared_accuracy({})
    return accuracy is not None and accuracy.space is not None


@pytest.mark.parametrize("method, pclass", [p for p in cells(True) if _declares_order(p.values[0])])
def test_a_mesh_method_solves_its_cell_at_its_order(method, pclass: ProblemClass):
    problem = pclass.problem()
    disc = discretizations()[method]
    base = disc.resolution(problem, BASE[problem.dimension])
    refine = "space"  # each level takes the method's default dt, which follows h (and its stability limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        study = converge(problem, method, levels=2, refine=refine, base=base)
    fine = study.levels[-1]
    assert fine.error is None, fine.error
    assert fine.rel_l2 <= pclass.tolerance, f"rel L2 {fine.rel_l2:.3g} above {pclass.tolerance}"
    if study.levels[0].rel_l2 > 1e-9:  # below that the discretisation is exact on this solution
        assert study.declared_order is not None
        order = study.observed_order
        assert order is not None and order >= study.declared_order - ORDER_MARGIN, \
            f"observed order {order} for declared {study.declared_order}"


# ------------------------------------------------------------------ neural methods
def _exact_columns(problem):
    """The exact solution of every field as one function of the collocation matrix (space, then time)."""
    symbols = [problem.space.coordinate(k) for k in range(problem.dimension)] + (
        [problem.time.symbol] if problem.time is not None else [])
    plain = [sp.Dummy() for _ in symbols]  # indexed coordinates x[i] are no names a printer takes
    fns = [sp.lambdify(plain, sp.sympify(problem.exact[f.name]).xreplace(dict(zip(symbols, plain))).evalf(),
                       modules="torch") for f in problem.fields]

    def model(X: torch.Tensor) -> torch.Tensor:
        cols = [X[:, k] for k in range(X.shape[1])]
        out = [torch.broadcast_to(torch.as_tensor(fn(*cols), dtype=X.dtype), cols[0].shape) for fn in fns]
        return torch.stack(out, dim=1)

    return model


def _check(method: str, pclass: ProblemClass) -> None:
    checks = {"pinn": _pinn, "pino": _pino, "hypino": _hypino, "insr": _insr}
    if method not in checks:
        pytest.fail(f"the matrix test has no check for the method `{method}`: add one")
    checks[method](pclass)


@pytest.mark.parametrize("method, pclass", [p for p in cells(True) if not _declares_order(p.values[0])])
def test_a_neural_method_honours_its_cell(method, pclass: ProblemClass):
    _check(method, pclass)


def _pinn(pclass: ProblemClass) -> None:
    from symop.nn import PhysicsLoss, make_engine

    problem = pclass.problem()
    loss = PhysicsLoss(problem, make_engine("autograd"), points=32, boundary_points=32, dtype=torch.float64, seed=3)
    model = _exact_columns(problem)
    for term, (X, n) in zip(loss.terms, loss.sample(0)):
        X = X.clone().requires_grad_(True)
        r = loss.residual(model, term, X, n, create_graph=False).detach()
        scale = 1.0 + float(X.detach().abs().max())
        assert float(r.abs().max()) < 1e-8 * scale, f"{term.kind} residual of the exact solution: {r.abs().max():.3g}"
    sol = symop.solve(problem, "pinn", progress=False, steps=3, points=32, boundary_points=16, eval_points=64,
                      width=8, depth=2)
    assert all(math.isfinite(v["rel_l2"]) for v in sol.errors().values())


def _pino_residuals(problem, n: int):
    from symop_pino.grid import build
    from symop_pino.physics import GridPhysics

    grid = build(problem, n)
    physics = GridPhysics(problem, grid, dtype=torch.float64)
    mesh = [torch.as_tensor(m, dtype=torch.float64) for m in grid.mesh()]
    fns = [sp.lambdify(grid.symbols, sp.sympify(problem.exact[f.name]).evalf(), modules="torch")
           for f in problem.fields]
    values = torch.stack([torch.broadcast_to(torch.as_tensor(fn(*mesh), dtype=torch.float64), mesh[0].shape)
                          for fn in fns])
    return physics.residuals(values[None], {})


def _pino(pclass: ProblemClass) -> None:
    problem = pclass.problem()
    if problem.param_distributions:
        _pino_family(problem)
        return
    n = 8 if problem.dimension + (problem.time is not None) >= 3 else 16
    coarse, fine = _pino_residuals(problem, n), _pino_residuals(problem, 2 * n)
    for name, r in fine.items():
        a, b = (float(v.double().pow(2).mean().sqrt()) for v in (coarse[name], r))
        if a < 1e-9:  # exact on the grid
            assert b < 1e-8, f"{name}: {a:.3g} -> {b:.3g}"
            continue
        assert a / b > 2 ** (2 - ORDER_MARGIN), f"pino residual {name} of the exact solution: {a:.3g} -> {b:.3g}"


def _pino_family(problem) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "m.pt"
        symop.train(problem, "pino", samples=2, output=model, steps=2, width=8, modes=4, layers=1, n=8, batch=2)
        sol = symop.solve(problem, "pino", model=str(model), progress=False)
    assert all(math.isfinite(v["rel_l2"]) for v in sol.errors().values())


def _hypino(pclass: ProblemClass) -> None:
    import tempfile

    problem = pclass.problem()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "h.pt"
        symop.train(problem, "hypino", samples=2, output=model, steps=2, grid=8, patch=4, dim=16, layers=1,
                    heads=2, width=8, depth=1, batch=2)
        sol = symop.solve(problem, "hypino", model=str(model), progress=False, eval_points=64)
    assert all(math.isfinite(v["rel_l2"]) for v in sol.errors().values())


def _insr(pclass: ProblemClass) -> None:
    problem = pclass.problem()
    span = problem.time.end - problem.time.start
    sol = symop.solve(problem, "insr", progress=False, dt=span / 4, iterations=2, initial_iterations=5, points=32,
                      boundary_points=8, eval_points=64, width=8, depth=1)
    assert all(math.isfinite(v["rel_l2"]) for v in sol.errors().values())


# ------------------------------------------------------------------ the printed matrix
def test_the_readme_matrix_is_the_printed_one():
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- matrix:start -->\n(.*?)<!-- matrix:end -->", readme, re.S)
    assert found, "the README has no <!-- matrix:start --> ... <!-- matrix:end --> block"
    assert found.group(1) == matrix.markdown(TABLE), \
        "the README's method matrix differs from `symop plugins --matrix --markdown`: paste that output in"


def test_symop_plugins_matrix_prints_every_class_and_method_and_json():
    out = subprocess.run([sys.executable, "-m", "symop", "plugins", "--matrix"], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    for c in CLASSES:
        assert re.search(rf"^{re.escape(c.name)}\s", out.stdout, re.M), c.name
    assert all(m in out.stdout.splitlines()[0] for m in METHODS)
    assert max(len(line) for line in out.stdout.splitlines()) <= 80
    js = subprocess.run([sys.executable, "-m", "symop", "plugins", "--matrix", "--json"], capture_output=True,
                        text=True, cwd=ROOT)
    import json

    data = json.loads(js.stdout)
    assert set(data["methods"]) == set(METHODS)
    assert data["classes"]["indexed"]["cells"]["pinn"] == "ok"
    assert data["classes"]["disk"]["cells"]["fd"].startswith("fd needs a box domain")
