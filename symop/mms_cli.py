"""Sub-commands ``symop mms``, ``symop converge``, ``symop compare`` and ``symop bench``.

Registered with the plugin manager by :func:`symop.cli.command_table`; its
``symop_commands`` hook gives the four commands.

The long ones (``converge``, ``compare``, ``bench run``) say on standard error
what they start (method, level, problem) and each row as it finishes, behind
an overall bar (:class:`symop.cli.Feedback`); ``--json`` prints their result
as one JSON document on standard output.  ``compare`` runs neural methods on
the short budgets of :data:`COMPARE_BUDGETS` unless ``--set METHOD:NAME=VALUE``
says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping

from symop.cli import Feedback, WarningLines, console, emit_json, parse_settings, settings_text
from symop.errors import SymopError
from symop.plugins import Command, hookimpl


def _solution_args(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise SymopError(f"--solution takes FIELD = EXPRESSION, not `{item}`")
        name, expr = item.split("=", 1)
        name = name.strip()
        if not name.isidentifier():
            raise SymopError(f"--solution `{item}`: `{name}` is not a field name")
        if name in out:
            raise SymopError(f"--solution gives the field `{name}` twice")
        out[name] = expr.strip()
    return out


def _one_line(err: SymopError) -> SymopError:
    text = str(err).strip().splitlines()
    return SymopError(text[0] if text else "error")


def cmd_mms(args: argparse.Namespace) -> int:
    from symop.api import load, manufacture
    from symop.mms import random_solution
    from symop.writer import write_problem

    problem = load(args.file)
    if args.output:
        from symop.output.files import prepare_file

        prepare_file(args.output)
    given = _solution_args(args.solution)
    try:
        if args.random:
            sols: dict[str, Any] = dict(random_solution(problem, args.seed, modes=args.modes,
                                                        max_frequency=args.max_frequency))
            for name in given:
                if name not in problem.field_names:
                    raise SymopError(f"the problem has no field `{name}`; its fields are " + ", ".join(problem.field_names))
            sols.update(given)
        else:
            if not given:
                raise SymopError("no solution given: pass --solution \"FIELD = EXPRESSION\" for each field, or --random")
            sols = dict(given)
        made = manufacture(problem, sols)
    except SymopError as err:
        raise _one_line(err) from None
    header = f"manufactured from {args.file} by `symop mms`"
    text = write_problem(made, header=header)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        console().print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


def _split_options(problem, method: str, settings: dict[str, Any]):
    from symop.api import split_settings

    return split_settings(problem, method, settings)


def cmd_converge(args: argparse.Namespace) -> int:
    from symop.api import load
    from symop.converge import converge
    from symop.output.files import OutputFiles, prepare_directory
    from symop.plugins import get_discretization

    problem = load(args.file)
    settings = parse_settings(args.set)
    method = args.method or (problem.solve.method if problem.solve else None)
    if method is None:
        raise SymopError("no method given and the file has no `solve` line; pass --method")
    problem, options = _split_options(problem, method, settings)
    # files only where -o says: before the study, so that a bad -o loses nothing
    outdir = prepare_directory(args.output) if args.output else None
    out = console()
    disc = get_discretization(method)
    feedback = Feedback(args.levels, not args.quiet)

    def starting(k: int, opts: dict[str, Any]) -> None:
        rule = disc.refinement_for(problem, opts)
        keys = [] if rule is None else [n for n in (rule.cells, rule.size, rule.step, *rule.budget) if n]
        feedback.start(f"level {k}: {method} on {problem.name} ({settings_text({n: opts.get(n) for n in keys})})")

    def finished(k: int, lv) -> None:
        result = f"rel L2 {lv.rel_l2:.3e}" if lv.error is None else f"failed: {lv.error}"
        feedback.finish(f"level {k}: {result} ({lv.wall_time:.2f} s)")

    workers = workers_of(args)
    if workers.parallel:
        print(f"solving the {args.levels} levels on {workers.describe()}", file=sys.stderr)
    with WarningLines():  # the levels' warnings, before the table
        study = converge(problem, method, levels=args.levels, refine=args.refine, options=options,
                         progress=finished, starting=starting, solve_progress=not args.quiet, workers=workers)
    out.print(study.table())
    files = OutputFiles()  # the table is printed; a file that fails is reported, the other still written
    if outdir is not None:
        def write_json() -> Path:
            study.to_json(outdir / "convergence.json")
            return outdir / "convergence.json"

        files.attempt("convergence.json", write_json)
        files.attempt("convergence.png", lambda: study.plot(outdir / "convergence.png"))
        if files.written:
            out.print(f"wrote {', '.join(str(p) for p in files.written)}", markup=False)
    else:
        print("no files written; -o DIR keeps convergence.json and convergence.png", file=sys.stderr)
    if args.json:
        emit_json(args, json.loads(study.to_json()))
    files.finish()
    order = study.observed_order
    if args.expect_order is not None:
        if order is None or order < args.expect_order - 0.15:
            got = "could not be measured" if order is None else f"is {order:.2f}"
            print(f"the observed order {got}, below the expected {args.expect_order:g} (tolerance 0.15)",
                  file=sys.stderr)
            return 1
        out.print(f"observed order {order:.2f} ≥ {args.expect_order:g} − 0.15: ok")
    return 0


#: what ``symop compare`` gives a neural method unless ``--set METHOD:NAME=VALUE`` says otherwise: a
#: training budget that finishes in about a minute on a laptop CPU (pinn's own default is 2000 steps)
COMPARE_BUDGETS: dict[str, dict[str, Any]] = {
    "pinn": {"steps": 500, "points": 512, "boundary_points": 128},
}


def compare_settings(items: list[str] | None, methods: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``--set`` items of ``symop compare``: ``NAME=VALUE`` for every method, ``METHOD:NAME=VALUE`` for one.

    Returns ``(common, {method: settings})``; a prefix that is not among
    ``methods`` is an error.
    """
    common: dict[str, Any] = {}
    per: dict[str, dict[str, Any]] = {m: {} for m in methods}
    for key, value in parse_settings(items).items():
        if ":" in key:
            method, name = (part.strip() for part in key.split(":", 1))
            if method not in per:
                raise SymopError(f"--set {key}={value} names the method `{method}`, which is not among --methods "
                                 f"{','.join(methods)}.")
            per[method][name] = value
        else:
            common[key] = value
    return common, per


