"""Benchmark suites of manufactured problems.

:func:`generate` writes ``count`` problems of one family (poisson, heat,
advection-diffusion, wave, helmholtz) with random coefficients, random
boundary kinds (Dirichlet, Neumann, Robin; at least one Dirichlet side) and a
random manufactured solution, each as a ``.pde`` file, plus ``suite.json``.
2D families may draw box, disk, polygon and box-minus-disk domains.
:func:`run` solves every problem of a suite with one method and records the
error, the time and pass/fail in ``results.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from symop.errors import SymopError

if TYPE_CHECKING:  # pragma: no cover
    from symop.sweep import Workers

FAMILIES = ("poisson", "heat", "advection-diffusion", "wave", "helmholtz")
DOMAINS = ("box", "disk", "polygon", "box-minus-disk")

#: default pass bound on the relative L2 error, and the run options recorded in suite.json
DEFAULT_BOUND = 5e-2
DEFAULT_OPTIONS = {"n": 32}


def _r(rng: np.random.Generator, lo: float, hi: float, step: float = 0.05) -> str:
    k = int(rng.integers(int(round(lo / step)), int(round(hi / step)) + 1))
    value = round(k * step, 6)
    return repr(float(value)).rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _domain(kind: str, dim: int) -> tuple[str, tuple[str, ...]]:
    """The ``domain`` line's text of one of :data:`DOMAINS` and its sides, as the domain itself gives them."""
    from symop.model.domains import Box, Difference, Disk, Interval, Polygon
    from symop.writer import number_text

    if kind == "box":
        domain = Interval("x", 0, 1) if dim == 1 else Box((("x", 0, 1), ("y", 0, 1)))
    elif kind == "disk":
        domain = Disk((0, 0), 1)
    elif kind == "polygon":
        domain = Polygon(((0, 0), (1, 0), (1, 0.5), (0.5, 0.5), (0.5, 1), (0, 1)))
    elif kind == "box-minus-disk":
        domain = Difference(Box((("x", 0, 1), ("y", 0, 1))), Disk((0.5, 0.5), 0.2), "hole")
    else:
        raise SymopError(f"unknown domain kind `{kind}`; the kinds are " + ", ".join(DOMAINS))
    return domain.text(number_text), domain.sides


def _conditions(rng: np.random.Generator, sides: Sequence[str], field: str) -> list[str]:
    kinds = [str(rng.choice(["dirichlet", "neumann", "robin"], p=[0.5, 0.25, 0.25])) for _ in sides]
    if "dirichlet" not in kinds:
        kinds[int(rng.integers(len(sides)))] = "dirichlet"
    lines = []
    for side, kind in zip(sides, kinds):
        if kind == "dirichlet":
            lines.append(f"boundary {side}: {field} = 0")
        elif kind == "neumann":
            lines.append(f"boundary {side}: dn({field}) = 0")
        else:
            lines.append(f"boundary {side}: dn({field}) + {_r(rng, 0.5, 2.0, 0.25)}*{field} = 0")
    return lines


def family_text(family: str, rng: np.random.Generator, domain: str, dim: int, name: str) -> str:
    """The template file of one problem (before the manufactured solution)."""
    dom, sides = _domain(domain, dim)
    space = "x" if dim == 1 else "x, y"
    lap = "d(u, x, 2)" if dim == 1 else "lap(u)"
    head = [f'problem {name} "{family} benchmark ({domain}, {dim}D)"', f"space {space}"]
    body: list[str] = []
    if family == "poisson":
        head.append(f"domain {dom}")
        body += [f"param kappa = {_r(rng, 0.5, 2.0)}", "field u", f"equation -kappa*{lap} = 0"]
    elif family == "helmholtz":
        head.append(f"domain {dom}")
        body += [f"param k = {_r(rng, 0.5, 1.2)}", "field u", f"equation -{lap} - k^2*u = 0"]
    elif family == "heat":
        head += ["time t in [0, 0.2]", f"domain {dom}"]
        body += [f"param kappa = {_r(rng, 0.1, 1.0)}", "field u", f"equation dt(u) = kappa*{lap}", "initial u = 0"]
    elif family == "advection-diffusion":
        head += ["time t in [0, 0.2]", f"domain {dom}"]
        adv = "a*dx(u)" if dim == 1 else "a*dx(u) + b*dy(u)"
        params = f"param nu = {_r(rng, 0.1, 0.5)}, a = {_r(rng, -1.0, 1.0, 0.25)}"
        if dim > 1:
            params += f", b = {_r(rng, -1.0, 1.0, 0.25)}"
        body += [params, "field u", f"equation dt(u) + {adv} = nu*{lap}", "initial u = 0"]
    elif family == "wave":
        head += ["time t in [0, 0.25]", f"domain {dom}"]
        body += [f"param c = {_r(rng, 0.5, 1.0)}", "field u", f"equation dt(u, 2) = c^2*{lap}",
                 "initial u = 0", "initial dt(u) = 0"]
    else:
        raise SymopError(f"unknown benchmark family `{family}`; the families are " + ", ".join(FAMILIES))
    return "\n".join(head + body + _conditions(rng, sides, "u")) + "\n"


