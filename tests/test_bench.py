"""Benchmark suites: generated problems are exact and parse; a box suite passes with fd."""

from __future__ import annotations

import json

import pytest

import symop
from symop import bench
from symop.mms import check_exact


def _has_fd() -> bool:
    try:
        from symop.plugins import discretizations

        return "fd" in discretizations()
    except Exception:
        return False


def test_generate_all_domains_exact(tmp_path):
    suite = bench.generate("helmholtz", 4, 3, tmp_path, dims=[2])
    data = json.loads((tmp_path / "suite.json").read_text())
    assert len(data["problems"]) == 4
    for entry in data["problems"]:
        p = symop.load(tmp_path / entry["file"])
        assert check_exact(p) == {"u": 0}
        assert p.domain.kind in ("box", "disk", "polygon", "difference")
        assert any(bc.kind == "dirichlet" for bc in p.boundary)


@pytest.mark.parametrize("family", bench.FAMILIES)
def test_generate_is_reproducible(tmp_path, family):
    a = bench.generate(family, 1, 11, tmp_path / "a", domains=["box"])
    b = bench.generate(family, 1, 11, tmp_path / "b", domains=["box"])
    name = a.problems[0]["file"]
    assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_unknown_family_and_domain(tmp_path):
    with pytest.raises(symop.SymopError, match="unknown benchmark family"):
        bench.generate("navier", 1, 0, tmp_path)
    with pytest.raises(symop.SymopError, match="unknown domain kind"):
        bench.generate("poisson", 1, 0, tmp_path, domains=["sphere"])


@pytest.mark.skipif(not _has_fd(), reason="the fd method is not installed")
def test_fd_skips_non_box(tmp_path):
    bench.generate("poisson", 2, 1, tmp_path, domains=["disk"], dims=[2])
    summary = bench.run(tmp_path, "fd", {"n": 8})
    assert summary["skipped"] == 2 and summary["failed"] == 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_fd(), reason="the fd method is not installed")
def test_box_suite_passes_with_fd(tmp_path, capsys):
    from symop.cli import main

    for family in bench.FAMILIES:
        rc = main(["bench", "generate", family, "--count", "4", "--seed", "5", "--domains", "box",
                   "--set", "n=16", "-o", str(tmp_path / family)])
        assert rc == 0
    for family in bench.FAMILIES:
        rc = main(["bench", "run", str(tmp_path / family), "--method", "fd", "-q"])
        results = json.loads((tmp_path / family / "results.json").read_text())
        assert rc == 0, [(r["name"], r["status"], r.get("rel_l2"), r.get("reason")) for r in results["results"]]
        assert results["passed"] == 4


def _has(method: str) -> bool:
    try:
        from symop.plugins import discretizations

        return method in discretizations()
    except Exception:
        return False


@pytest.mark.skipif(not _has("fem"), reason="the fem method is not installed")
def test_non_box_suite_passes_with_fem(tmp_path):
    """Hole and polygon normals are right: fem solves manufactured problems on them."""
    bench.generate("poisson", 4, 2, tmp_path, dims=[2], domains=["box-minus-disk", "polygon", "disk"])
    summary = bench.run(tmp_path, "fem")
    assert summary["failed"] == 0 and summary["passed"] == 4, summary["results"]


@pytest.mark.skipif(not _has("fem"), reason="the fem method is not installed")
def test_a_mesh_size_given_to_fem_is_the_one_refined(tmp_path):
    """fem takes its mesh from n or from h, never both: a suite's n does not override the h a user sets (its
    order check then refines h, second order for P1), a run given both is refused, and so is a study whose every
    level fem refuses."""
    from symop.converge import converge
    from symop.errors import OptionError, SymopError

    bench.generate("poisson", 1, 3, tmp_path, domains=["box"], dims=[2])
    summary = bench.run(tmp_path, "fem", {"h": 0.2}, expect_order=2)
    row = summary["results"][0]
    assert row["options"] == {"h": 0.2} and row["status"] == "pass" and row["order"] > 1.7, row
    problem = symop.load(tmp_path / row["file"])
    with pytest.raises(OptionError, match="give fem's mesh by `n` .* or by `h` .*, not both"):
        symop.solve(problem, "fem", n=8, h=0.2)
    with pytest.raises(SymopError, match="fem refused every level of the study: give fem's mesh by `n`"):
        converge(problem, "fem", levels=2, options={"n": 8, "h": 0.2})
