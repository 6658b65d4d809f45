"""What the commands say beside their results: warnings as `warning: ...` lines, refused arguments that leave
nothing behind, and the notes and H1 orders of a convergence study."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import pytest

import symop
from symop.cli import WarningLines, main
from symop.converge import Level, Study

POISSON_1D = """problem p1
space x
domain interval(x: [0, 1])
field u
equation -d(u, x, 2) = pi^2*sin(pi*x)
boundary all: u = 0
exact u = sin(pi*x)
"""

HEAT_1D = """problem h1
space x
time t in [0, 0.5]
domain interval(x: [0, 1])
field u
equation dt(u) = d(u, x, 2)
boundary all: u = 0
initial u = sin(pi*x)
exact u = exp(-pi^2*t)*sin(pi*x)
"""

FAMILY_1D = """problem fam
space x
domain interval(x: [0, 1])
param a in [1, 2]
field u
equation -d(u, x, 2) = a
boundary all: u = 0
"""

MESSAGE = "the solver had to take a detour here."


def _cli(args, capsys):
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _raw_form(err: str) -> bool:
    """Whether ``err`` holds a warning in Python's own form (``file.py:12: UserWarning: ...``)."""
    return "UserWarning" in err or ".py:" in err


# ------------------------------------------------------------------ warnings
def test_warning_lines_print_each_message_once_and_only_when_shown(capsys):
    with WarningLines():
        warnings.warn(MESSAGE, UserWarning)
        warnings.warn(MESSAGE, UserWarning)
        warnings.warn("another.", UserWarning)
    err = capsys.readouterr().err
    assert err == f"warning: {MESSAGE}\nwarning: another.\n"
    with WarningLines(show=False):  # a torchrun process that does not report
        warnings.warn(MESSAGE, UserWarning)
    assert capsys.readouterr().err == ""


def _warn_then(real):
    def solve(*args, **kwargs):
        warnings.warn(MESSAGE, UserWarning, stacklevel=2)
        return real(*args, **kwargs)

    return solve


@pytest.mark.parametrize("command", ["converge", "compare"])
def test_commands_that_solve_show_warnings_as_run_does(tmp_path, capsys, monkeypatch, command):
    import symop.api

    src = tmp_path / "p.pde"
    src.write_text(POISSON_1D)
    monkeypatch.setattr(symop.api, "solve", _warn_then(symop.api.solve))
    args = {"converge": ["converge", src, "-m", "fd", "--levels", "2", "--set", "n=8", "-q"],
            "compare": ["compare", src, "--methods", "fd", "--set", "n=8", "-q"]}[command]
    rc, out, err = _cli(args, capsys)
    assert rc == 0, err
    assert err.count(f"warning: {MESSAGE}") == 1 and not _raw_form(err), err


def test_train_shows_warnings_as_run_does_before_its_closing_line(tmp_path, capsys, monkeypatch):
    import symop.api

    def train(problem, method, output, **kwargs):
        warnings.warn(MESSAGE, UserWarning, stacklevel=2)
        return SimpleNamespace(losses=[1.0], wall_time=0.1, path=output, info={})

    monkeypatch.setattr(symop.api, "train", train)
    src = tmp_path / "fam.pde"
    src.write_text(FAMILY_1D)
    rc, out, err = _cli(["train", src, "-m", "pino", "--samples", "2", "-o", tmp_path / "m.pt", "-q"], capsys)
    assert rc == 0, err
    assert err.count(f"warning: {MESSAGE}") == 1 and not _raw_form(err), err
    rc, out, err = _cli(["train", src, "-m", "pino", "--samples", "2", "-o", tmp_path / "m.pt", "-q", "--json"],
                        capsys)
    assert rc == 0 and json.loads(out)["losses"] == [1.0]  # stdout stays one JSON document
    assert f"warning: {MESSAGE}" in err and not _raw_form(err)


def test_a_refused_command_still_shows_its_warnings_before_the_error(tmp_path, capsys, monkeypatch):
    import symop.api

    def train(problem, method, output, **kwargs):
        warnings.warn(MESSAGE, UserWarning, stacklevel=2)
        raise symop.SymopError("training stopped.")

    monkeypatch.setattr(symop.api, "train", train)
    src = tmp_path / "fam.pde"
    src.write_text(FAMILY_1D)
    rc, out, err = _cli(["train", src, "-m", "pino", "-o", tmp_path / "m.pt", "-q"], capsys)
    assert rc == 1 and err.index(f"warning: {MESSAGE}") < err.index("training stopped.") and not _raw_form(err)


# ------------------------------------------------------------------ bench generate
@pytest.mark.parametrize("given", [["--count", "0"], ["--domains", "nowhere"], ["--dims", "3"], ["--dims", "x"],
                                   ["--bound", "-1"], ["--set", "n=0"]])
def test_bench_generate_refused_leaves_no_folder(tmp_path, capsys, given):
    target = tmp_path / "suite" / "inner"
    rc, out, err = _cli(["bench", "generate", "poisson", *given, "-o", target], capsys)
    assert rc == 1 and err.strip()
    assert not (tmp_path / "suite").exists(), "a refused `bench generate` left its -o folder behind"