@dataclass
class Suite:
    directory: Path
    data: dict[str, Any]

    @property
    def problems(self) -> list[dict[str, Any]]:
        return self.data["problems"]


def check_generate(family: str, count: int, *, domains: Sequence[str] | None = None,
                   dims: Sequence[int] | None = None, bound: float = DEFAULT_BOUND,
                   options: Mapping[str, Any] | None = None) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Refuse, with a sentence, arguments :func:`generate` cannot use; the domain kinds and dimensions it will
    draw from (the defaults where none are given).  Nothing is written, so a caller checks before making folders."""
    if family not in FAMILIES:
        raise SymopError(f"unknown benchmark family `{family}`; the families are " + ", ".join(FAMILIES))
    if count < 1:
        raise SymopError("--count must be at least 1")
    domains = tuple(domains or DOMAINS)
    for d in domains:
        if d not in DOMAINS:
            raise SymopError(f"unknown domain kind `{d}`; the kinds are " + ", ".join(DOMAINS))
    dims = tuple(dims or (1, 2))
    for d in dims:
        if d not in (1, 2):
            raise SymopError(f"benchmark problems are 1D or 2D: --dims takes 1, 2 or 1,2, not {d}")
    if not (isinstance(bound, (int, float)) and np.isfinite(bound) and bound > 0):
        raise SymopError(f"--bound is a relative L2 error that a problem must stay below: a number > 0, not {bound}")
    _check_cells(dict(options or {}).get("n"), "--set n")
    return domains, dims


def generate(family: str, count: int, seed: int, out: str | Path, *, domains: Sequence[str] | None = None,
             dims: Sequence[int] | None = None, bound: float = DEFAULT_BOUND,
             options: Mapping[str, Any] | None = None, max_frequency: int = 2) -> Suite:
    """Write ``count`` manufactured problems of ``family`` and ``suite.json`` into ``out``."""
    from symop.api import parse
    from symop.mms import manufacture, random_solution
    from symop.writer import write_problem

    domains, dims = check_generate(family, count, domains=domains, dims=dims, bound=bound, options=options)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    entries = []
    stem = family.replace("-", "_")
    for k in range(count):
        dim = int(rng.choice(dims))
        domain = "box" if dim == 1 else str(rng.choice(domains))
        if dim == 1 and "box" not in domains:
            dim, domain = 2, str(rng.choice(domains))
        name = f"{stem}_{k:03d}"
        text = family_text(family, rng, domain, dim, name)
        problem = parse(text, f"{name}.pde")
        sol_seed = int(rng.integers(0, 2**31 - 1))
        exact = random_solution(problem, sol_seed, modes=2, max_frequency=max_frequency)
        made = manufacture(problem, exact)
        path = out / f"{name}.pde"
        path.write_text(write_problem(made, header=f"{family} benchmark {k} of suite seed {seed}; solution seed {sol_seed}"))
        entries.append({"file": path.name, "name": name, "family": family, "domain": domain, "dimension": dim,
                        "steady": made.is_steady, "bound": bound, "solution_seed": sol_seed})
    data = {"family": family, "count": count, "seed": seed, "domains": list(domains),
            "options": dict(options or DEFAULT_OPTIONS), "bound": bound, "problems": entries}
    (out / "suite.json").write_text(json.dumps(data, indent=2) + "\n")
    return Suite(out, data)


def _check_cells(value: Any, where: str) -> None:
    """Refuse a suite resolution ``n`` that is not a whole number of cells ≥ 1."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SymopError(f"{where} is the number of cells per axis of every problem: a whole number ≥ 1, "
                         f"not `{value}`")


def load_suite(directory: str | Path) -> Suite:
    """The suite in ``directory``, its ``suite.json`` checked (a sentence, not a traceback, when it is malformed)."""
    directory = Path(directory)
    path = directory / "suite.json"
    if not path.exists():
        raise SymopError(f"{directory} has no suite.json; write one with `symop bench generate`")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SymopError(f"{path} is not valid JSON: {err}") from None
    hint = "; write the suite again with `symop bench generate`"
    if not isinstance(data, dict):
        raise SymopError(f"{path} is not a benchmark suite: it holds {type(data).__name__}, not an object{hint}")
    problems = data.get("problems")
    if not isinstance(problems, list):
        raise SymopError(f"{path} is not a benchmark suite: it has no list `problems`{hint}")
    for k, entry in enumerate(problems):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(key), str) and entry.get(key)
                                                  for key in ("file", "name")):
            raise SymopError(f"{path}: problem {k} needs a `file` and a `name` (text){hint}")
        bound = entry.get("bound", data.get("bound", DEFAULT_BOUND))
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not bound > 0:
            raise SymopError(f"{path}: the bound of problem `{entry['name']}` must be a number > 0, not `{bound}`")
    if not isinstance(data.get("options", {}), dict):
        raise SymopError(f"{path}: `options` must be an object of NAME: VALUE{hint}")
    _check_cells(data.get("options", {}).get("n"), f"{path}: the option `n`")
    return Suite(directory, data)


