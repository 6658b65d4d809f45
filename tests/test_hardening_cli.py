"""The command line as a careless user drives it: bad -o, bad --set values, huge grids,
unstable time steps.  Each ends in a sentence and exit status 1, never a traceback,
and a bad -o is refused before any solving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import symop.plugins
import symop.resources
from symop.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"
HEAT = str(EXAMPLES / "heat.pde")
GiB = 2**30


@pytest.fixture
def solves(monkeypatch):
    """Counts the programs run (every solve goes through ``symop.plugins.timed_run``)."""
    calls: list[object] = []
    real = symop.plugins.timed_run

    def spy(program, device, progress):
        calls.append(program)
        return real(program, device, progress)

    monkeypatch.setattr(symop.plugins, "timed_run", spy)
    return calls


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    return code, captured.out, captured.err


# ------------------------------------------------------------------ -o
def test_output_onto_a_file_is_refused_before_solving(tmp_path, capsys, solves):
    target = tmp_path / "results"
    target.write_text("not a folder")
    code, _, err = run(capsys, "run", HEAT, "-q", "-o", str(target))
    assert code == 1 and "is a file, not a folder" in err
    assert solves == []
    assert target.read_text() == "not a folder"


def test_output_under_a_file_is_refused_before_solving(tmp_path, capsys, solves):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "run", HEAT, "-q", "-o", str(blocker / "sub"))
    assert code == 1 and "is a file, so no folder can be made under it" in err
    assert solves == []


def test_output_where_nothing_can_be_written_is_refused_before_solving(capsys, solves):
    code, _, err = run(capsys, "run", HEAT, "-q", "-o", "/proc/symop-results")
    assert code == 1 and "cannot create the folder `/proc/symop-results`" in err
    assert solves == []


def test_a_300_character_problem_name_gives_bounded_file_names(tmp_path, capsys):
    name = "p" * 300
    src = tmp_path / "long.pde"
    src.write_text(Path(HEAT).read_text().replace("problem heat", f"problem {name}"))
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, "run", str(src), "-q", "-o", str(out), "--plot")
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert "fields.npz" in names and "summary.json" in names
    assert any(n.endswith(".vtu") for n in names) and any(n.endswith(".png") for n in names)
    assert max(len(n) for n in names) <= 90
    assert json.loads((out / "summary.json").read_text())["problem"] == name


def test_one_output_that_fails_keeps_the_others_and_is_named(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "heat.h5").mkdir(parents=True)  # the HDF5 file cannot be written: a folder has its name
    code, stdout, err = run(capsys, "run", HEAT, "-q", "-o", str(out), "--plot")
    assert code == 1
    assert "could not write heat.h5" in err
    for name in ("fields.npz", "summary.json", "heat.png"):
        assert (out / name).is_file(), name
    assert "summary.json" in stdout


def test_train_refuses_a_model_path_that_is_a_folder_before_training(tmp_path, capsys):
    code, _, err = run(capsys, "train", HEAT, "-m", "pino", "--samples", "2", "-o", str(tmp_path))
    assert code == 1 and "is a folder; pass a file name" in err


def test_converge_refuses_output_onto_a_file_before_the_study(tmp_path, capsys, solves):
    target = tmp_path / "f"
    target.write_text("")
    code, _, err = run(capsys, "converge", HEAT, "-m", "fd", "--levels", "2", "-o", str(target))
    assert code == 1 and "is a file, not a folder" in err
    assert solves == []


# ------------------------------------------------------------------ --set
@pytest.mark.parametrize("setting, message", [
    ("n=-5", "the option `n` of method `fd` must be at least 1, not -5."),
    ("n=0", "the option `n` of method `fd` must be at least 1, not 0."),
    ("n=abc", "the option `n` of method `fd` takes int values, not `abc`."),
    ("dt=0", "the option `dt` of method `fd` must be greater than 0, not 0."),
    ("dt=inf", "the option `dt` of method `fd` must be a finite number, not inf."),
    ("kappa=abc", "parameter `kappa` takes a number, not `abc`."),
    ("kappa=inf", "parameter `kappa` is inf; parameters must be finite numbers."),
    ("kappa=nan", "parameter `kappa` is nan; parameters must be finite numbers."),
])
def test_bad_settings_are_sentences(capsys, solves, setting, message):
    code, _, err = run(capsys, "run", HEAT, "-q", "--set", setting)
    assert code == 1
    assert message in err
    assert "singular" not in err
    assert solves == []


def test_a_grid_too_big_for_memory_is_refused_with_the_estimate(monkeypatch, capsys, solves):
    monkeypatch.setattr(symop.resources, "machine_memory", lambda: (23 * GiB, 20 * GiB))
    code, _, err = run(capsys, "run", HEAT, "-q", "--set", "n=100000")
    assert code == 1
    assert "a 100,001² grid" in err and "needs about" in err and "GiB" in err
    assert "this machine has 23 GiB" in err and "lower `n`" in err
    assert solves == []


def test_a_mesh_too_fine_for_memory_is_refused_before_meshing(monkeypatch, capsys):
    monkeypatch.setattr(symop.resources, "machine_memory", lambda: (23 * GiB, 20 * GiB))
    from symop.model.domains import Disk

    def no_meshing(self, h, order=1):
        raise AssertionError("the mesher ran")

    monkeypatch.setattr(Disk, "mesh", no_meshing)
    code, _, err = run(capsys, "run", str(EXAMPLES / "disk_poisson.pde"), "-q", "--set", "h=1e-5")
    assert code == 1
    assert "a mesh with h = 1e-05" in err and "elements" in err and "raise `h`" in err


# ------------------------------------------------------------------ wrong answers
def test_explicit_euler_beyond_its_stability_limit_stops_with_step_and_advice(capsys):
    code, _, err = run(capsys, "run", HEAT, "-q", "-m", "fd", "--set", "scheme=euler", "--set", "dt=0.1")
    assert code == 1
    assert "at step 4 (t = 0.4)" in err
    assert "smaller dt" in err and "implicit scheme" in err


def test_stable_and_really_growing_runs_are_not_stopped(tmp_path, capsys):
    growth = tmp_path / "grow.pde"
    growth.write_text(
        "problem grow\nspace x\ntime t in [0, 2]\ndomain interval(x: [0, 1])\nfield u\n"
        "equation dt(u) = 0.01*d(u, x, 2) + 3*u\nboundary left, right: u = 0\n"
        "initial u = sin(pi*x)\nexact u = exp((3 - 0.01*pi^2)*t)*sin(pi*x)\n"
    )
    for scheme in ("rk4", "euler", "heun"):
        code, out, _ = run(capsys, "run", str(growth), "-q", "-m", "fd", "--set", f"scheme={scheme}", "--json")
        assert code == 0, scheme
        summary = json.loads(out[out.index("{"):])
        assert summary["errors"]["u"]["rel_l2"] < 0.5, scheme
    # below forward Euler's limit 2/|lambda_max| (about 2.4e-3 here) the heat example runs to its end
    code, out, _ = run(capsys, "run", HEAT, "-q", "-m", "fd", "--set", "scheme=euler", "--set", "dt=1e-3", "--json")
    assert code == 0 and json.loads(out[out.index("{"):])["errors"]["u"]["rel_l2"] < 1e-2


def test_options_check_and_state_their_range():
    from symop.errors import OptionError
    from symop.plugins import Option

    n = Option("n", int, 32, "cells", minimum=1)
    dt = Option("dt", float, None, "step", minimum=0, exclusive=True)
    share = Option("share", float, 0.5, "fraction", minimum=0, maximum=1)
    assert (n.range_text(), dt.range_text(), share.range_text()) == ("≥ 1", "> 0", "in [0, 1]")
    assert n.convert("7", "m") == 7 and dt.convert("1e-3", "m") == 1e-3 and share.convert(1, "m") == 1.0
    for option, value, message in [(n, "0", "must be at least 1, not 0"), (dt, "0", "must be greater than 0"),
                                   (share, "1.5", "must be at most 1, not 1.5"), (dt, "nan", "a finite number")]:
        with pytest.raises(OptionError, match=message):
            option.convert(value, "m")
