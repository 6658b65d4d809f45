"""The plugin system: hook specifications, the plugin manager, and the
``Discretization`` → ``Program`` → ``Solution`` protocol.

A plugin is any module or object with functions marked ``@symop.plugins.hookimpl``,
announced under the ``symop`` entry-point group of its package::

    [project.entry-points.symop]
    mymethod = "my_package.plugin"

Built-in methods register exactly this way; nothing in ``symop`` imports them.

Hooks, by phase:

* language: :func:`symop_operators` adds operators to the equation language,
  :func:`symop_domains` adds domain kinds (``domain annulus(...)``);
* lowering: :func:`symop_discretizations` contributes discretizations;
* front end: :func:`symop_commands` adds sub-commands to the ``symop`` command
  (symop's own commands come through this hook too).

Names are unique: two plugins that contribute a method, an operator or a
command of the same name, or an operator named like a built-in one, are an
error that names both.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import pluggy

from symop.contract import Accuracy, Refinement
from symop.errors import MethodError, OptionError, SymopError

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from symop.lang.expressions import OperatorSpec
    from symop.model.domains.registry import DomainKind
    from symop.model.problem import Problem
    from symop.solution import Solution

PROJECT = "symop"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    """Hook specifications of symop (all prefixed ``symop_``)."""

    @hookspec
    def symop_discretizations(self) -> "Sequence[Discretization]":
        """Return the discretizations this plugin provides.

        :return: a sequence of :class:`Discretization` instances; each name must
            be unique across all plugins.
        """

    @hookspec
    def symop_operators(self) -> "Sequence[OperatorSpec]":
        """Return operators this plugin adds to the equation language.

        :return: a sequence of :class:`symop.lang.expressions.OperatorSpec`;
            each is callable in equation files by its name, which must differ
            from the built-in functions and operators and from other plugins'.
        """

    @hookspec
    def symop_domains(self) -> "Sequence[DomainKind]":
        """Return domain kinds this plugin adds to the equation language.

        :return: a sequence of :class:`symop.model.domains.DomainKind`; each is
            callable on a ``domain`` line by its name, which must differ from
            the built-in kinds (``box``, ``disk``, ...) and from other plugins'.
        """

    @hookspec
    def symop_commands(self) -> "Sequence[Command]":
        """Return sub-commands this plugin adds to the ``symop`` command.

        :return: a sequence of :class:`Command`; each name must be unique
            across all plugins, symop's own commands included.
        """


class PluginError(SymopError):
    """Plugins contribute clashing names (methods, operators, commands)."""


@dataclass(frozen=True)
class Command:
    """A sub-command ``symop NAME ...``.

    ``arguments(parser)`` adds the command's arguments to the sub-parser made
    for it (``help`` is its line in ``symop --help``); ``run(args)`` executes
    it with the parsed arguments and returns the exit status.
    """

    name: str
    help: str
    arguments: Callable[["argparse.ArgumentParser"], None]
    run: Callable[["argparse.Namespace"], int]


# --------------------------------------------------------------- options
@dataclass(frozen=True)
class OnlyWith:
    """The condition under which an option acts: another option, ``option``, has one of ``values`` (with
    ``exclude``: none of them).  A value given for the option while the condition fails is refused."""

    option: str
    values: tuple[Any, ...]
    exclude: bool = False

    def holds(self, value: Any) -> bool:
        """Whether the other option's ``value`` lets the option act."""
        return (value in self.values) != self.exclude

    def words(self) -> str:
        """The condition as words: ``optimizer engd or kfac``, ``fourier other than 0``."""
        names = [str(v) for v in self.values]
        if self.exclude:
            return f"{self.option} other than {' and '.join(names)}"
        return f"{self.option} {' or '.join(names)}"


@dataclass(frozen=True)
class Option:
    """One option of a discretization: name, type, default, help, choices."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    #: the value names a file; a relative one on an equation file's ``solve``
    #: line is read relative to that file, not to the working directory
    path: bool = False
    #: the smallest value allowed (numbers), ``None`` for no bound
    minimum: float | None = None
    #: whether :attr:`minimum` itself is excluded (``dt`` must be > 0, not >= 0)
    exclusive: bool = False
    #: the largest value allowed (numbers), ``None`` for no bound
    maximum: float | None = None
    #: the option acts only under this condition on another option (``None``: always)
    only_with: OnlyWith | None = None
    #: the option acts only on a time-dependent problem (a time scheme, a time step, snapshots)
    time_dependent: bool = False

    def convert(self, value: Any, method: str) -> Any:
        """``value`` (possibly a string from the command line) as this option's type."""
        if value is None:
            return None
        try:
            if self.type is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in ("1", "true", "yes", "on"):
                        return True
                    if low in ("0", "false", "no", "off"):
                        return False
                    raise ValueError(value)
                return bool(value)
            if self.type is int:
                number = float(value)
                if not number.is_integer():
                    raise ValueError(value)
                result = int(number)
            elif self.type is float:
                result = float(value)
            else:
                result = self.type(value)
        except (TypeError, ValueError):
            raise OptionError(
                f"the option `{self.name}` of method `{method}` takes {self.type.__name__} values, not `{value}`."
            ) from None
        self.check_range(result, method)
        if self.choices is not None and result not in self.choices:
            raise OptionError(
                f"the option `{self.name}` of method `{method}` must be one of "
                + ", ".join(str(c) for c in self.choices)
                + f", not `{result}`."
            )
        return result

    def range_text(self) -> str:
        """The declared range as text: ``≥ 1``, ``> 0``, ``in [0, 1]``, or ``""`` when there is none."""
        low = None if self.minimum is None else f"{self.minimum:g}"
        high = None if self.maximum is None else f"{self.maximum:g}"
        if low is not None and high is not None:
            return f"in {'(' if self.exclusive else '['}{low}, {high}]"
        if low is not None:
            return f"{'>' if self.exclusive else '≥'} {low}"
        return f"≤ {high}" if high is not None else ""

    def check_range(self, value: Any, method: str) -> None:
        """Refuse a non-finite float, or a number outside [:attr:`minimum`, :attr:`maximum`]."""
        import math

        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        where = f"the option `{self.name}` of method `{method}`"
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(f"{where} must be a finite number, not {value}.")
        if self.minimum is not None:
            low = self.minimum if self.type is not int else int(self.minimum)
            if value < low or (self.exclusive and value == low):
                bound = f"greater than {low:g}" if self.exclusive else f"at least {low:g}"
                raise OptionError(f"{where} must be {bound}, not {value:g}.")
        if self.maximum is not None and value > self.maximum:
            raise OptionError(f"{where} must be at most {self.maximum:g}, not {value:g}.")


def resolve_options(method: str, declared: Sequence[Option], given: Mapping[str, Any],
                    problem: "Problem | None" = None) -> dict[str, Any]:
    """Defaults of ``declared`` updated by ``given``, each value checked and converted; a value given where it
    would not act (:attr:`Option.only_with`, and with ``problem`` :attr:`Option.time_dependent`) is refused."""
    import difflib

    table = {o.name: o for o in declared}
    out = {o.name: o.default for o in declared}
    for key, value in given.items():
        if key not in table:
            close = difflib.get_close_matches(key, list(table), n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise OptionError(
                f"the method `{method}` has no option `{key}`; its options are "
                + (", ".join(table) or "none")
                + "."
                + hint
            )
        out[key] = table[key].convert(value, method)
    _refuse_inert(given, table, out, problem)
    return out


def _refuse_inert(given: Mapping[str, Any], table: Mapping[str, Option], out: Mapping[str, Any],
                  problem: "Problem | None") -> None:
    """Refuse an option given a value other than its default where it would be dropped without a word: its
    :class:`OnlyWith` condition fails, or it acts only in time and ``problem`` is steady."""
    for key in given:
        option = table[key]
        if out[key] == option.default:
            continue
        cond = option.only_with
        if cond is not None and cond.option in out and not cond.holds(out[cond.option]):
            raise OptionError(f"`{key}` acts only with {cond.words()}, and this run has {cond.option} "
                              f"{out[cond.option]}: change {cond.option}, or leave {key} out.")
        if option.time_dependent and problem is not None and problem.is_steady:
            raise OptionError(f"`{key}` acts only on a time-dependent problem, and `{problem.name}` is steady "
                              f"(it has no time): leave {key} out.")


# ------------------------------------------------------------- protocol
class Program(ABC):
    """A lowered problem, ready to run: generated code plus the data it needs."""

    #: the generated PyTorch source (what ``symop show --code`` prints)
    source: str = ""
    #: under ``torchrun``: the processes (a :class:`symop.training.DistInfo`) this run is split over,
    #: set by :func:`lower` for a method whose :meth:`Discretization.processes` accepts the problem
    processes: Any = None

    @abstractmethod
    def run(self, device: str = "cpu", progress: bool = False) -> "Solution":
        """Execute on ``device`` and return the :class:`~symop.solution.Solution`."""

    def stages(self) -> dict[str, str]:
        """Printable intermediate forms, e.g. ``{"weak": ..., "code": ...}``."""
        return {"code": self.source}


@dataclass
class TrainingReport:
    """What ``symop train`` produced: the saved model, the loss history, the time it took."""

    path: Path
    losses: list[float]
    wall_time: float
    info: dict[str, Any] = field(default_factory=dict)


class Discretization(ABC):
    """A way of solving problems: declares its name, options and what it accepts.

    A method that learns from a whole family of problems (a neural operator)
    sets :attr:`trains`, declares the options only training takes in
    :attr:`train_options`, and implements :meth:`train`.

    A method declares its contract for convergence studies: :meth:`accuracy`
    (its orders for a set of options) and :attr:`refinement` (the options it
    refines by; :meth:`refinement_for` when that depends on the problem).
    ``symop converge`` and ``symop bench`` use :meth:`refine` and
    :meth:`resolution`, which follow from them.
    """

    name: str = ""
    description: str = ""
    options: tuple[Option, ...] = ()
    #: whether ``symop train`` works with this method
    trains: bool = False
    #: options that only ``symop train`` accepts (merged with :attr:`options` there)
    train_options: tuple[Option, ...] = ()
    #: the options :meth:`refine` turns per level; None: the method cannot be refined by level
    refinement: Refinement | None = None

    def accuracy(self, options: Mapping[str, Any]) -> Accuracy | None:
        """The orders of accuracy this method declares with ``options`` (every option, defaults
        filled in); None when it claims none (a trained network's error has no order in h)."""
        return None

    def refinement_for(self, problem: "Problem", options: Mapping[str, Any]) -> Refinement | None:
        """The :class:`Refinement` for ``problem`` with the given ``options`` (default :attr:`refinement`)."""
        return self.refinement

    def refine(self, problem: "Problem", options: Mapping[str, Any], level: int, what: str = "space") -> dict[str, Any]:
        """``options`` at refinement level ``level`` (0 the coarsest) of ``what``: space, time or both."""
        rule = self.refinement_for(problem, options)
        if rule is None:
            raise MethodError(f"the method `{self.name}` declares no refinement, so a convergence study "
                              "cannot refine it.")
        return rule.apply(problem, options, level, what, self.options, self.name)

    def resolution(self, problem: "Problem", cells: int, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Options that resolve ``problem`` with about ``cells`` cells per axis ({} for a method with no mesh), in
        the option that ``options`` refine (fem's ``h`` when it is among them, else its ``n`` on a box)."""
        rule = self.refinement_for(problem, options or {})
        return {} if rule is None else rule.resolution(problem, cells)

    def declared_accuracy(self, options: Mapping[str, Any]) -> Accuracy | None:
        """:meth:`accuracy` of ``options`` completed by the defaults (keys that are no option are ignored)."""
        full = {o.name: o.default for o in self.options}
        full.update({k: v for k, v in options.items() if k in full})
        return self.accuracy(full)

    def train(self, problem: "Problem", options: Mapping[str, Any], *, samples: int, output: Path,
              device: str = "cpu", progress: bool = False, resume: bool = False, seed: int = 0) -> TrainingReport:
        """Train on ``samples`` members of the family ``problem`` and save the model to ``output``.

        ``options`` are resolved against :attr:`options` + :attr:`train_options`;
        ``resume`` continues from ``output``'s checkpoint when there is one.
        """
        raise not_trainable(self.name)

    def accepts(self, problem: "Problem") -> str | None:
        """``None`` if this method can solve ``problem``, else the reason it cannot."""
        return None

    @abstractmethod
    def lower(self, problem: "Problem", options: Mapping[str, Any]) -> Program:
        """Turn ``problem`` into a :class:`Program` (``options`` are already resolved)."""

    def processes(self, problem: "Problem", options: Mapping[str, Any]) -> str | None:
        """Why ``symop run`` under ``torchrun`` cannot split this problem over several processes, or None.

        The default: the method runs in one process.  A method that splits its
        work (fd's grid, pinn's collocation points) overrides this and reads
        :attr:`Program.processes` when it runs.
        """
        return (f"the method `{self.name}` runs in one process; under torchrun, `symop run` splits fd, pinn and "
                "insr over several processes: run it without torchrun.")


# --------------------------------------------------------------- manager
def make_manager(load_entry_points: bool = True, plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """A plugin manager with symop's hookspecs and the installed plugins loaded."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(HookSpecs)
    if load_entry_points:
        pm.load_setuptools_entrypoints(PROJECT)
    for p in plugins:
        pm.register(p)
    pm.check_pending()
    return pm


@lru_cache(maxsize=1)
def manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (entry points loaded once)."""
    return make_manager()


def discretizations(pm: pluggy.PluginManager | None = None) -> dict[str, Discretization]:
    """All registered discretizations by name."""
    pm = pm or manager()
    out: dict[str, Discretization] = {}
    for group in pm.hook.symop_discretizations():
        for d in group or ():
            if d.name in out:
                raise MethodError(f"two plugins provide a method named `{d.name}`.")
            out[d.name] = d
    return out


def contributions(pm: pluggy.PluginManager, hook: str) -> list[tuple[str, Any]]:
    """``(plugin, item)`` for every item the implementations of ``hook`` return, in the order pluggy
    calls them (``tryfirst`` ones first, then the last registered first); ``plugin`` is the name the
    plugin was registered under, or its module or class name."""
    out: list[tuple[str, Any]] = []
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        if getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False):
            continue
        name = impl.plugin_name
        if name.isdigit():  # registered without a name: pluggy uses id(plugin)
            name = getattr(impl.plugin, "__name__", type(impl.plugin).__name__)
        for item in impl.function() or ():
            out.append((name, item))
    return out


def operators(pm: pluggy.PluginManager | None = None) -> dict[str, "OperatorSpec"]:
    """Language operators contributed by plugins, by name.

    A name that is a built-in function or operator, or that another plugin
    (or the same one) already contributes, raises :class:`PluginError` naming both.
    """
    from symop.lang.names import FUNCTIONS, OPERATORS

    def builtin(name: str) -> str | None:
        if name in FUNCTIONS:
            return f"the built-in function `{name}`"
        return f"the built-in operator `{name}` ({OPERATORS[name]})" if name in OPERATORS else None

    return unique_names(pm or manager(), "symop_operators", "operator", builtin)


def domains(pm: pluggy.PluginManager | None = None) -> dict[str, "DomainKind"]:
    """Domain kinds contributed through :func:`symop_domains`, by name.

    A name that is a built-in kind, or that another plugin (or the same one)
    already contributes, raises :class:`PluginError` naming both.
    """
    from symop.model.domains import registry

    def builtin(name: str) -> str | None:
        kind = registry.get(name)
        return None if kind is None else f"the built-in domain kind `{name}` ({kind.example})"

    return unique_names(pm or manager(), "symop_domains", "domain kind", builtin)


def commands(pm: pluggy.PluginManager | None = None) -> dict[str, Command]:
    """Sub-commands contributed through :func:`symop_commands`, by name, in the order the hook
    returns them; a name given twice raises :class:`PluginError` naming both plugins."""
    return unique_names(pm or manager(), "symop_commands", "command")


def unique_names(pm: pluggy.PluginManager, hook: str, kind: str,
                 builtin: Callable[[str], str | None] = lambda name: None) -> dict[str, Any]:
    """The items (each with a ``name``) that ``hook`` contributes, by name, in :func:`contributions` order.

    ``builtin(name)`` describes a built-in thing of that name, or None; a name
    that is built in, or that two contributions share, raises :class:`PluginError`
    naming the plugin and what it collides with.
    """
    out: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for plugin, item in contributions(pm, hook):
        taken = builtin(item.name)
        if taken is not None:
            article = "an" if kind[0] in "aeiou" else "a"
            raise PluginError(f"the plugin `{plugin}` adds {article} {kind} `{item.name}`, which collides with "
                              f"{taken}; the plugin must give its {kind} another name.")
        if item.name in out:
            raise PluginError(_clash(kind, item.name, owner[item.name], plugin))
        out[item.name] = item
        owner[item.name] = plugin
    return out


def _clash(kind: str, name: str, first: str, second: str) -> str:
    if first == second:
        return f"the plugin `{first}` adds two {kind}s named `{name}`; each needs its own name."
    return (f"the plugins `{first}` and `{second}` both add {'an' if kind[0] in 'aeiou' else 'a'} {kind} "
            f"named `{name}`; one of them must rename it.")


def get_discretization(name: str, pm: pluggy.PluginManager | None = None) -> Discretization:
    """The discretization called ``name``; a :class:`MethodError` names the choices."""
    import difflib

    table = discretizations(pm)
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=1)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        raise MethodError(
            f"there is no method `{name}`; the installed methods are "
            + (", ".join(sorted(table)) or "none")
            + "."
            + hint
        )
    return table[name]


def lower(problem: "Problem", method: str, options: Mapping[str, Any] | None = None,
          pm: pluggy.PluginManager | None = None, processes: Any = None) -> Program:
    """Check that ``method`` accepts ``problem``, resolve options, and lower it.

    ``processes`` (a :class:`symop.training.DistInfo` of several processes):
    the run is split over them, when the method can split this problem
    (:meth:`Discretization.processes`); refused before any work otherwise.
    """
    disc = get_discretization(method, pm)
    reason = disc.accepts(problem)
    if reason:
        raise MethodError(reason if reason.endswith(".") else reason + ".")
    resolved = resolve_options(method, disc.options, options or {}, problem)
    several = processes is not None and processes.is_distributed
    if several and (reason := disc.processes(problem, resolved)):
        raise MethodError(f"{reason[0].upper()}{reason[1:]}" + ("" if reason.endswith(".") else "."))
    program = disc.lower(problem, resolved)
    if several:
        program.processes = processes
    return program


def trainable_methods(pm: pluggy.PluginManager | None = None) -> list[str]:
    """Names of the installed methods that ``symop train`` accepts."""
    return sorted(name for name, d in discretizations(pm).items() if d.trains)


def not_trainable(method: str, pm: pluggy.PluginManager | None = None) -> MethodError:
    """The error for ``symop train`` with a method that does not train."""
    return MethodError(f"the method `{method}` solves one problem at a time and does not train; "
                       "methods that train: " + (", ".join(trainable_methods(pm)) or "none installed") + ".")


def train(problem: "Problem", method: str, options: Mapping[str, Any] | None = None, *, samples: int,
          output: Path, device: str = "cpu", progress: bool = False, resume: bool = False, seed: int = 0,
          pm: pluggy.PluginManager | None = None) -> TrainingReport:
    """Check that ``method`` trains and accepts ``problem``, resolve its options, and train it."""
    disc = get_discretization(method, pm)
    if not disc.trains:
        raise not_trainable(method, pm)
    reason = disc.accepts(problem)
    if reason:
        raise MethodError(reason if reason.endswith(".") else reason + ".")
    if samples < 1:
        raise OptionError(f"training needs at least one sample, not {samples}.")
    resolved = resolve_options(method, tuple(disc.options) + tuple(disc.train_options), options or {})
    start = time.perf_counter()
    report = disc.train(problem, resolved, samples=samples, output=Path(output), device=device,
                        progress=progress, resume=resume, seed=seed)
    if not report.wall_time:
        report.wall_time = time.perf_counter() - start
    return report


def timed_run(program: Program, device: str, progress: bool) -> "Solution":
    """Run ``program`` and record the wall time on the solution."""
    start = time.perf_counter()
    sol = program.run(device=device, progress=progress)
    if not sol.wall_time:
        sol.wall_time = time.perf_counter() - start
    return sol
