"""The `symop` command as a user runs it."""

from __future__ import annotations

from pathlib import Path

from symop.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_check_reports_each_file(capsys):
    assert main(["check", str(EXAMPLES / "heat.pde"), str(EXAMPLES / "gray_scott.pde")]) == 0
    out = capsys.readouterr().out
    assert "heat.pde: ok (heat: 1 field, 2D, time-dependent)" in out
    assert "gray_scott.pde: ok (gray_scott: 2 fields, 2D, time-dependent)" in out


def test_show_prints_the_model_as_mathematics(capsys):
    assert main(["show", str(EXAMPLES / "heat.pde")]) == 0
    out = capsys.readouterr().out
    assert "[u]  dt(u) = kappa*lap(u)" in out
    assert "top: dn(u) + 2*u" in out and "(robin)" in out
    assert "u: order 1 in time, 2 in space, linear, parabolic" in out
    assert "diffusion" in out


def test_show_classifies_elliptic_and_hyperbolic(capsys):
    main(["show", str(EXAMPLES / "poisson.pde")])
    assert "linear, elliptic" in capsys.readouterr().out
    main(["show", str(EXAMPLES / "wave.pde")])
    assert "order 2 in time, 2 in space, linear, hyperbolic" in capsys.readouterr().out
    main(["show", str(EXAMPLES / "burgers.pde")])
    assert "nonlinear" in capsys.readouterr().out


def test_errors_exit_one_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.pde"
    bad.write_text("space x\ndomain interval(x: [0, 1])\nfield u\nequation -d(u, x, 2) = 1\nboundary rigth: u = 0\n")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.pde:5:10: error: unknown boundary side `rigth`" in err
    assert "did you mean `right`?" in err
    assert "Traceback" not in err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "check" in capsys.readouterr().out


def test_an_unexpected_error_ends_in_a_sentence_not_a_traceback(capsys, monkeypatch):
    """A gap in symop's checks (an exception that is not a SymopError) is reported as a sentence asking for a
    report; --traceback still shows where it happened."""
    import pytest

    import symop.cli as cli

    def broken(args):
        raise RuntimeError("derivative for aten::something is not implemented")

    import dataclasses

    table = cli.command_table()
    table["check"] = dataclasses.replace(table["check"], run=broken)
    monkeypatch.setattr(cli, "command_table", lambda: table)
    assert main(["check", "examples/poisson.pde"]) == 1
    err = capsys.readouterr().err
    assert "internal error RuntimeError: derivative for aten::something" in err and "please report" in err
    assert "Traceback" not in err
    with pytest.raises(RuntimeError):
        main(["--traceback", "check", "examples/poisson.pde"])


def test_json_of_a_refused_run_is_one_error_document(capsys):
    """README: `json.loads` of stdout always works with --json, a refusal included."""
    import json

    assert main(["run", "examples/disk_poisson.pde", "-m", "fd", "--json"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out) == {"error": "fd needs a box domain; this problem's domain is a disk centred at (0, 0) "
                                            "with radius 1."}
    assert "fd needs a box domain" in out.err


def test_the_documented_module_paths_work_after_a_plain_import():
    """`symop.mms.random_solution`, `symop.converge.converge`, `symop.api.manufacture` as the README writes them,
    in a fresh interpreter where nothing else imported them first."""
    import subprocess
    import sys

    code = ("import symop; print(symop.mms.random_solution.__name__, symop.converge.converge.__name__, "
            "symop.api.manufacture.__name__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["random_solution", "converge", "manufacture"]