@dataclass(frozen=True)
class _Task:
    """One problem of a suite to solve: everything a worker process needs, and nothing it must share."""

    directory: Path
    entry: dict[str, Any]
    method: str
    base: dict[str, Any]
    cells: int | None
    expect_order: float | None
    bound: float


def solve_entry(task: _Task) -> dict[str, Any]:
    """The result row of one suite problem: status pass/fail/error/skipped, errors, its own wall time."""
    from symop.api import load, solve
    from symop.plugins import get_discretization, refusal

    disc = get_discretization(task.method)
    entry = task.entry
    row: dict[str, Any] = {"name": entry["name"], "file": entry["file"], "domain": entry.get("domain"),
                           "bound": entry.get("bound", task.bound)}
    start = time.perf_counter()
    try:
        problem = load(task.directory / entry["file"])
        reason = refusal(task.method, problem)
        if reason:
            row.update(status="skipped", reason=reason, rel_l2=None, max=None, time=0.0)
            return row
        opts = dict(task.base)
        if task.cells is not None:  # the suite's resolution, in the option the given ones refine (fem's h if set)
            opts.pop("n", None)
            opts = {**disc.resolution(problem, int(task.cells), opts), **opts}
        row["options"] = opts
        sol = solve(problem, task.method, **opts)
        errs = sol.errors()
        rel = float(max(v["rel_l2"] for v in errs.values()))
        row.update(rel_l2=rel, max=float(max(v["max"] for v in errs.values())), time=float(sol.wall_time))
        ok = bool(np.isfinite(rel) and rel < row["bound"])
        if task.expect_order is not None and disc.declared_accuracy(opts) is not None:
            from symop.converge import converge

            rule = disc.refinement_for(problem, opts)
            in_time = not problem.is_steady and rule is not None and rule.step in opts
            st = converge(problem, task.method, levels=2, refine="both" if in_time else "space", options=opts)
            order = st.observed_order
            row["order"] = order
            ok = order is not None and order >= task.expect_order - 0.3
        row["status"] = "pass" if ok else "fail"
    except SymopError as err:
        row.update(status="error", reason=str(err).splitlines()[0], rel_l2=None, max=None,
                   time=time.perf_counter() - start)
    return row


def run(directory: str | Path, method: str, settings: Mapping[str, Any] | None = None, *,
        expect_order: float | None = None, progress: Callable[[dict[str, Any]], None] | None = None,
        starting: Callable[[dict[str, Any]], None] | None = None, workers: "Workers | None" = None) -> dict[str, Any]:
    """Solve every problem of a suite with ``method``; write and return ``results.json`` data.

    A problem passes when its relative L2 error is below its bound in
    suite.json, or (with ``expect_order``, for a method that declares an
    order) when a 2-level check (n, 2n) shows at least that order less 0.3.
    The suite's ``n`` becomes each method's own resolution on each domain
    (:meth:`~symop.plugins.Discretization.resolution`).  Problems the method
    refuses are ``skipped`` with its reason.  ``starting(entry)`` is called
    with each problem's suite.json entry when it is handed out, ``progress(row)``
    with its result row when it finishes.  ``workers`` (:class:`symop.sweep.Workers`)
    solves the problems on Dask workers; the rows keep the suite's order, so
    results.json is the serial run's but for the times.
    """
    from symop.api import refuse_checkpoint
    from symop.plugins import get_discretization
    from symop.sweep import run_tasks

    suite = load_suite(directory)
    disc = get_discretization(method)
    names = {o.name for o in disc.options}
    base = {k: v for k, v in suite.data.get("options", {}).items() if k in names}
    base.update(settings or {})
    refuse_checkpoint(base, "a benchmark suite solves each problem")
    # the suite's `n` is cells per axis; each method says what that is on each domain (Discretization.resolution)
    cells = suite.data.get("options", {}).get("n") if "n" not in (settings or {}) else None
    tasks = [_Task(suite.directory, entry, method, base, cells, expect_order,
                   suite.data.get("bound", DEFAULT_BOUND)) for entry in suite.problems]
    rows = run_tasks(solve_entry, tasks, workers,
                     started=None if starting is None else lambda i: starting(tasks[i].entry),
                     done=None if progress is None else lambda i, row: progress(row))
    summary = {"method": method, "options": base, "family": suite.data.get("family"),
               "passed": sum(r["status"] == "pass" for r in rows),
               "failed": sum(r["status"] in ("fail", "error") for r in rows),
               "skipped": sum(r["status"] == "skipped" for r in rows), "results": rows}
    (suite.directory / "results.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary
