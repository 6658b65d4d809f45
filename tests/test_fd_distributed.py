"""fd on several processes (symop_fd.distributed): a grid split into blocks steps as one process does.

Each launch runs several problems on 2 or 3 gloo processes (``torchrun``); the
test compares every gathered field with the one-process eager run: explicit
schemes by ``torch.equal`` (float64; the ghost layers a block receives or
closes are the values one process pads the whole grid with, so nothing may
differ), implicit and IMEX schemes, splitting and steady problems (distributed
Krylov solves against one process's direct solve) to 1e-9 relative.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import torch

import symop
from symop import plugins
from symop.errors import MethodError, OptionError
from symop.training import DistInfo

from launch import torchrun

MIXED = """problem mixed "2D heat with every side kind, a cross derivative and a source"
space x, y
time t in [0, 0.02]
domain box(x: [0, 1], y: [0, 2])
param kappa = 0.1
field u
equation dt(u) = kappa*lap(u) + 0.05*d(d(u, x), y) + sin(3*x)*u + exp(-t)*y
boundary left: u = sin(t)*y
boundary right: u = 0
boundary bottom: dn(u) = -pi*exp(-t)*sin(pi*x)
boundary top: dn(u) + 2*u = cos(x + t)
initial u = sin(pi*x)*cos(y)
"""

PERIODIC = """problem drift "advection-diffusion on a periodic box"
space x, y
time t in [0, 0.05]
domain box(x: [0, 1], y: [0, 1])
boundary periodic(x, y)
field c
equation dt(c) = -dx(c) - 0.5*dy(c) + 0.01*lap(c) + 0.1*c^2
initial c = sin(2*pi*x)*cos(2*pi*y) + 0.3
"""

HEAT3D = """problem box3 "3D heat, Dirichlet and Neumann sides, one periodic axis"
space x, y, z
time t in [0, 0.01]
domain box(x: [0, 1], y: [0, 1], z: [0, 1])
boundary periodic(z)
field u
equation dt(u) = lap(u) + d(d(u, x), z)
boundary left, right: u = x*t
boundary bottom, top: dn(u) = 0
initial u = sin(pi*x)*sin(pi*y)*cos(2*pi*z)
"""

WAVE = """problem wave2 "2D wave, second order in time"
space x, y
time t in [0, 0.1]
domain box(x: [0, 1], y: [0, 1])
field u
equation dt(u, 2) = lap(u)
boundary left, right: u = 0
boundary bottom, top: dn(u) = 0
initial u = sin(pi*x)*cos(pi*y)
initial dt(u) = 0
"""

SLOWER = """problem slower "heat whose diffusivity changes in time"
space x
time t in [0, 0.1]
domain interval(x: [0, 1])
field u
equation dt(u) = (1 + t)*d(u, x, 2)
boundary left, right: u = 0
initial u = sin(pi*x)
"""

STEADY = """problem steady "nonlinear steady problem, Dirichlet, Neumann and Robin sides"
space x, y
domain box(x: [0, 1], y: [0, 2])
field u
equation -lap(u) + u^3 = 1 + x*y
boundary left: u = y
boundary right: dn(u) = 1
boundary bottom, top: dn(u) + u = 0
"""

#: (file, options) per case; the blocks make the splits uneven, along one, two or three axes
CASES = {
    2: [("mixed", dict(n=13, order=2)),                              # auto: 2x1 of 14 x 14 nodes
        ("mixed", dict(n=16, order=4, blocks="1x2", scheme="crank-nicolson")),  # distributed CG / BiCGSTAB
        ("drift", dict(n=12, order=2, blocks="2x1", scheme="ars222")),  # IMEX: c^2 explicit
        ("mixed", dict(n=13, order=2, blocks="1x2", scheme="ars222")),  # IMEX: the flux data of bottom/top implicit
        ("drift", dict(n=12, order=4, split="strang", dt=0.01)),     # implicit diffusion, explicit rest
        ("box3", dict(n=8, order=2, blocks="1x1x2", scheme="crank-nicolson")),
        ("slower", dict(n=16, scheme="crank-nicolson")),               # refused: re-assembles every step
        ("steady", dict(n=13, order=4, blocks="1x2")),                # Newton, each step a distributed BiCGSTAB
        ("mixed", dict(n=16, order=4, blocks="1x2")),                # 17 nodes along y: 9 + 8
        ("drift", dict(n=15, order=4, blocks="2x1", scheme="ssprk3")),  # periodic wrap between the two blocks
        ("box3", dict(n=8, order=2, blocks="1x1x2")),                 # split along the periodic axis
        ("wave2", dict(n=12, order=2, blocks="2x1", save=3))],
    3: [("mixed", dict(n=20, order=4, blocks="3x1")),                # 21 nodes: 7 + 7 + 7 at order 4's closures
        ("mixed", dict(n=20, order=2, blocks="3x1", scheme="backward-euler")),
        ("steady", dict(n=20, order=2)),
        ("drift", dict(n=10, order=2, blocks="1x3")),                # 10 nodes: 4 + 3 + 3, periodic
        ("box3", dict(n=9, order=4, blocks="1x1x3"))],               # periodic z: 3 + 3 + 3 nodes, 2 ghost layers
    # two and three axes split at once (slow: 4 and 8 processes on a small machine)
    4: [("mixed", dict(n=13, order=4, blocks="2x2")),
        ("drift", dict(n=9, order=2, blocks="2x2")),
        ("box3", dict(n=14, order=4, blocks="2x1x2"))],
    8: [("box3", dict(n=14, order=2, blocks="2x2x2")),
        ("box3", dict(n=15, order=4))],
}

WORKER = """
import json, sys, torch
torch.set_num_threads(1)
import symop
from symop.training import distributed
info = distributed("cpu")
cases = json.loads(sys.argv[1])
out = {}
for i, (path, options) in enumerate(cases):
    try:
        sol = symop.solve(path, method="fd", processes=info, compile=False, **options)
    except symop.SymopError as e:
        out[i] = str(e)
        continue
    if info.is_main:
        out[i] = ({f: torch.as_tensor(v) for f, v in sol.fields.items()},
                  {f: torch.as_tensor(v) for f, v in (sol.history or {}).items()}, sol.info["layout"])
