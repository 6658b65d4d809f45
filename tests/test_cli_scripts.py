"""The `symop` command as scripts use it: one JSON document on stdout, quick start-up, small conveniences.

Every ``--json`` test parses the whole of standard output with ``json.loads``:
a progress line, a table or a "solved" line on stdout fails it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from symop.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
POISSON = str(EXAMPLES / "poisson.pde")
HEAT = str(EXAMPLES / "heat.pde")


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------- --json: stdout is one document
def test_run_json_is_the_whole_stdout(capsys):
    code, out, err = cli(capsys, "run", POISSON, "-m", "fd", "--set", "n=8", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["method"] == "fd" and summary["errors"]["u"]["rel_l2"] < 0.05
    assert "solved with fd" in err  # the human line still appears, on stderr


def test_run_json_with_a_progress_bar_and_warnings(capsys):
    code, out, err = cli(capsys, "run", HEAT, "-m", "fd", "--set", "n=8", "--every", "5", "--json")
    assert code == 0, err
    assert json.loads(out)["problem"] == "heat"


def test_run_json_with_a_training_bar(capsys):
    pytest.importorskip("symop_pinn")
    code, out, err = cli(capsys, "run", POISSON, "-m", "pinn", "--set", "steps=3", "--set", "points=16",
                         "--set", "boundary_points=8", "--set", "width=4", "--set", "depth=1",
                         "--set", "eval_points=16", "--json")
    assert code == 0, err
    assert json.loads(out)["method"] == "pinn"
    assert "3/3" in err  # the training bar, on stderr


def test_compare_json_and_feedback(capsys):
    code, out, err = cli(capsys, "compare", POISSON, "--methods", "fd,nosuch", "--set", "n=8", "--json")
    assert code == 0, err
    data = json.loads(out)
    rows = {row["method"]: row for row in data["rows"]}
    assert rows["fd"]["rel_l2"] < 0.05 and rows["fd"]["settings"] == {"n": 8}
    assert "not installed" in rows["nosuch"]["note"]
    # what starts, the overall bar and each finished row, on stderr
    assert "[....................] 0/2 fd on poisson (n=8) ..." in err
    assert "[##########..........] 1/2 fd: rel L2" in err
    assert "2/2 nosuch:" in err


def test_compare_budgets_and_per_method_settings(capsys):
    from symop.mms_cli import COMPARE_BUDGETS, compare_settings

    common, per = compare_settings(["n=16", "pinn:steps=40", "fd:order=4"], ["fd", "pinn"])
    assert common == {"n": "16"} and per == {"fd": {"order": "4"}, "pinn": {"steps": "40"}}
    from symop.errors import SymopError

    with pytest.raises(SymopError, match="names the method `fem`, which is not among --methods fd,pinn"):
        compare_settings(["fem:h=0.1"], ["fd", "pinn"])
    assert COMPARE_BUDGETS["pinn"]["steps"] <= 1000  # a few minutes at most, not pinn's own 2000
    # a mistyped name for every method is refused before anything is solved, with a suggestion
    code, out, err = cli(capsys, "compare", POISSON, "--methods", "fd", "--set", "nn=8")
    assert code == 1 and "Did you mean `n`?" in err and "fd on poisson" not in err


def test_compare_plan_gives_neural_methods_their_budget():
    pytest.importorskip("symop_pinn")
    import symop
    from symop.mms_cli import COMPARE_BUDGETS, compare_plan
    from symop.plugins import discretizations

    problem = symop.load(POISSON)
    chosen, budgets = compare_plan(problem, ["fd", "pinn"], discretizations(), ["n=16"])
    assert chosen["fd"] == {"n": 16}  # fd has no budget; pinn has no n
    assert chosen["pinn"] == COMPARE_BUDGETS["pinn"] and budgets == {"pinn": COMPARE_BUDGETS["pinn"]}
    chosen, budgets = compare_plan(problem, ["fd", "pinn"], discretizations(), ["pinn:steps=40"])
    assert chosen["pinn"]["steps"] == 40 and budgets["pinn"]["steps"] == 40
    assert chosen["pinn"]["points"] == COMPARE_BUDGETS["pinn"]["points"]


def test_compare_prints_the_neural_budget(capsys):
    pytest.importorskip("symop_pinn")
    code, out, err = cli(capsys, "compare", POISSON, "--methods", "pinn", "--set", "pinn:steps=2",
                         "--set", "pinn:points=16", "--set", "pinn:boundary_points=8", "--set", "pinn:width=4",
                         "--set", "pinn:depth=1", "--set", "pinn:eval_points=16", "--json", "-q")
    assert code == 0, err
    data = json.loads(out)
    assert data["budgets"] == {"pinn": {"steps": 2, "points": 16, "boundary_points": 8}}
    assert "pinn runs on a short budget: steps=2, points=16, boundary_points=8" in err


def test_converge_json_feedback_and_no_files_without_o(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "converge", POISSON, "-m", "fd", "--levels", "2", "--set", "n=8", "--json")
    assert code == 0, err
    study = json.loads(out)
    assert study["method"] == "fd" and len(study["levels"]) == 2
    assert "0/2 level 0: fd on poisson (n=8) ..." in err and "2/2 level 1: rel L2" in err
    assert list(tmp_path.iterdir()) == []  # nothing in the current directory
    assert "no files written" in err
    code, out, err = cli(capsys, "converge", POISSON, "-m", "fd", "--levels", "2", "--set", "n=8", "-o", "study", "-q")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == ["convergence.json", "convergence.png"]


def test_bench_run_json_and_feedback(capsys, tmp_path):
    from symop import bench

    bench.generate("poisson", 2, 0, tmp_path, domains=["box"], dims=[1], options={"n": 8})
    code, out, err = cli(capsys, "bench", "run", str(tmp_path), "-m", "fd", "--json")
    data = json.loads(out)
    assert code == (1 if data["failed"] else 0)
    assert [r["name"] for r in data["results"]] == ["poisson_000", "poisson_001"]
    assert "0/2 poisson_000 (poisson, box, 1D) with fd ..." in err and "2/2 poisson_001: " in err


# ---------------------------------------------------------------- small things
def test_version(capsys):
    from symop import __version__

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"symop {__version__}"


def test_plugins_one_method_fits_80_columns(capsys):
    code, out, err = cli(capsys, "plugins", "fd")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("fd: finite differences")
    assert "  n  (int, default 32, ≥ 1)" in lines and "      cells per axis" in lines
    assert "pinn" not in out  # one method only
    assert max(len(line) for line in lines) <= 80
    code, out, err = cli(capsys, "plugins", "fdd")
    assert code == 1 and "Did you mean `fd`?" in err


def test_mistyped_parameter_suggests_the_parameter(capsys):
    code, out, err = cli(capsys, "run", HEAT, "-m", "fd", "--set", "kapa=0.2", "-q")
    assert code == 1
    assert "Did you mean the parameter `kappa`?" in err
    code, out, err = cli(capsys, "run", HEAT, "-m", "fd", "--set", "shceme=euler", "-q")
    assert code == 1 and "Did you mean the option `scheme`?" in err
    # a name that is neither is an error even where it looks like nothing: it used to become an option error
    code, out, err = cli(capsys, "run", HEAT, "-m", "fd", "--set", "zzz=1", "-q")
    assert code == 1 and "has no option `zzz`" in err and "no parameter of that name" in err


def test_summary_states_its_provenance(tmp_path, capsys):
    import platform

    import torch

    from symop import __version__

    code, out, err = cli(capsys, "run", POISSON, "-m", "fd", "--set", "n=8", "-o", str(tmp_path), "-q")
    assert code == 0, err
    prov = json.loads((tmp_path / "summary.json").read_text())["provenance"]
    assert prov["symop"] == __version__ and prov["torch"] == torch.__version__
    assert prov["python"] == platform.python_version()
    assert prov["seed"] is None and prov["device_name"]
    assert prov["created"].endswith("+00:00")  # UTC
    assert prov["command"].startswith(f"symop run {POISSON} -m fd --set n=8 -o ")
    import datetime

    assert abs(datetime.datetime.fromisoformat(prov["created"]) - datetime.datetime.now(datetime.timezone.utc)) \
        < datetime.timedelta(minutes=5)


def test_seed_is_recorded_for_a_method_with_one(tmp_path):
    pytest.importorskip("symop_pinn")
    import symop

    sol = symop.solve(symop.load(POISSON), "pinn", steps=1, points=8, boundary_points=4, width=4, depth=1,
                      eval_points=8, seed=7)
    assert sol.summary()["provenance"]["seed"] == 7


# ---------------------------------------------------------------- start-up: no torch where none is needed
PROBE = """
import sys
from symop.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "scipy", "matplotlib"))
sys.stderr.write("HEAVY " + ",".join(heavy) + "\\n")
"""


def heavy_modules(*argv: str) -> tuple[list[str], subprocess.CompletedProcess]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=ROOT)
    line = [x for x in proc.stderr.splitlines() if x.startswith("HEAVY ")][-1]
    return [m for m in line[6:].split(",") if m], proc


@pytest.mark.parametrize("argv", [("check", "examples/heat.pde"), ("show", "examples/heat.pde"), ("--help",),
                                  ("plugins",), ("plugins", "fd"), ("plugins", "fem"), ("plugins", "pinn"),
                                  ("plugins", "pino"), ("plugins", "hypino"), ("plugins", "insr")])
def test_light_commands_do_not_import_torch(argv):
    heavy, proc = heavy_modules(*argv)
    assert heavy == [], f"symop {' '.join(argv)} imported {heavy[:5]}"
    assert "Traceback" not in proc.stderr


def test_device_cuda_is_refused_before_torch_loads():
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    heavy, proc = heavy_modules("run", "examples/heat.pde", "--device", "cuda")
    assert "--device cuda was asked for" in proc.stderr
    assert heavy == []


def test_studies_refuse_a_checkpoint_that_every_solve_would_resume(tmp_path, capsys):
    """A convergence study, a suite and two compared methods would resume one another's training from one file."""
    pytest.importorskip("symop_pinn")
    pytest.importorskip("symop_insr")
    import symop
    from symop import bench
    from symop.converge import converge
    from symop.errors import OptionError, SymopError
    from symop.mms_cli import compare_plan
    from symop.plugins import discretizations

    ckpt = str(tmp_path / "run.pt")
    with pytest.raises(OptionError, match="a convergence study solves each level afresh.*leave checkpoint out"):
        converge(POISSON, "pinn", levels=2, options={"checkpoint": ckpt, "steps": 2})
    assert not (tmp_path / "run.pt").exists()
    bench.generate("poisson", 2, 1, tmp_path / "suite", domains=["box"], dims=[2])
    with pytest.raises(OptionError, match="a benchmark suite solves each problem afresh"):
        bench.run(tmp_path / "suite", "pinn", {"checkpoint": ckpt, "steps": 2})
    problem = symop.load(POISSON)
    with pytest.raises(SymopError, match="pinn and insr would share the checkpoint .*`--set pinn:checkpoint=...`"):
        compare_plan(problem, ["pinn", "insr"], discretizations(), [f"checkpoint={ckpt}"])
    chosen, _ = compare_plan(problem, ["pinn", "insr"], discretizations(),
                             [f"pinn:checkpoint={ckpt}", f"insr:checkpoint={tmp_path / 'steps'}"])
    assert chosen["pinn"]["checkpoint"] == ckpt