def test_bench_generate_refused_keeps_a_folder_that_was_there(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    rc, _, _ = _cli(["bench", "generate", "poisson", "--count", "0", "-o", tmp_path / "mine"], capsys)
    assert rc == 1 and (tmp_path / "mine").is_dir()


# ------------------------------------------------------------------ convergence notes and H1
def _levels(errors, h=None, dt=None, h1=None):
    out = []
    for k, e in enumerate(errors):
        fields = {"u": {"rel_l2": e, "max": e}}
        if h1 is not None:
            fields["u"]["rel_h1"] = h1[k]
        out.append(Level({"n": 8, "dt": None if dt is None else dt[k]}, None if h is None else h[k],
                         None if dt is None else dt[k], e, e, 0.1, fields))
    return out


def test_a_time_study_that_stalls_says_the_spatial_error_dominates():
    stalled = Study("p", "fd", "time", _levels([1.30e-2, 1.34e-2, 1.35e-2], h=[0.125] * 3, dt=[0.1, 0.05, 0.025]),
                    declared_order=2, space_option="n", time_option="dt")
    [note] = stalled.notes
    assert "spatial error likely dominates" in note and "--set n=32" in note and "--refine both" in note
    assert json.loads(stalled.to_json())["notes"] == [note]
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(stalled.table())
    assert "spatial error likely dominates" in console.export_text()
    falling = Study("p", "fd", "time", _levels([4e-2, 1e-2, 2.5e-3], h=[0.125] * 3, dt=[0.1, 0.05, 0.025]),
                    declared_order=2, space_option="n", time_option="dt")
    assert falling.notes == [] and json.loads(falling.to_json())["notes"] == []
    low_order = Study("p", "fd", "time", _levels([4e-2, 3.9e-2], dt=[0.1, 0.05]), declared_order=None)
    assert low_order.notes == []  # no declared order: nothing to fall short of


def test_a_space_study_at_a_fixed_coarse_dt_says_the_time_error_dominates():
    st = Study("p", "fd", "space", _levels([1e-2, 1e-2, 1e-2], h=[0.1, 0.05, 0.025], dt=[0.1] * 3),
               declared_order=2, space_option="n", time_option="dt")
    [note] = st.notes
    assert "time error likely dominates" in note and "--set dt=0.025" in note


def test_fixed_mesh_time_study_through_the_command(tmp_path, capsys):
    src = tmp_path / "h.pde"
    src.write_text(HEAT_1D)
    rc, out, err = _cli(["converge", src, "-m", "fd", "--refine", "time", "--levels", "3", "--set", "n=4",
                         "--set", "dt=0.02", "--set", "scheme=crank-nicolson", "--json", "-q"], capsys)
    assert rc == 0, err
    data = json.loads(out)
    assert abs(data["observed_order"]) < 0.3
    assert len(data["notes"]) == 1 and "spatial error likely dominates" in data["notes"][0]
    assert "(n=4)" in data["notes"][0] and "--set n=16" in data["notes"][0]


def test_h1_orders_are_shown_when_the_method_measures_h1():
    st = Study("p", "fem", "space", _levels([4e-2, 1e-2, 2.5e-3], h=[0.1, 0.05, 0.025], h1=[0.2, 0.1, 0.05]),
               declared_order=2, space_option="h")
    assert st.h1_orders == pytest.approx([1.0, 1.0]) and st.observed_h1_order == pytest.approx(1.0)
    data = json.loads(st.to_json())
    assert data["h1_orders"] == pytest.approx([1.0, 1.0]) and data["levels"][1]["h1_order"] == pytest.approx(1.0)
    from rich.console import Console

    console = Console(width=80, record=True)
    console.print(st.table())
    text = console.export_text()
    assert "H1" in text and "2.500e-03" in text and "5.000e-02" in text  # fits 80 columns, numbers whole
    plain = Study("p", "fd", "space", _levels([4e-2, 1e-2], h=[0.1, 0.05]), declared_order=2)
    assert not plain.has_h1 and "h1_orders" not in json.loads(plain.to_json())


def test_fem_study_reports_its_h1_order(tmp_path, capsys):
    pytest.importorskip("symop_fem")
    src = tmp_path / "p.pde"
    src.write_text(POISSON_1D)
    rc, out, err = _cli(["converge", src, "-m", "fem", "--levels", "3", "--set", "h=0.125", "--json", "-q"],
                        capsys)
    assert rc == 0, err
    data = json.loads(out)
    assert data["observed_order"] == pytest.approx(2.0, abs=0.15)  # P1: L2 order 2, H1 order 1
    assert data["observed_h1_order"] == pytest.approx(1.0, abs=0.15)


def test_an_interrupted_run_says_where_its_checkpoint_is(tmp_path, capsys, monkeypatch):
    """Ctrl-C during a run with a checkpoint: exit 130 and a sentence that the checkpoint resumes the run."""
    import symop.api

    checkpoint = tmp_path / "run.pt"
    kept = []

    def interrupted(problem, method, **kwargs):
        if kept:
            checkpoint.write_bytes(b"kept")  # what the training loop leaves between steps
        raise KeyboardInterrupt

    monkeypatch.setattr(symop.api, "solve", interrupted)
    src = tmp_path / "p.pde"
    src.write_text(POISSON_1D)
    command = ["run", src, "-m", "pinn", "--set", f"checkpoint={checkpoint}", "-q"]
    rc, out, err = _cli(command, capsys)  # interrupted before any checkpoint: no promise
    assert rc == 130 and err.strip() == "interrupted", err
    kept.append(True)
    rc, out, err = _cli(command, capsys)
    assert rc == 130
    assert f"the checkpoint `{checkpoint}` keeps the steps completed so far" in err and "resume" in err, err


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly():
    """`symop show FILE | head -1`: the pipe closed by its reader is no internal error and no traceback."""
    import subprocess
    import sys
    from pathlib import Path

    heat = Path(__file__).resolve().parent.parent / "examples" / "heat.pde"
    proc = subprocess.Popen([sys.executable, "-m", "symop", "show", str(heat)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "internal error" not in err and "Traceback" not in err, err
