"""The ``symop`` command.

``symop check FILE`` · ``symop show FILE [--code] [--method M] [--stage S]`` ·
``symop plugins [METHOD]`` · ``symop run FILE [--method M] [--device D] [-o DIR] [--plot] [--set k=v] [--json]`` ·
``symop train FILE --method M --samples N -o model.pt [--resume] [--set k=v]`` · ``symop --version``

FILE is an equation file in symop's language (``examples/heat.pde``).

With ``--json`` a command writes exactly one JSON document to standard output
and everything else (progress, tables, warnings, "solved" lines) to standard
error, so ``symop run FILE --json | python -m json.tool`` always parses.
Long commands (``compare``, ``converge``, ``bench run``) report each piece of
work on standard error as it starts and as it finishes, with an overall bar.

``check``, ``show`` (without ``--code``), ``plugins`` and ``--help`` do not
import torch: every heavy import is inside the command that needs it.

Every sub-command is a :class:`~symop.plugins.Command` from the
``symop_commands`` hook: symop's own come from this module and
:mod:`symop.mms_cli` (:data:`CORE_COMMANDS`), and an installed plugin adds
its own the same way.

Errors print as ``file:line:col: error: ...`` with the line and a caret, and
never as a traceback (``--traceback`` shows one for debugging).  Warnings of
any command print as ``warning: ...`` lines on standard error
(:class:`WarningLines`), never in Python's own form.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import pluggy

from symop.errors import SymopError
from symop.plugins import Command, commands, hookimpl, manager

#: modules whose ``symop_commands`` hook gives symop's own commands, in the order ``symop --help`` lists them
CORE_COMMANDS = ("symop.cli", "symop.mms_cli")


def console():
    from rich.console import Console

    return Console(highlight=False)


def parse_settings(items: Sequence[str] | None) -> dict[str, Any]:
    """``["n=128", "split=strang"]`` → ``{"n": "128", "split": "strang"}``."""
    import re

    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise SymopError(f"--set takes name=value, not `{item}`.")
        key, value = item.split("=", 1)
        value = value.strip()
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", value, re.ASCII) and _python_number(value):
            raise SymopError(f"--set {key.strip()}={value}: write a number with the digits 0-9 only (`1000`, "
                             "`0.5`, `1e-3`), without `_`, spaces or other characters.")
        out[key.strip()] = value
    return out


def _python_number(text: str) -> bool:
    """Whether Python reads ``text`` as a finite number, though it is no plain ASCII number (``1_0``, full-width
    digits)."""
    try:
        return float(text) not in (float("inf"), float("-inf")) and float(text) == float(text)
    except ValueError:
        return False


def emit_json(args: argparse.Namespace, data: Any) -> None:
    """Write ``data`` as the one JSON document of a ``--json`` command to the real standard output.

    While a ``--json`` command runs, :func:`main` sends ``sys.stdout`` to
    standard error; this writes to the stream that was standard output before.
    """
    stream = getattr(args, "json_stdout", None) or sys.stdout
    stream.write(json.dumps(data, indent=2, default=str) + "\n")
    stream.flush()


class Feedback:
    """What a long command is doing, on standard error: each piece as it starts, then as it finishes.

    Every line begins with an overall bar ``[#######.............] 3/8``;
    :meth:`finish` lines carry the finished row and the time so far.  Lines,
    not a live display, so that a method's own progress bar can run in between.
    """

    WIDTH = 20

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.done, self.enabled = total, 0, enabled
        self.started = time.perf_counter()

    def bar(self) -> str:
        """``[####....] done/total``."""
        filled = round(self.WIDTH * self.done / self.total) if self.total else self.WIDTH
        return f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total}"

    def say(self, text: str) -> None:
        """One line on standard error (nothing when disabled)."""
        if self.enabled:
            print(text, file=sys.stderr, flush=True)

    def start(self, what: str) -> None:
        """Announce the piece of work that begins now."""
        self.say(f"{self.bar()} {what} ...")

    def finish(self, row: str) -> None:
        """Count one piece as done and show its row."""
        self.done += 1
        self.say(f"{self.bar()} {row}  [{time.perf_counter() - self.started:.1f} s so far]")


class WarningLines:
    """Python warnings raised inside a ``with`` block, shown as ``warning: MESSAGE`` lines on standard error.

    The one home of how symop's commands show a warning: :func:`main` runs
    every command inside one (so a warning of ``train``, ``converge``,
    ``compare``, ``bench`` or a plugin's command never prints in Python's raw
    form, with file, line and source), and a command that wants its warnings
    before its own closing lines (``run``, ``train``) puts its work in an inner
    one.  Every :class:`UserWarning` is caught, also one raised before at the
    same place; a message shown once is not repeated.  With ``show`` false (a
    process of a ``torchrun`` run that does not report) nothing is printed.
    """

    def __init__(self, show: bool = True) -> None:
        self.show = show
        self.caught: list[warnings.WarningMessage] = []
        self._catcher: Any = None

    def __enter__(self) -> "WarningLines":
        self._catcher = warnings.catch_warnings(record=True)
        self.caught = self._catcher.__enter__()
        warnings.simplefilter("always", UserWarning)
        return self

    def __exit__(self, *exc: Any) -> bool:
        self._catcher.__exit__(*exc)
        if self.show:
            self.flush()
        return False

    def messages(self) -> list[str]:
        """The distinct messages caught so far, in the order they were raised."""
        return list(dict.fromkeys(str(w.message).strip() for w in self.caught))

    def flush(self) -> None:
        """Print the messages caught so far as ``warning: ...`` lines, and forget them."""
        for message in self.messages():
            print(f"warning: {message}", file=sys.stderr, flush=True)
        self.caught.clear()


def settings_text(settings: dict[str, Any]) -> str:
    """``{"n": 32, "dt": None}`` → ``"n=32"`` (unset values left out)."""
    return ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None and v != "")


# ------------------------------------------------------------------ commands
def cmd_check(args: argparse.Namespace) -> int:
    """Check every file given: ``FILE: ok (...)`` on stdout, or its errors on stderr; 1 if any failed."""
    from symop.api import check_solve_line, load

    failed = 0
    for path in args.files:
        try:
            problem = load(path)
            check_solve_line(problem)  # the method named on the `solve` line is installed and takes its options
        except SymopError as err:
            if getattr(args, "traceback", False):
                raise
            failed += 1
            print(str(err), file=sys.stderr)
            continue
        print(f"{path}: ok ({problem.name}: {len(problem.fields)} field{'s' if len(problem.fields) != 1 else ''}, "
              f"{problem.dimension}D, {'steady' if problem.is_steady else 'time-dependent'})")
    if failed and len(args.files) > 1:
        print(f"{failed} of {len(args.files)} files failed the check", file=sys.stderr)
    return 1 if failed else 0


def cmd_show(args: argparse.Namespace) -> int:
    from symop.api import load, lower, parameter_value, with_params
    from symop.display import describe

    problem = load(args.file)
    stage = args.stage or ("code" if args.code else "model")
    if stage == "model":
        settings = parse_settings(args.set)
        others = [k for k in settings if k not in problem.params]
        if others:
            raise SymopError(f"`--set {others[0]}` is not a parameter of `{problem.name}`, and the problem as "
                             "mathematics has no method options; add `--code -m METHOD` to see an option's effect.")
        if settings:
            problem = with_params(problem, {k: parameter_value(k, v) for k, v in settings.items()})
        print(describe(problem))
        return 0
    program = lower(problem, args.method, **parse_settings(args.set))
    stages = program.stages()
    if stage not in stages:
        raise SymopError(f"the method does not produce a `{stage}` stage; it has " + ", ".join(stages) + ".")
    print(stages[stage])
    return 0


def option_line(o) -> str:
    """``name (type, default d, range) ∈ {choices}: help`` of one option."""
    return (f"{o.name} ({o.type.__name__}, default {o.default!r}"
            + (f", {o.range_text()}" if o.range_text() else "") + ")"
            + (f" ∈ {{{', '.join(map(str, o.choices))}}}" if o.choices else "") + f": {o.help}")


def method_text(disc, width: int = 80) -> str:
    """One method's description and options as plain text wrapped to ``width`` columns."""
    import textwrap

    def block(options) -> list[str]:
        out = []
        for o in options:
            head = f"{o.name}  ({o.type.__name__}, default {o.default!r}" + (
                f", {o.range_text()}" if o.range_text() else "") + ")"
            out += textwrap.wrap(head, width, initial_indent="  ", subsequent_indent="      ")
            text = o.help + (f"; one of {', '.join(map(str, o.choices))}" if o.choices else "") + (
                f" (acts only with {o.only_with.words()})" if o.only_with else "") + (
                " (time-dependent problems only)" if o.time_dependent else "")
            out += textwrap.wrap(text, width, initial_indent="      ", subsequent_indent="      ",
                                 break_on_hyphens=False)
        return out

    lines = textwrap.wrap(f"{disc.name}: {disc.description}", width, subsequent_indent="  ")
    if disc.trains:
        lines += textwrap.wrap("Trains on a family of problems with `symop train`.", width)
    lines += ["", "options (symop run FILE -m " + disc.name + " --set NAME=VALUE):"]
    lines += block(disc.options) or ["  none"]
    if disc.trains and disc.train_options:
        lines += ["", "symop train only:"] + block(disc.train_options)
    return "\n".join(lines)


def cmd_plugins(args: argparse.Namespace) -> int:
    from symop.plugins import discretizations, get_discretization, plugin_problems

    if getattr(args, "matrix", False) or not getattr(args, "method", None):  # what was left out, and why
        for problem in plugin_problems():
            print(f"warning: {problem.message}", file=sys.stderr)
    if getattr(args, "matrix", False):
        from symop import matrix

        table = matrix.build([args.method] if args.method else None)
        if args.json:
            emit_json(args, table.to_json())
        else:
            print(matrix.markdown(table) if args.markdown else matrix.text(table), end="")
        return 0
    if getattr(args, "markdown", False) or getattr(args, "json", False):
        raise SymopError("--markdown and --json go with --matrix: symop plugins --matrix --markdown")
    if getattr(args, "method", None):
        print(method_text(get_discretization(args.method)))
        return 0

    from rich.table import Table

    table = Table(title="symop methods")
    table.add_column("method", style="bold")
    table.add_column("description")
    table.add_column("options")
    line = option_line
    for name, disc in sorted(discretizations().items()):
        opts = "\n".join(line(o) for o in disc.options)
        if disc.trains and disc.train_options:
            opts += "\n[italic]symop train only:[/italic]\n" + "\n".join(line(o) for o in disc.train_options)
        table.add_row(name, disc.description + (" (trains: `symop train`)" if disc.trains else ""), opts or "—")
    console().print(table)
    print("One method's options: symop plugins METHOD", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from symop.devices import check_device_early

    check_device_early(args.device)  # before any heavy import: a machine without CUDA says so at once
    from symop.api import load, solve
    from symop.output.files import OutputError, OutputFiles, file_stem, prepare_directory

    problem = load(args.file)
    outdir = prepare_directory(args.output) if args.output else None  # before the solve: a bad -o loses nothing
    callbacks = []
    if args.every is not None:
        from symop.trackers import SaveEvery

        if args.every < 1:
            raise SymopError(f"--every takes a number of time steps ≥ 1, not {args.every}.")
        callbacks.append(SaveEvery(args.every))
    processes = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under torchrun: fd and pinn split the run over the processes
        from symop.training import distributed

        processes = distributed(args.device)
    with WarningLines(show=processes is None or processes.is_main):  # shown before the "solved" line
        sol = solve(problem, args.method, device=args.device, progress=not args.quiet, callbacks=callbacks,
                    processes=processes, **parse_settings(args.set))
    if processes is not None and not processes.is_main:  # rank 0 holds the whole solution and reports
        return 0
    out = console()
    if args.every is not None and "snapshot_every" not in sol.info:
        print(f"warning: --every {args.every} keeps snapshots of time steps, and this {sol.method} run took none "
              "(a steady problem, or a method that does not step in time).", file=sys.stderr)
    out.print(f"[bold]{problem.name}[/bold] solved with {sol.method} on {sol.device} in {sol.wall_time:.3g} s")
    errors = sol.errors()
    if errors:
        out.print(sol.table())
    files = OutputFiles()  # a file that fails is reported at the end; the others are still written
    if outdir is not None:
        try:
            files.written.extend(sol.save(outdir))
        except OutputError as err:
            files.written.extend(err.written)
            files.failed.extend(err.failed)
        if files.written:
            out.print(f"wrote {', '.join(str(p) for p in files.written)}", markup=False)
    if args.plot:
        target = (outdir if outdir is not None else Path(".")) / f"{file_stem(problem.name)}.png"
        path = files.attempt("the plot", lambda: sol.plot(target))
        if path is not None:
            out.print(f"plot: {path}", markup=False)
    if args.json:
        emit_json(args, sol.summary())
    files.finish()
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from symop.devices import check_device_early

    check_device_early(args.device)
    from symop.api import load, train
    from symop.output.files import prepare_file

    problem = load(args.file)
    prepare_file(args.output)  # before training: a model that cannot be saved is refused now
    reports = _reports()  # under torchrun, one process reports
    with WarningLines(show=reports):  # shown before the "trained" line
        report = train(problem, args.method, samples=args.samples, output=args.output, device=args.device,
                       progress=not args.quiet, resume=args.resume, seed=args.seed, **parse_settings(args.set))
    if not reports:
        return 0
    out = console()
    last = f", final loss {report.losses[-1]:.3e}" if report.losses else ""
    out.print(f"[bold]{problem.name}[/bold]: trained {args.method} on {args.samples} members in "
              f"{report.wall_time:.3g} s{last}; model saved to {report.path}")
    if args.json:
        emit_json(args, {"path": str(report.path), "losses": report.losses, "wall_time": report.wall_time,
                         **report.info})
    return 0


# ------------------------------------------------------------------ arguments
def args_check(c: argparse.ArgumentParser) -> None:
    c.add_argument("files", nargs="+", metavar="FILE", help="equation files, e.g. examples/heat.pde")


def args_show(s: argparse.ArgumentParser) -> None:
    s.add_argument("file", metavar="FILE", help="an equation file, e.g. examples/heat.pde")
    s.add_argument("--code", action="store_true", help="print the generated PyTorch source")
    s.add_argument("--method", "-m", help="method whose stages to show")
    s.add_argument("--stage", choices=["model", "weak", "code"], help="which stage to print")
    s.add_argument("--set", action="append", metavar="NAME=VALUE", help="method option or parameter")


def args_plugins(p: argparse.ArgumentParser) -> None:
    p.add_argument("method", nargs="?", metavar="METHOD", help="show this method's options only (e.g. fd)")
    p.add_argument("--matrix", action="store_true",
                   help="what each method solves: every method against every problem class of the catalogue "
                        "(✓ accepted, ✗ refused, with the reason)")
    p.add_argument("--markdown", action="store_true", help="with --matrix: print it as a Markdown table")
    p.add_argument("--json", action="store_true", help="with --matrix: print it as one JSON document")


def args_run(r: argparse.ArgumentParser) -> None:
    r.add_argument("file", metavar="FILE", help="an equation file, e.g. examples/heat.pde")
    r.add_argument("--method", "-m", help="discretization (default: the file's `solve` line)")
    r.add_argument("--device", default="cpu", help="cpu or cuda")
    r.add_argument("-o", "--output", metavar="DIR", help="write fields.npz, VTK files, an HDF5 file and summary.json here")
    r.add_argument("--plot", action="store_true", help="write a PNG plot")
    r.add_argument("--every", type=int, metavar="K",
                   help="keep a snapshot every K time steps (and the first and last), written with -o")
    r.add_argument("--set", action="append", metavar="NAME=VALUE", help="method option or parameter (repeatable)")
    r.add_argument("--json", action="store_true",
                   help="print the summary as one JSON document on stdout (everything else goes to stderr)")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def args_train(t: argparse.ArgumentParser) -> None:
    t.add_argument("file", metavar="FILE", help="an equation file with random parameters (the family)")
    t.add_argument("--method", "-m", required=True, help="a method that trains (see `symop plugins`)")
    t.add_argument("--samples", type=int, default=256, help="family members to train on (default 256)")
    t.add_argument("-o", "--output", default="model.pt", metavar="PATH", help="where to save the model")
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.add_argument("--seed", type=int, default=0, help="seed of the members, the initial weights and the batches")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint saved beside --output")
    t.add_argument("--set", action="append", metavar="NAME=VALUE", help="method or training option, or parameter")
    t.add_argument("--json", action="store_true",
                   help="print the training report as one JSON document on stdout (everything else to stderr)")
    t.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


@hookimpl(tryfirst=True)
def symop_commands() -> list[Command]:
    """symop's own commands check, show, plugins, run and train."""
    return [
        Command("check", "parse and check equation files", args_check, cmd_check),
        Command("show", "show a problem as mathematics, or a method's generated code", args_show, cmd_show),
        Command("plugins", "list installed methods and their options (one method: symop plugins METHOD)",
                args_plugins, cmd_plugins),
        Command("run", "solve an equation file", args_run, cmd_run),
        Command("train", "train a neural operator on a family of problems", args_train, cmd_train),
    ]


# ------------------------------------------------------------------ parser
def command_table(pm: pluggy.PluginManager | None = None) -> dict[str, Command]:
    """Every sub-command by name: symop's own (:data:`CORE_COMMANDS`) first, then the plugins'."""
    pm = pm or manager()
    # the core implementations are tryfirst, and pluggy calls the last registered of those first
    for name in reversed(CORE_COMMANDS):
        module = importlib.import_module(name)
        if not pm.is_registered(module):
            pm.register(module, name=name)
    return commands(pm)


def build_parser(table: dict[str, Command] | None = None) -> argparse.ArgumentParser:
    """The ``symop`` argument parser with one sub-parser per command of ``table`` (default: all)."""
    from symop import __version__

    p = argparse.ArgumentParser(
        prog="symop", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write a PDE, solve it by the method you pick.\n"
                    "FILE is an equation file in symop's language (see examples/).",
        epilog="examples:\n"
               "  symop check examples/heat.pde\n"
               "  symop run examples/heat.pde -m fd --set n=64 -o out --plot\n"
               "  symop run examples/heat.pde --json > summary.json   # stdout: one JSON document\n"
               "  symop plugins fd                                     # one method's options\n"
               "  symop COMMAND --help                                 # a command's arguments",
    )
    p.add_argument("--version", action="version", version=f"symop {__version__}")
    p.add_argument("--traceback", action="store_true", help="show a Python traceback on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in (command_table() if table is None else table).values():
        cmd.arguments(sub.add_parser(cmd.name, help=cmd.help))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``symop`` console script; returns the exit status."""
    try:
        table = command_table()
    except SymopError as err:  # plugins that clash: no command can be trusted to run
        print(str(err), file=sys.stderr)
        return 1
    parser = build_parser(table)
    args = parser.parse_args(argv)
    from symop.provenance import set_command

    set_command(["symop", *(sys.argv[1:] if argv is None else argv)])  # what summary.json states as its command
    if not args.command:
        parser.print_help()
        return 2
    try:
        if getattr(args, "json", False):  # one JSON document on stdout; everything else on stderr
            args.json_stdout = sys.stdout
            with contextlib.redirect_stdout(sys.stderr), WarningLines(show=_reports()):
                return table[args.command].run(args)
        with WarningLines(show=_reports()):  # every command's warnings as `warning: ...` lines
            return table[args.command].run(args)
    except SymopError as err:
        if args.traceback:
            raise
        print(str(err), file=sys.stderr)
        _json_error(args, str(err))
        return 1
    except KeyboardInterrupt:
        print("interrupted" + _kept_checkpoint(args), file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout closed it (`symop show F | head -1`): nothing left to say
        _quiet_stdout()
        return 0
    except Exception as err:  # last resort: a gap in symop's checks ends in a sentence, not a traceback
        if args.traceback:
            raise
        from symop.lang.builder import internal_error_message
        from symop.plugins import plugin_failure

        message = plugin_failure(err) or (  # another package's plugin at fault: blame it, not symop
            internal_error_message(err, "or run this") + "; this is a gap in symop's checks: please report "
            "the command and its file (add --traceback to see where it happened).")
        print(message, file=sys.stderr)
        _json_error(args, message)
        return 1


def _quiet_stdout() -> None:
    """Point standard output at the null device, so that Python's own flush at exit does not fail again on a pipe
    its reader closed."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _kept_checkpoint(args: argparse.Namespace) -> str:
    """What an interrupted command leaves to resume from: the ``checkpoint`` it was given, where that exists."""
    try:
        path = parse_settings(getattr(args, "set", None) or []).get("checkpoint")
    except SymopError:
        return ""
    if not path or not Path(str(path)).exists():
        return ""
    return f"; the checkpoint `{path}` keeps the steps completed so far: run the same command again to resume from it"


def _reports() -> bool:
    """Whether this process reports: always, but for the processes of a ``torchrun`` run other than rank 0."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def _json_error(args: argparse.Namespace, message: str) -> None:
    """With ``--json``, the error as the one JSON document on standard output (``{"error": message}``), so that
    ``json.loads`` of stdout works for a refused run too."""
    if getattr(args, "json", False):
        import json

        print(json.dumps({"error": message}), file=getattr(args, "json_stdout", None) or sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