def compare_plan(problem, methods: list[str], installed: Mapping[str, Any],
                 items: list[str] | None) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The settings each method of ``symop compare`` runs with, and the budgets among them.

    A method's settings are its :data:`COMPARE_BUDGETS`, then the ``NAME=VALUE``
    items it has as an option (or that set a parameter), then its own
    ``METHOD:NAME=VALUE`` items.  A name that no method and no parameter
    knows is refused before anything is solved, with a suggestion.
    """
    import difflib

    from symop.api import unknown_setting

    common, per = compare_settings(items, methods)
    known = {m: {o.name for o in installed[m].options} for m in methods if m in installed}
    for key in common:  # a name no method and no parameter knows is a mistake, not something to skip
        if key not in problem.params and not any(key in names for names in known.values()):
            everything = set(problem.params).union(*known.values())
            close = difflib.get_close_matches(key, sorted(everything), n=1)
            raise SymopError(f"--set {key}: no method among {', '.join(methods)} has an option `{key}`, and the "
                             f"problem `{problem.name}` has no parameter of that name."
                             + (f" Did you mean `{close[0]}`?" if close else ""))
    for m, given in per.items():
        for key in given:
            if m in known and key not in known[m] and key not in problem.params:
                raise unknown_setting(key, m, known[m], problem)
    chosen: dict[str, dict[str, Any]] = {}
    for m in methods:
        names = known.get(m, set())
        budget = {k: v for k, v in COMPARE_BUDGETS.get(m, {}).items() if k in names and k not in per[m]}
        chosen[m] = {**budget, **{k: v for k, v in common.items() if k in names or k in problem.params}, **per[m]}
        if m in installed:  # typed as the method's options (`"n": 16`, not `"16"`), so --json reports numbers
            declared = {o.name: o for o in installed[m].options}
            chosen[m] = {k: declared[k].convert(v, m) if k in declared else v for k, v in chosen[m].items()}
    sharing = [m for m in methods if chosen[m].get("checkpoint")]
    for i, m in enumerate(sharing):  # one file (or folder) resumed by two methods would hold the other's training
        twin = next((o for o in sharing[i + 1:] if str(chosen[o]["checkpoint"]) == str(chosen[m]["checkpoint"])), None)
        if twin is not None:
            raise SymopError(f"{m} and {twin} would share the checkpoint `{chosen[m]['checkpoint']}`, each resuming "
                             f"the other's training; give each its own with `--set {m}:checkpoint=...`.")
    budgets = {m: {k: chosen[m][k] for k in COMPARE_BUDGETS.get(m, {}) if k in chosen[m]} for m in methods
               if m in known and m in COMPARE_BUDGETS}
    return chosen, budgets


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.table import Table

    from symop.api import load, solve
    from symop.plugins import discretizations

    problem = load(args.file)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise SymopError("--methods takes a comma-separated list such as fd,fem,pinn")
    installed = discretizations()
    chosen, budgets = compare_plan(problem, methods, installed, args.set)
    for m, budget in budgets.items():
        print(f"{m} runs on a short budget: {settings_text(budget)} (change it with --set {m}:NAME=VALUE)",
              file=sys.stderr)
    table = Table(title=f"{problem.name}: methods compared")
    for col in ("method", "rel L2", "max error", "time [s]", "note"):
        table.add_column(col, justify="right" if col not in ("method", "note") else "left")
    feedback = Feedback(len(methods), not args.quiet)
    rows = []
    for m in methods:
        row = {"method": m, "rel_l2": None, "max": None, "time": None, "note": "", "settings": chosen[m]}
        feedback.start(f"{m} on {problem.name}" + (f" ({settings_text(chosen[m])})" if chosen[m] else ""))
        if m not in installed:
            row["note"] = "not installed (see `symop plugins`)"
        else:
            reason = installed[m].accepts(problem)
            if reason:
                row["note"] = f"refuses: {reason}"
            else:
                try:
                    with WarningLines():  # this method's warnings, before its row
                        sol = solve(problem, m, progress=not args.quiet, **chosen[m])
                    errs = sol.errors()
                    row["time"] = float(sol.wall_time)
                    if errs:
                        row["rel_l2"] = float(max(v["rel_l2"] for v in errs.values()))
                        row["max"] = float(max(v["max"] for v in errs.values()))
                    else:
                        row["note"] = "no exact solution to compare with"
                except SymopError as err:
                    row["note"] = "failed: " + str(err).strip().splitlines()[0]
        rows.append(row)
        cells = ("—" if row["rel_l2"] is None else f"{row['rel_l2']:.3e}",
                 "—" if row["max"] is None else f"{row['max']:.3e}",
                 "—" if row["time"] is None else f"{row['time']:.2f}")
        table.add_row(m, *cells, row["note"])
        feedback.finish(f"{m}: rel L2 {cells[0]}, max {cells[1]}, {cells[2]} s" + (f"; {row['note']}" if row["note"] else ""))
    console().print(table)
    if args.json:
        emit_json(args, {"problem": problem.name, "budgets": budgets, "rows": rows})
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from symop import bench

    from symop.output.files import prepare_directory

    out = console()
    if args.bench_command == "generate":  # the arguments first: a refused command leaves no folder behind
        domains = [d.strip() for d in args.domains.split(",")] if args.domains else None
        try:
            dims = [int(d) for d in args.dims.split(",")] if args.dims else None
        except ValueError:
            raise SymopError(f"--dims takes comma-separated dimensions among 1, 2 (e.g. 1,2), not `{args.dims}`") from None
        options = {k: _number(v) for k, v in parse_settings(args.set).items()} or None
        bench.check_generate(args.family, args.count, domains=domains, dims=dims, bound=args.bound, options=options)
        prepare_directory(args.output)
        suite = bench.generate(args.family, args.count, args.seed, args.output, domains=domains, dims=dims,
                               bound=args.bound, options=options)
        out.print(f"wrote {len(suite.problems)} {args.family} problems and suite.json to {args.output}")
        return 0
    if args.bench_command == "run":
        from rich.table import Table

        settings = parse_settings(args.set)
        if Path(args.directory).is_dir():  # results.json goes there: refuse a read-only suite before running it
            prepare_directory(args.directory, "bench run")
        feedback = Feedback(len(bench.load_suite(args.directory).problems), not args.quiet)

        def finished(r: dict[str, Any]) -> None:
            error = "" if r.get("rel_l2") is None else f", rel L2 {r['rel_l2']:.2e} (bound {r['bound']:.0e})"
            reason = f" ({r['reason']})" if r.get("reason") else ""
            feedback.finish(f"{r['name']}: {r['status']}{error}, {r.get('time') or 0:.2f} s{reason}")

        workers = workers_of(args)
        if workers.parallel:
            print(f"solving the problems on {workers.describe()}", file=sys.stderr)
        with WarningLines():  # the problems' warnings, before the table
            summary = bench.run(args.directory, args.method, settings, expect_order=args.expect_order,
                                progress=finished, workers=workers,
                                starting=lambda e: feedback.start(f"{e['name']} ({e.get('family')}, "
                                                                   f"{e.get('domain')}, {e.get('dimension')}D) "
                                                                   f"with {args.method}"))
        table = Table(title=f"bench {summary.get('family')} with {args.method}")
        for col in ("problem", "domain", "rel L2", "max error", "bound", "time [s]", "status"):
            table.add_column(col, no_wrap=True)
        reasons: dict[str, list[str]] = {}
        for r in summary["results"]:
            color = {"pass": "green", "fail": "red", "error": "red", "skipped": "yellow"}[r["status"]]
            mark = ""
            if r.get("reason"):  # one numbered note per distinct reason, printed under the table
                names = reasons.setdefault(r["reason"], [])
                names.append(r["name"])
                mark = f" [{list(reasons).index(r['reason']) + 1}]"
            table.add_row(r["name"], str(r.get("domain")), "—" if r.get("rel_l2") is None else f"{r['rel_l2']:.2e}",
                          "—" if r.get("max") is None else f"{r['max']:.2e}", f"{r['bound']:.0e}",
                          f"{r.get('time') or 0:.2f}", f"[{color}]{r['status']}[/{color}]{mark}")
        out.print(table)
        for k, (reason, names) in enumerate(reasons.items(), start=1):
            out.print(f"[{k}] {reason} ({len(names)} problem{'s' if len(names) != 1 else ''})", markup=False)
        out.print(f"{summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped; "
                  f"wrote {Path(args.directory) / 'results.json'}")
        if args.json:
            emit_json(args, summary)
        return 1 if summary["failed"] else 0
    raise SymopError("use `symop bench generate ...` or `symop bench run ...`")


def _number(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def args_mms(m: argparse.ArgumentParser) -> None:
    m.add_argument("file", metavar="FILE", help="the equation file whose sources and data to derive")
    m.add_argument("--solution", action="append", metavar="\"FIELD = EXPR\"", help="exact solution of one field (repeatable)")
    m.add_argument("--random", action="store_true", help="draw random smooth solutions")
    m.add_argument("--seed", type=int, default=0, help="seed of --random")
    m.add_argument("--modes", type=int, default=3, help="terms per random solution")
    m.add_argument("--max-frequency", type=int, default=3, help="largest wave number of random solutions")
    m.add_argument("-o", "--output", metavar="OUT.pde", help="write here (default: print)")


def add_worker_arguments(p: argparse.ArgumentParser, what: str) -> None:
    """``--workers N`` and ``--scheduler ADDRESS``: solve the ``what`` side by side on Dask workers."""
    p.add_argument("--workers", type=int, metavar="N",
                   help=f"solve the {what} side by side on N local Dask worker processes (pip install \"symop[dask]\")")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help=f"solve the {what} on an existing Dask cluster, e.g. tcp://host:8786 (dask-jobqueue)")


def workers_of(args: argparse.Namespace):
    """The :class:`~symop.sweep.Workers` that ``--workers`` / ``--scheduler`` ask for."""
    from symop.sweep import Workers

    return Workers(getattr(args, "workers", None), getattr(args, "scheduler", None))


def args_converge(c: argparse.ArgumentParser) -> None:
    c.add_argument("file", metavar="FILE", help="an equation file with `exact` solutions")
    c.add_argument("--method", "-m", help="method to study (default: the file's `solve` line)")
    c.add_argument("--levels", type=int, default=4, help="refinement levels (default 4)")
    c.add_argument("--refine", choices=["space", "time", "both"], default="space",
                   help="halve h, dt or both per level; neural methods grow the training budget (default space)")
    c.add_argument("--set", action="append", metavar="NAME=VALUE", help="method option or parameter (repeatable)")
    c.add_argument("--expect-order", type=float, help="exit 1 if the last observed order is below this − 0.15")
    c.add_argument("-o", "--output", metavar="DIR",
                   help="write convergence.json and convergence.png here (without -o no file is written)")
    c.add_argument("--json", action="store_true", help="print the study as one JSON document on stdout")
    c.add_argument("--quiet", "-q", action="store_true", help="no per-level lines or progress bars")
    add_worker_arguments(c, "levels")


def args_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="an equation file with `exact` solutions")
    p.add_argument("--methods", required=True, help="comma-separated, e.g. fd,fem,pinn")
    p.add_argument("--set", action="append", metavar="[METHOD:]NAME=VALUE",
                   help="option or parameter: NAME=VALUE for every method that has it, METHOD:NAME=VALUE for one "
                        "(e.g. pinn:steps=2000); neural methods run on short budgets by default, printed at the start")
    p.add_argument("--json", action="store_true", help="print the rows as one JSON document on stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-method lines or progress bars")


def args_bench(b: argparse.ArgumentParser) -> None:
    bs = b.add_subparsers(dest="bench_command", metavar="generate|run")
    g = bs.add_parser("generate", help="write a suite of random manufactured problems")
    g.add_argument("family", choices=["poisson", "heat", "advection-diffusion", "wave", "helmholtz"],
                   help="the kind of problems")
    g.add_argument("--count", type=int, default=10, help="how many problems (default 10)")
    g.add_argument("--seed", type=int, default=0, help="seed of the whole suite")
    g.add_argument("--domains", help="comma-separated among box, disk, polygon, box-minus-disk (default all)")
    g.add_argument("--dims", help="comma-separated dimensions among 1, 2 (default 1,2)")
    g.add_argument("--bound", type=float, default=5e-2, help="pass bound on the relative L2 error")
    g.add_argument("--set", action="append", metavar="NAME=VALUE", help="run options recorded in suite.json")
    g.add_argument("-o", "--output", required=True, metavar="DIR", help="where the .pde files and suite.json go")
    r = bs.add_parser("run", help="solve every problem of a suite")
    r.add_argument("directory", metavar="DIR", help="a suite written by `symop bench generate`")
    r.add_argument("--method", "-m", required=True, help="method to solve every problem with")
    r.add_argument("--set", action="append", metavar="NAME=VALUE", help="option for every problem")
    r.add_argument("--expect-order", type=float, help="pass by a 2-level order check instead of the bound")
    r.add_argument("--json", action="store_true", help="print results.json's data as one JSON document on stdout")
    r.add_argument("--quiet", "-q", action="store_true", help="no per-problem lines")
    add_worker_arguments(r, "problems")


@hookimpl(tryfirst=True)
def symop_commands() -> list[Command]:
    """The commands mms, converge, compare and bench."""
    return [
        Command("mms", "manufacture a solution: write the problem with source, boundary and initial data",
                args_mms, cmd_mms),
        Command("converge", "convergence study: errors and observed orders under refinement", args_converge,
                cmd_converge),
        Command("compare", "solve one problem by several methods; one table of error and time", args_compare,
                cmd_compare),
        Command("bench", "benchmark suites of manufactured problems", args_bench, cmd_bench),
    ]
