"""Sweeps on Dask workers: a benchmark suite and a convergence study give the serial results.

One local cluster of two worker processes serves the module through
``Workers(scheduler=ADDRESS)`` (the path ``--scheduler`` takes); one CLI run
starts its own cluster with ``--workers 2``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from symop import bench
from symop.converge import converge
from symop.errors import SymopError
from symop.sweep import Workers, run_tasks

distributed = pytest.importorskip("dask.distributed")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scheduler():
    import logging

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
    yield cluster.scheduler_address
    cluster.close()


def _without_times(rows):
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def test_a_suite_of_20_on_two_workers_writes_the_serial_results(tmp_path, scheduler):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    bench.generate("poisson", 20, 3, serial, options={"n": 8})
    bench.generate("poisson", 20, 3, parallel, options={"n": 8})
    order: list[str] = []
    a = bench.run(serial, "fem")
    b = bench.run(parallel, "fem", workers=Workers(scheduler=scheduler), progress=lambda r: order.append(r["name"]))
    ra, rb = (json.loads((d / "results.json").read_text()) for d in (serial, parallel))
    assert a["passed"] >= 15 and a["passed"] == b["passed"]
    assert _without_times(ra["results"]) == _without_times(rb["results"])
    assert {k: v for k, v in ra.items() if k != "results"} == {k: v for k, v in rb.items() if k != "results"}
    assert sorted(order) == [r["name"] for r in ra["results"]]  # every row reported as it finished
    assert all(r["time"] > 0 for r in rb["results"])  # each problem timed where it ran


def test_a_study_on_two_workers_is_the_serial_study(scheduler):
    serial = converge(ROOT / "examples" / "poisson.pde", "fd", levels=3, base=8)
    parallel = converge(ROOT / "examples" / "poisson.pde", "fd", levels=3, base=8, workers=Workers(scheduler=scheduler))
    assert [lv.rel_l2 for lv in serial.levels] == [lv.rel_l2 for lv in parallel.levels]
    assert serial.orders == parallel.orders and parallel.declared_order == 2


def test_results_keep_the_order_of_the_items_whatever_finishes_first(scheduler):
    assert run_tasks(_slow_for_small, [3, 0, 2, 1], Workers(scheduler=scheduler)) == [3, 0, 2, 1]


def _slow_for_small(k: int) -> int:
    import time

    time.sleep(0.05 * (3 - k))
    return k


def test_bad_workers_and_a_silent_scheduler_are_sentences():
    with pytest.raises(SymopError, match="--workers takes a number of processes ≥ 1, not 0"):
        Workers(0)
    with pytest.raises(SymopError, match="no Dask scheduler answered at tcp://127.0.0.1:9"):
        run_tasks(abs, [1, 2], Workers(scheduler="tcp://127.0.0.1:9", connect_timeout=1.0))


def test_without_dask_workers_are_refused_with_the_install_line(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith("dask"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(SymopError, match=r'pip install "symop\[dask\]"'):
        run_tasks(abs, [1], Workers(2))
    assert run_tasks(abs, [-1, -2], Workers(1)) == [1, 2]  # one worker: here, no Dask needed


def test_converge_on_the_command_line_with_two_workers(tmp_path):
    out = subprocess.run([sys.executable, "-m", "symop", "converge", "examples/poisson.pde", "-m", "fd", "--levels",
                          "2", "--set", "n=8", "--workers", "2", "--json", "-q"], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "solving the 2 levels on 2 local Dask worker processes" in out.stderr
    assert "WARNING" not in out.stderr
    study = json.loads(out.stdout)
    assert len(study["levels"]) == 2 and study["levels"][1]["rel_l2"] < study["levels"][0]["rel_l2"]