if info.is_main:
    torch.save(out, sys.argv[2])
"""


def _files(tmp_path):
    paths = {}
    for name, text in (("mixed", MIXED), ("drift", PERIODIC), ("box3", HEAT3D), ("wave2", WAVE), ("slower", SLOWER),
                       ("steady", STEADY)):
        paths[name] = tmp_path / f"{name}.pde"
        paths[name].write_text(text)
    return paths


def _torchrun(args: list[str], procs: int, timeout: int = 150) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "SYMOP_COMPILE": "0"}
    return torchrun(args, procs, env, timeout)


@pytest.mark.parametrize("procs", [2, 3, pytest.param(4, marks=pytest.mark.slow), pytest.param(8, marks=pytest.mark.slow)])
def test_runs_on_several_processes_equal_one_process(tmp_path, procs):
    paths = _files(tmp_path)
    cases = [(str(paths[name]), options) for name, options in CASES[procs]]
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    result = tmp_path / "out.pt"
    run = _torchrun([str(worker), json.dumps(cases), str(result)], procs, timeout=150 + 30 * procs)
    assert run.returncode == 0, run.stderr[-3000:]
    got = torch.load(result, weights_only=True)
    torch.set_num_threads(1)
    for i, (path, options) in enumerate(cases):
        if path.endswith("slower.pde"):
            assert "re-assembles" in got[i] and "one process" in got[i]
            continue
        assert not isinstance(got[i], str), (path, options, got[i])  # the message of a refusal
        one = symop.solve(path, method="fd", compile=False, **options)
        fields, history, layout = got[i]
        exact = options.get("scheme", "rk4") in ("rk4", "ssprk3") and "split" not in options \
            and "steady" not in path
        assert layout["processes"] == procs
        if options.get("blocks"):
            assert layout["blocks"] == options["blocks"]
        sizes = [[b - a for a, b in block] for block in layout["nodes"]]
        for f, v in one.fields.items():
            a = torch.as_tensor(v)
            assert a.dtype == torch.float64
            if not exact:  # a Krylov solve to 1e-12 against a direct one
                assert torch.allclose(fields[f], a, rtol=0, atol=1e-9 * float(a.abs().max())), (path, options, f)
                continue
            assert torch.equal(fields[f], a), (path, options, f, float((fields[f] - a).abs().max()), sizes)
            if one.history:
                assert torch.equal(history[f], torch.as_tensor(one.history[f])), (path, options, f)


@pytest.mark.slow
def test_cli_under_torchrun_writes_one_summary_with_the_layout(tmp_path):
    paths = _files(tmp_path)
    out = tmp_path / "out"
    run = _torchrun(["-m", "symop", "run", str(paths["mixed"]), "--method", "fd", "--set", "n=12", "--set",
                     "compile=false", "-o", str(out), "-q", "--json"], 2)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["info"]["layout"]["processes"] == 2
    assert summary["info"]["layout"]["blocks"] == "2x1"
    assert [len(b) for b in summary["info"]["layout"]["nodes"]] == [2, 2]
    assert run.stdout.count('"layout"') == 1  # rank 0 alone reports


def test_what_does_not_split_is_refused_before_any_work(tmp_path):
    """Methods that run in one process are refused under torchrun before lowering; fd takes what it accepts."""
    paths = _files(tmp_path)
    two = DistInfo(rank=0, world=2)
    assert plugins.lower(symop.load("examples/poisson.pde"), "fd", {}, processes=two).processes == two
    with pytest.raises(MethodError, match="one process"):
        plugins.lower(symop.load("examples/heat.pde"), "fem", {}, processes=two)
    # one process: the same calls lower as before
    assert plugins.lower(symop.load(paths["mixed"]), "fd", dict(scheme="crank-nicolson")).processes is None


def test_layouts_split_unevenly_and_refuse_thin_blocks(tmp_path):
    from symop_fd.distributed import Layout, make_layout, process_grid
    from symop_fd.lowering import Lowered

    assert process_grid((33, 17), 2, None) == (2, 1)
    assert process_grid((9, 40, 9), 4, "auto") == (1, 4, 1)
    assert process_grid((17, 33, 9), 4, "auto") == (2, 2, 1)
    assert process_grid((9, 9, 9), 3, "1x1x3") == (1, 1, 3)
    layout = Layout((10, 7), (3, 1), (False, True))
    assert layout.split(0) == [(0, 4), (4, 7), (7, 10)]
    assert layout.neighbour(0, 0, -1) is None and layout.neighbour(2, 0, 1) is None
    assert Layout((10,), (3,), (True,)).neighbour(2, 0, 1) == 0
    with pytest.raises(OptionError, match="multiply"):
        process_grid((9, 9), 2, "2x2")
    low = Lowered(symop.load(_files(tmp_path)["mixed"]), 16, 4, torch.float64, "cpu")
    with pytest.raises(OptionError, match="closure"):
        make_layout(low, 3, "1x3")  # 17 nodes: the top block has 5 of the 7 its closure reads


# ---------------------------------------------------------------- what each process holds of the whole grid
def _lowered(text: str, n: int):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))
    from symop_fd.lowering import Lowered

    return Lowered(symop.parse(text), n, 2, torch.float64, "cpu")


def test_node_coordinates_are_one_broadcastable_array_per_axis():
    """No whole-grid array of coordinates: axis k's coordinate has the grid's length along k only, and
    broadcasting them gives the grid's meshes."""
    low = _lowered(MIXED, 12)
    mesh = low.grid.mesh()
    for k, c in enumerate(low.coord_tensors):
        assert [s > 1 for s in c.shape] == [a == k for a in range(len(low.shape))]
        assert torch.equal(torch.broadcast_to(c, low.shape), torch.as_tensor(mesh[k], dtype=torch.float64))


@pytest.mark.parametrize("blocks", ["2x1", "1x3"])
def test_each_process_evaluates_the_initial_state_of_its_block_only(blocks):
    """``initial_state`` with a process's blocks has the block's shape and equals the whole grid's initial
    state (Dirichlet nodes included) restricted to the block."""
    from symop_fd.distributed import Blocks, block_index, make_layout
    from symop_fd.timestep import initial_state

    low = _lowered(MIXED, 20)
    whole = initial_state(low, 0.0)
    world = 2 if blocks == "2x1" else 3
    layout = make_layout(low, world, blocks)
    for rank in range(world):
        block = Blocks(low, layout, DistInfo(rank=rank, world=world))
        mine = initial_state(low, 0.0, block)
        assert mine.shape[1:] == block.shape and mine.shape[1:] != whole.shape[1:]
        assert torch.equal(mine, whole[(slice(None), *block_index(layout, rank))])
