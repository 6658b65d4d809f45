"""A new domain kind is one module plus its registration (``tests/annulus_domain.py``).

Nothing in symop knows the annulus: the language finds it among the kinds
registered with :mod:`symop.model.domains.registry` or returned by a plugin's
``symop_domains`` hook, ``symop check`` reads it, ``symop mms`` derives
boundary data with its exact normals and writes it back, fem meshes and
solves on it, and pinn samples its collocation points from it.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symop
from symop.api import manufacture
from symop.cli import main
from symop.errors import SourceError
from symop.mms import boundary_residuals, check_exact
from symop.model.domains import registry

from symop.plugins import PluginError, domains, make_manager

annulus_domain = pytest.importorskip("annulus_domain")

TEXT = """problem ring
space x, y
domain annulus(center: (0.5, 0), inner: 0.5, outer: 1.25)
field u
equation -lap(u) + u = 0
boundary outer: u = 0
boundary inner: dn(u) = 0
"""


@pytest.fixture
def annulus():
    """The annulus kind registered for one test, forgotten afterwards."""
    registry.register(annulus_domain.KIND)
    yield annulus_domain.Annulus
    registry.unregister("annulus")


def test_the_language_finds_the_kind_only_through_the_registry(annulus):
    p = symop.parse(TEXT)
    assert isinstance(p.domain, annulus) and p.domain.sides == ("outer", "inner")
    assert p.domain.center == (0.5, 0.0) and (p.domain.inner, p.domain.outer) == (0.5, 1.25)
    with pytest.raises(SourceError, match="`annulus` needs the argument `outer`"):
        symop.parse(TEXT.replace(", outer: 1.25", ""))
    with pytest.raises(SourceError, match="unknown boundary side `hole`; the sides of this annulus are outer, inner"):
        symop.parse(TEXT + "boundary hole: u = 1\n")
    registry.unregister("annulus")
    with pytest.raises(SourceError, match="unknown domain `annulus`"):
        symop.parse(TEXT)


def test_symop_check_reads_it(annulus, tmp_path, capsys):
    path = tmp_path / "ring.pde"
    path.write_text(TEXT)
    assert main(["check", str(path)]) == 0, capsys.readouterr().err


def test_symop_mms_uses_its_exact_normals_and_writes_it_back(annulus, tmp_path, capsys):
    src, out = tmp_path / "ring.pde", tmp_path / "made.pde"
    src.write_text(TEXT)
    rc = main(["mms", str(src), "--solution", "u = x^2*y + 3*y", "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert "domain annulus(center: (0.5, 0), inner: 0.5, outer: 1.25)" in out.read_text()
    made = symop.load(out)
    assert check_exact(made) == {"u": 0}
    assert all(r == 0 for _, r in boundary_residuals(made))
    # on the inner circle the outward normal points to the centre: dn(u) = -((x - 1/2) u_x + y u_y) / (1/2)
    x, y = made.space.coords
    ue = x**2 * y + 3 * y
    inner = next(bc for bc in made.boundary if bc.parts == ("inner",))
    expected = -((x - sp.Rational(1, 2)) * sp.diff(ue, x) + y * sp.diff(ue, y)) / sp.Rational(1, 2)
    assert inner.kind == "neumann" and sp.simplify(inner.value - expected) == 0


def test_fem_meshes_and_solves_on_it(annulus):
    pytest.importorskip("meshpy")
    made = manufacture(symop.parse(TEXT), {"u": "x^2*y + 3*y"})
    errors = [symop.solve(made, "fem", h=h, degree=1).errors()["u"]["rel_l2"] for h in (0.2, 0.1)]
    assert errors[1] < 0.02
    assert errors[0] / errors[1] > 3  # second order: about 4 when h halves


def test_pinn_samples_its_collocation_points(annulus):
    made = manufacture(symop.parse(TEXT), {"u": "x^2*y + 3*y"})
    domain = made.domain
    inside = domain.sample_interior(2000, seed=0)
    assert np.all(domain.contains(inside))
    r = np.linalg.norm(inside - np.array([0.5, 0.0]), axis=1)
    assert r.min() >= 0.5 and r.max() <= 1.25
    pts, normals = domain.sample_boundary("inner", 100, seed=1)
    assert np.allclose(np.einsum("ij,ij->i", pts - np.array([0.5, 0.0]), normals), -0.5)
    loss = symop.lower(made, "pinn", points=300, boundary_points=80)._loss("cpu")
    kinds = [t.kind for t in loss.terms]
    batch = loss.sample(0)
    interior = batch[kinds.index("interior")][0].numpy()
    assert interior.shape == (300, 2) and np.all(domain.contains(interior))
    boundary = [(X.numpy(), n.numpy()) for (X, n), k in zip(batch, kinds) if k not in ("interior", "initial")]
    assert len(boundary) == 2
    for X, n in boundary:  # every point on one of the circles, its normal radial and of length one
        radial = (X - np.array([0.5, 0.0])) / np.linalg.norm(X - np.array([0.5, 0.0]), axis=1, keepdims=True)
        assert np.allclose(np.abs(np.einsum("ij,ij->i", radial, n)), 1.0)
        assert np.all(domain.side_of(X, tol=1e-6) != None)  # noqa: E711 (pinn samples in float32)


def test_an_installed_plugin_registers_a_domain_for_the_command_line(tmp_path):
    """A module announced under the `symop` entry points gives the kind through its `symop_domains` hook."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    site = tmp_path / "site"
    site.mkdir()
    info = site / "symop_ring_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: symop-ring-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[symop]\nring = annulus_domain\n")
    (info / "RECORD").write_text("")
    path = tmp_path / "ring.pde"
    path.write_text(TEXT)

    def check(*paths: Path) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
        return subprocess.run([sys.executable, "-m", "symop.cli", "check", str(path)], capture_output=True, text=True,
                              env=env, cwd=tmp_path)

    proc = check(site, Path(__file__).parent)
    assert proc.returncode == 0 and "ok (ring: 1 field, 2D, steady)" in proc.stdout, proc.stderr


def test_a_plugin_kind_may_not_take_a_built_in_or_another_plugins_name():
    class Twice:
        @staticmethod
        @annulus_domain.hookimpl
        def symop_domains():
            return [annulus_domain.KIND]

    assert domains(make_manager(False, [annulus_domain]))["annulus"] is annulus_domain.KIND
    with pytest.raises(PluginError, match="both add a domain kind named `annulus`"):
        domains(make_manager(False, [annulus_domain, Twice()]))

    class Disk:
        @staticmethod
        @annulus_domain.hookimpl
        def symop_domains():
            return [registry.DomainKind("disk", annulus_domain._build, annulus_domain.KIND.arguments, "", "")]

    with pytest.raises(PluginError, match="collides with the built-in domain kind `disk`"):
        domains(make_manager(False, [Disk()]))
