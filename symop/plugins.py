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

Names are unique: two plugins that contribute an operator, a domain kind or a
command of the same name, or an operator named like a built-in one, are an
error that names both.  Methods are looked up one at a time, so a clash leaves
the other methods working: a built-in method keeps its name and another
plugin's method of that name is left out; two other plugins that both add a
method ``m`` both lose it (neither is preferred by chance of load order).

A broken plugin never takes symop down.  A plugin that cannot be imported,
whose hooks are not symop's (``symop_discretisations``, or arguments a hook
does not pass), whose ``symop_discretizations`` hook raises or returns
something other than a list of :class:`Discretization` instances, or whose
method breaks the rules (no name, an entry of ``options`` that is no
:class:`Option`, an option declared twice, a default its own rules refuse) is
left out with a sentence that names it: :func:`plugin_problems` lists them,
``symop plugins`` prints them as warnings, and asking for a method that was
left out (``symop run -m broken``) repeats the sentence as its error.  While a
method of another package runs, an exception of its own in ``accepts``,
``lower``, ``train`` or ``Program.run``, or a value of the wrong type returned
from them, is a :class:`PluginError` that names the method, its plugin and the
stage; symop's own methods keep reporting such a gap as an internal error.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
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
    """A plugin is at fault: it contributes clashing names (methods, operators, commands), it cannot be loaded,
    its hooks or methods break symop's rules, or one of its methods failed while it ran; the sentence names it."""


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
                              f"{out[cond.option]}: change {cond.option}, or leave {key} out.", option=key)
        if option.time_dependent and problem is not None and problem.is_steady:
            raise OptionError(f"`{key}` acts only on a time-dependent problem, and `{problem.name}` is steady "
                              f"(it has no time): leave {key} out.", option=key)


# ------------------------------------------------------------- protocol
class Program(ABC):
    """A lowered problem, ready to run: generated code plus the data it needs."""

    #: the generated PyTorch source (what ``symop show --code`` prints)
    source: str = ""
    #: under ``torchrun``: the processes (a :class:`symop.training.DistInfo`) this run is split over,
    #: set by :func:`lower` for a method whose :meth:`Discretization.processes` accepts the problem
    processes: Any = None
    #: ``(method, PluginOrigin)`` set by :func:`lower`, to name them when :meth:`run` fails
    _symop_origin: Any = None

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
#: the hooks symop specifies (a misspelt one is named with the closest of these)
HOOKS = tuple(sorted(name for name in vars(HookSpecs) if name.startswith("symop_")))


@dataclass(frozen=True)
class PluginOrigin:
    """Where a plugin comes from: the name it is registered under (its entry point's), what was loaded
    (``symop_fd.plugin``, ``my_package.plugin:PLUGIN``) and the distribution that announced it (None for a
    plugin registered by hand)."""

    name: str
    target: str
    distribution: str | None = None

    @property
    def builtin(self) -> bool:
        """Whether symop's own distribution announces it (the methods under ``plugins/``)."""
        return self.distribution is not None and self.distribution.strip().lower() == PROJECT

    def __str__(self) -> str:
        return f"`{self.name}` ({self.target})"


@dataclass(frozen=True)
class PluginProblem:
    """A plugin, or one of its methods, left out, and the sentence that says why.

    Asking for a method by one of ``names`` (the plugin's name, the method's
    where it is known) repeats ``message`` instead of "there is no method".
    """

    plugin: PluginOrigin
    message: str
    names: tuple[str, ...] = ()


class Manager(pluggy.PluginManager):
    """pluggy's plugin manager with symop's hookspecs; it knows where each plugin came from
    (:attr:`origins`) and which ones it left out and why (:attr:`problems`)."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(HookSpecs)
        #: by registered name
        self.origins: dict[str, PluginOrigin] = {}
        #: plugins left out while loading or while their hooks were called, in the order found
        self.problems: list[PluginProblem] = []

    def note(self, problem: PluginProblem) -> None:
        """Record ``problem`` (once)."""
        if all(p.message != problem.message for p in self.problems):
            self.problems.append(problem)

    def add(self, plugin: object, origin: PluginOrigin | None = None) -> bool:
        """Register ``plugin`` when its hooks are symop's, under ``origin.name`` when given; otherwise record
        why in :attr:`problems` and leave it out.  Returns whether it was registered."""
        shown = origin or _origin_of(plugin)

        def refuse(why: str) -> bool:
            self.note(PluginProblem(shown, _sentence(f"the plugin {shown} could not be loaded: {why}"),
                                    (shown.name,)))
            return False

        if inspect.isclass(plugin):
            return refuse(f"it is the class `{plugin.__name__}`, whose hooks pluggy would call without an "
                          f"instance; announce an instance instead (`PLUGIN = {plugin.__name__}()`, entry point "
                          f"`{shown.target.split(':')[0]}:PLUGIN`)")
        wanted = origin.name if origin is not None else self.get_canonical_name(plugin)
        if self.is_registered(plugin):
            return refuse(f"the same object is registered already, as `{self.get_name(plugin)}`")
        if self.has_plugin(wanted):
            return refuse(f"another plugin is registered under the name `{wanted}` already")
        try:
            name = self.register(plugin, name=wanted)
        except Exception as err:  # pluggy's PluginValidationError, after registering the hooks before the bad one
            if self.get_plugin(wanted) is plugin:
                self.unregister(plugin)
            return refuse("; ".join(_hook_problems(self, plugin)) or _failure(err))
        if name is None:  # blocked
            return False
        found = _hook_problems(self, plugin)  # hooks symop does not specify: pluggy accepts them
        if not found and not self.get_hookcallers(plugin):
            found = [why] if (why := _hooks_in_a_class(plugin, shown)) else []
        if found:
            self.unregister(plugin)
            return refuse("; ".join(found))
        self.origins[name] = origin or _origin_of(plugin, name)
        return True


def make_manager(load_entry_points: bool = True, plugins: Iterable[object] = ()) -> Manager:
    """A plugin manager with symop's hookspecs and the installed plugins loaded.

    A plugin that cannot be loaded or registered, installed or in ``plugins``,
    is left out and recorded in :attr:`Manager.problems`; nothing is raised.
    """
    pm = Manager()
    if load_entry_points:
        _load_entry_points(pm)
    for p in plugins:
        pm.add(p)
    return pm


def _load_entry_points(pm: Manager) -> None:
    """Load and register every entry point of the ``symop`` group, each on its own: one that fails is noted."""
    import importlib.metadata

    seen: set[tuple[str, str]] = set()
    for dist in list(importlib.metadata.distributions()):
        for ep in dist.entry_points:
            if ep.group != PROJECT or (ep.name, ep.value) in seen:  # a package found twice (egg-info beside it)
                continue
            seen.add((ep.name, ep.value))
            origin = PluginOrigin(ep.name, ep.value, (dist.metadata or {}).get("Name"))
            taken = pm.origins.get(ep.name)
            if taken is not None:
                pm.note(PluginProblem(origin, f"the plugin {origin} is left out: the plugin {taken} is registered "
                                              f"under the name `{ep.name}` already; one of them must announce "
                                              "itself under another entry-point name.", (ep.name,)))
                continue
            if pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as err:  # ImportError, SyntaxError, an error of the module's own code
                pm.note(PluginProblem(origin, _sentence(f"the plugin {origin} could not be loaded: {_failure(err)}"),
                                      (ep.name,)))
                continue
            pm.add(plugin, origin)


def _origin_of(plugin: object, name: str | None = None) -> PluginOrigin:
    """The origin of a plugin registered by hand: its module, or its class for an instance."""
    if inspect.ismodule(plugin):
        label = target = plugin.__name__
    else:
        cls = plugin if inspect.isclass(plugin) else type(plugin)
        label, target = cls.__name__, f"{cls.__module__}.{cls.__qualname__}"
    return PluginOrigin(label if name is None or name.isdigit() else name, target)


def _origin(pm: pluggy.PluginManager, name: str, plugin: object) -> PluginOrigin:
    """The origin of the plugin registered as ``name``."""
    known = getattr(pm, "origins", {}).get(name)
    return known if known is not None else _origin_of(plugin, name)


def _hook_problems(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """What is wrong with ``plugin``'s hook implementations: names symop does not specify, arguments its hooks
    do not pass."""
    out = []
    for attr in dir(plugin):
        try:
            opts = pm.parse_hookimpl_opts(plugin, attr)
        except Exception:  # an attribute that fails when read is no hook
            continue
        if opts is None:
            continue
        spec_name = opts.get("specname") or attr
        where = f"`{attr}`" if spec_name == attr else f"`{attr}` (for `{spec_name}`)"
        caller = getattr(pm.hook, spec_name, None)
        spec = getattr(caller, "spec", None)
        if spec is None:
            if not opts.get("optionalhook"):
                close = difflib.get_close_matches(spec_name, HOOKS, n=1)
                out.append(f"its hook {where} is not one of symop's hooks "
                           + (f"(did you mean `{close[0]}`?)" if close else f"({', '.join(HOOKS)})"))
            continue
        extra = [a for a in _required_arguments(getattr(plugin, attr)) if a not in spec.argnames]
        if extra:
            passed = ", ".join(f"`{a}`" for a in spec.argnames) or "none"
            out.append(f"its hook {where} takes the argument{'s' if len(extra) > 1 else ''} "
                       + ", ".join(f"`{a}`" for a in extra) + f", which symop does not pass (it passes {passed})")
    return out


def _required_arguments(function: Any) -> list[str]:
    """The positional arguments without defaults of ``function`` (``self`` of a bound method excluded)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _hooks_in_a_class(plugin: object, origin: PluginOrigin) -> str | None:
    """For a module with no hooks of its own whose class has some: why nothing is registered, and the fix."""
    if not inspect.ismodule(plugin):
        return None
    for value in vars(plugin).values():
        if not (inspect.isclass(value) and value.__module__ == plugin.__name__):
            continue
        marked = [n for n in dir(value) if hasattr(getattr(value, n, None), f"{PROJECT}_impl")]
        if marked:
            module = origin.target.split(":")[0]
            return (f"its hooks ({', '.join(f'`{n}`' for n in marked)}) are methods of the class `{value.__name__}`, "
                    "and pluggy registers the module itself, whose own functions carry no hook; make them "
                    f"module-level functions, or announce an instance (`PLUGIN = {value.__name__}()`, entry point "
                    f"`{module}:PLUGIN`)")
    return None


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _failure(err: BaseException) -> str:
    """An exception in words: ``RuntimeError: boom``; an import error by its own message (``No module named 'x'``)."""
    text = " ".join(str(err).split())
    if isinstance(err, ImportError) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


@lru_cache(maxsize=1)
def manager() -> Manager:
    """The process-wide plugin manager (entry points loaded once)."""
    return make_manager()


def _implementations(pm: pluggy.PluginManager, hook: str) -> list[Any]:
    """The implementations of ``hook`` in the order pluggy calls them, wrappers left out."""
    caller = getattr(pm.hook, hook, None)
    impls = caller.get_hookimpls() if caller is not None else []
    return [impl for impl in reversed(impls)
            if not (getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False))]


def _hook_items(impl: Any, origin: PluginOrigin, hook: str, wanted: str) -> tuple[list[Any], PluginProblem | None]:
    """The items ``impl`` (of ``hook``) returns, or the problem that leaves the plugin out: the hook raised, or
    returned something other than a list (``wanted`` names what the list holds)."""
    try:
        result = impl.function()
        if result is None:
            return [], None
        if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
            single = f"; return `[{type(result).__name__}()]`" if isinstance(result, Discretization) else ""
            return [], PluginProblem(origin, f"the plugin {origin} is left out: its hook `{hook}` returned "
                                             f"{_a(type(result).__name__)}, not a list of {wanted}{single}.",
                                     (origin.name,))
        return list(result), None
    except Exception as err:
        what = {"symop_discretizations": "methods", "symop_operators": "operators", "symop_domains": "domain kinds",
                "symop_commands": "commands"}.get(hook, "contributions")
        return [], PluginProblem(origin, f"the plugin {origin} failed in its hook `{hook}`: {_failure(err)}; "
                                         f"its {what} are left out.", (origin.name,))


@dataclass
class Catalogue:
    """The methods that the plugins of a manager contribute, after symop's checks.

    ``methods`` by name (in the order pluggy calls the hooks), the plugin each
    comes from (``origins``), and what was left out and why (``problems``).
    """

    methods: dict[str, "Discretization"]
    origins: dict[str, PluginOrigin]
    problems: list[PluginProblem]

    def refusal(self, name: str, problem: "Problem") -> str | None:
        """The reason the method ``name`` gives for refusing ``problem``, or None when it accepts it; another
        package's method that fails in ``accepts`` raises a :class:`PluginError` that names it."""
        return _accepts(self.methods[name], self.origins.get(name), problem)


def catalogue(pm: pluggy.PluginManager | None = None) -> Catalogue:
    """Call every ``symop_discretizations`` hook and check what it returns.

    A hook that raises or returns something other than a list is left out; so
    is an item that is no :class:`Discretization` instance, a method without a
    name, and a method whose options break the rules (:func:`method_problem`).
    Names: a built-in method keeps its name, and another plugin's method of the
    same name is left out; two other plugins' methods of one name are both left
    out.  Each is a :class:`PluginProblem` in :attr:`Catalogue.problems`.
    """
    pm = pm or manager()
    found: list[tuple[PluginOrigin, Discretization]] = []
    problems: list[PluginProblem] = []
    for impl in _implementations(pm, "symop_discretizations"):
        origin = _origin(pm, impl.plugin_name, impl.plugin)
        items, trouble = _hook_items(impl, origin, "symop_discretizations", "Discretization instances")
        if trouble is not None:
            problems.append(trouble)
        for item in items:
            trouble = _item_problem(item, origin)
            if trouble is None:
                found.append((origin, item))
            else:
                problems.append(trouble)
    by_name: dict[str, list[tuple[PluginOrigin, Discretization]]] = {}
    for origin, disc in found:
        by_name.setdefault(disc.name, []).append((origin, disc))
    methods: dict[str, Discretization] = {}
    origins: dict[str, PluginOrigin] = {}
    for name, group in by_name.items():
        builtin = [entry for entry in group if entry[0].builtin]
        if len(group) == 1 or len(builtin) == 1:
            origins[name], methods[name] = group[0] if len(group) == 1 else builtin[0]
            problems += [PluginProblem(o, f"the plugin {o} adds a method `{name}`, which is the name of a built-in "
                                          "method; the built-in one keeps the name, and the plugin's is left out "
                                          "until the plugin renames it.", (o.name,))
                         for o, _ in group if not o.builtin and len(group) > 1]
            continue
        owners = list(dict.fromkeys(str(o) for o, _ in group))
        if len(owners) == 1:
            message = (f"the plugin {owners[0]} adds {len(group)} methods named `{name}`; each needs its own name, "
                       "and until then none of them is available.")
        else:
            listed = ", ".join(owners[:-1]) + f" and {owners[-1]}"
            message = (f"the plugins {listed} {'both' if len(owners) == 2 else 'all'} add a method named "
                       f"`{name}`; one of them must rename it, and until then none of them is available.")
        problems.append(PluginProblem(group[0][0], message, (name, *dict.fromkeys(o.name for o, _ in group))))
    return Catalogue(methods, origins, problems)


def _item_problem(item: Any, origin: PluginOrigin) -> PluginProblem | None:
    """Why ``item``, one entry of ``origin``'s ``symop_discretizations``, is left out, or None."""
    where = f"a method of the plugin {origin} is left out: its hook `symop_discretizations`"
    if inspect.isclass(item) and issubclass(item, Discretization):
        return PluginProblem(origin, f"{where} returned the class `{item.__name__}`, not an instance of it; "
                                     f"return `{item.__name__}()`.", (origin.name,))
    if not isinstance(item, Discretization):
        return PluginProblem(origin, f"{where} returned {_a(type(item).__name__)}, not a Discretization.",
                             (origin.name,))
    name = getattr(item, "name", None)
    if not isinstance(name, str) or not name.strip() or len(name.split()) > 1:
        return PluginProblem(origin, f"a method of the plugin {origin} is left out: its class "
                                     f"`{type(item).__name__}` gives it the name {name!r}; a method needs a name "
                                     "of one word (`name = \"mymethod\"`).", (origin.name,))
    why = method_problem(item)
    if why is None:
        return None
    return PluginProblem(origin, _sentence(f"the method `{name}` (plugin {origin.target}) is left out: {why}"),
                         (name, origin.name))


def method_problem(disc: "Discretization") -> str | None:
    """What breaks symop's rules in ``disc``'s declarations, as words, or None: a description that is no
    text, an entry of ``options`` or ``train_options`` that is no :class:`Option`, an option declared twice,
    an option type that is no Python type, or a default that ``--set`` would refuse (:meth:`Option.convert`:
    type, :attr:`~Option.minimum`/:attr:`~Option.maximum`, :attr:`~Option.choices`)."""
    if not isinstance(getattr(disc, "description", ""), str):
        return f"its description is {_a(_type_name(disc.description))}, not text"
    try:
        declared = [*disc.options, *(disc.train_options or ())]
    except Exception as err:
        return f"reading its options failed: {_failure(err)}"
    seen: set[str] = set()
    for option in declared:
        if not isinstance(option, Option):
            return f"its options hold {option!r}, {_a(_type_name(option))}, not an Option"
        if not isinstance(option.name, str) or not option.name.strip():
            return f"it declares an option without a name ({option.name!r})"
        if option.name in seen:
            return f"it declares the option `{option.name}` twice"
        seen.add(option.name)
        if not isinstance(option.type, type):
            return f"its option `{option.name}` has the type {option.type!r}, which is no Python type such as int"
        try:
            option.convert(option.default, disc.name)
        except SymopError as err:
            return f"the default of its option `{option.name}` breaks the option's own rules: {err}"
        except Exception as err:
            return f"the default of its option `{option.name}`, {option.default!r}, cannot be checked: {_failure(err)}"
    return None


def discretizations(pm: pluggy.PluginManager | None = None) -> dict[str, Discretization]:
    """All registered discretizations by name (what :func:`catalogue` keeps)."""
    return catalogue(pm).methods


def method_origins(pm: pluggy.PluginManager | None = None) -> dict[str, PluginOrigin]:
    """The plugin each method comes from, by method name."""
    return catalogue(pm).origins


def plugin_problems(pm: pluggy.PluginManager | None = None) -> list[PluginProblem]:
    """Every plugin, or method of one, left out, with the sentence that says why: those that could not be
    loaded, hooks that failed, and methods :func:`catalogue` refused."""
    pm = pm or manager()
    for hook in ("symop_operators", "symop_domains", "symop_commands"):  # notes those hooks' failures
        contributions(pm, hook)
    found = list(getattr(pm, "problems", ())) + catalogue(pm).problems
    return list({p.message: p for p in found}.values())


def contributions(pm: pluggy.PluginManager, hook: str) -> list[tuple[str, Any]]:
    """``(plugin, item)`` for every item the implementations of ``hook`` return, in the order pluggy
    calls them (``tryfirst`` ones first, then the last registered first); ``plugin`` is the name the
    plugin was registered under, or its module or class name.

    An implementation that raises, or returns something other than a list, is
    left out and noted in the manager's :attr:`Manager.problems` (raised as a
    :class:`PluginError` by a manager that is no :class:`Manager`).
    """
    out: list[tuple[str, Any]] = []
    for impl in _implementations(pm, hook):
        origin = _origin(pm, impl.plugin_name, impl.plugin)
        items, trouble = _hook_items(impl, origin, hook, "items")
        if trouble is not None:
            if not isinstance(pm, Manager):
                raise PluginError(trouble.message)
            pm.note(trouble)
        out += [(origin.name, item) for item in items]
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
    """The discretization called ``name``; a :class:`MethodError` names the choices, and a method that was
    left out is a :class:`PluginError` that says why."""
    return _lookup(name, pm)[0]


def _lookup(name: str, pm: pluggy.PluginManager | None = None) -> tuple[Discretization, PluginOrigin | None]:
    """The discretization called ``name`` and the plugin it comes from."""
    pm = pm or manager()
    table = catalogue(pm)
    if name in table.methods:
        return table.methods[name], table.origins.get(name)
    left_out = list(getattr(pm, "problems", ())) + table.problems
    said = list(dict.fromkeys(p.message for p in left_out if name in p.names))
    if said:
        raise PluginError(" ".join(said))
    close = difflib.get_close_matches(name, list(table.methods), n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    plugins = list(dict.fromkeys(f"`{p.plugin.name}`" for p in left_out))
    note = (f" The plugin{'s' if len(plugins) > 1 else ''} {', '.join(plugins)} {'were' if len(plugins) > 1 else 'was'} "
            "left out: `symop plugins` says why." if plugins else "")
    raise MethodError(
        f"there is no method `{name}`; the installed methods are "
        + (", ".join(sorted(table.methods)) or "none")
        + "."
        + hint
        + note
    )


# ----------------------------------------------------------- running a method
def _stage(method: str, origin: PluginOrigin | None, stage: str, call: Callable[..., Any], *args: Any,
           **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, the ``stage`` of ``method``: an exception of another package's method that is
    no :class:`SymopError` becomes a :class:`PluginError` naming the method, its plugin and the stage; symop's
    own methods' exceptions pass unchanged (the command line reports them as a gap in symop's checks)."""
    try:
        return call(*args, **kwargs)
    except SymopError:
        raise
    except Exception as err:
        if origin is None or origin.builtin:
            raise
        raise PluginError(stage_failure(method, origin, stage, err)) from err


def stage_failure(method: str, origin: PluginOrigin, stage: str, err: BaseException) -> str:
    """The sentence for ``err`` raised in ``stage`` (accepts, lower, run, ...) of ``method`` from ``origin``:
    "the method `m` (plugin pkg.plugin) failed in lower: RuntimeError: boom."."""
    where = f"the method `{method}` (plugin {origin.target}) failed in {stage}"
    if isinstance(err, NotImplementedError):
        detail = " ".join(str(err).split())
        return where + ": not implemented by the plugin" + (f" ({detail})" if detail else "") + "."
    return _sentence(f"{where}: {_failure(err)}")


def _returned(method: str, origin: PluginOrigin | None, stage: str, value: Any, wanted: type | tuple[type, ...],
              words: str) -> None:
    """Refuse a ``value`` that ``stage`` returned which is no ``wanted``: a :class:`PluginError` for another
    package's method, a TypeError (a gap in symop's checks) for symop's own."""
    if isinstance(value, wanted):
        return
    plugin = f" (plugin {origin.target})" if origin is not None else ""
    message = f"the method `{method}`{plugin} failed in {stage}: {stage} returned {_type_name(value)}, not {words}."
    if origin is None or origin.builtin:
        raise TypeError(message)
    raise PluginError(message)


def refusal(name: str, problem: "Problem", pm: pluggy.PluginManager | None = None) -> str | None:
    """Why the method ``name`` refuses ``problem``, or None when it accepts it: its ``accepts``, checked as
    :func:`lower` checks it (another package's method that fails there, or answers with something other than a
    string, is a :class:`PluginError` that names it and the stage)."""
    disc, origin = _lookup(name, pm)
    return _accepts(disc, origin, problem)


def _accepts(disc: Discretization, origin: PluginOrigin | None, problem: "Problem") -> str | None:
    """``disc.accepts(problem)``, checked: None (or "") to accept, else the reason as a string."""
    reason = _stage(disc.name, origin, "accepts", disc.accepts, problem)
    _returned(disc.name, origin, "accepts", reason, (str, type(None)), "None or a reason (a str)")
    return reason or None


def plugin_failure(err: BaseException, pm: pluggy.PluginManager | None = None) -> str | None:
    """The sentence that blames another package's plugin for ``err``, an exception that escaped symop's checks,
    when its traceback passes through the code of that plugin's package; None when it does not (a gap in symop's
    own checks).  The outermost frame in the plugin's code names the stage (``accepts``, ``refine``, ...)."""
    try:
        pm = pm or manager()
        packages: dict[str, PluginOrigin] = {}
        builtin = {_top(p) for name, p in pm.list_name_plugin() if p is not None and _origin(pm, name, p).builtin}
        for name, plugin in pm.list_name_plugin():
            top = _top(plugin) if plugin is not None else PROJECT
            if top != PROJECT and top not in builtin:
                packages.setdefault(top, _origin(pm, name, plugin))
        tb = err.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            top = str(frame.f_globals.get("__name__", "")).split(".")[0]
            if top in packages:
                owner = frame.f_locals.get("self")
                stage = frame.f_code.co_name
                lowered = getattr(owner, "_symop_origin", None) if isinstance(owner, Program) else None
                if isinstance(owner, Discretization) and isinstance(getattr(owner, "name", None), str):
                    return stage_failure(owner.name, packages[top], stage, err)
                if lowered is not None:
                    return stage_failure(lowered[0], lowered[1], stage, err)
                return _sentence(f"the plugin {packages[top]} failed in `{stage}`: {_failure(err)}")
            tb = tb.tb_next
    except Exception:  # never let the diagnosis hide the error it diagnoses
        return None
    return None


def _top(plugin: object) -> str:
    """The top-level package of a plugin's module."""
    module = plugin.__name__ if inspect.ismodule(plugin) else getattr(
        plugin if inspect.isclass(plugin) else type(plugin), "__module__", "")
    return str(module).split(".")[0]


def lower(problem: "Problem", method: str, options: Mapping[str, Any] | None = None,
          pm: pluggy.PluginManager | None = None, processes: Any = None) -> Program:
    """Check that ``method`` accepts ``problem``, resolve options, and lower it.

    ``processes`` (a :class:`symop.training.DistInfo` of several processes):
    the run is split over them, when the method can split this problem
    (:meth:`Discretization.processes`); refused before any work otherwise.
    """
    disc, origin = _lookup(method, pm)
    reason = _accepts(disc, origin, problem)
    if reason:
        raise MethodError(_sentence(reason))
    resolved = resolve_options(method, disc.options, options or {}, problem)
    several = processes is not None and processes.is_distributed
    if several and (reason := _stage(method, origin, "processes", disc.processes, problem, resolved)):
        raise MethodError(f"{reason[0].upper()}{reason[1:]}" + ("" if reason.endswith(".") else "."))
    program = _stage(method, origin, "lower", disc.lower, problem, resolved)
    _returned(method, origin, "lower", program, Program, "a Program")
    with contextlib.suppress(Exception):  # a program that takes no attributes is run unguarded
        object.__setattr__(program, "_symop_origin", (method, origin))
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
    disc, origin = _lookup(method, pm)
    if not disc.trains:
        raise not_trainable(method, pm)
    reason = _accepts(disc, origin, problem)
    if reason:
        raise MethodError(_sentence(reason))
    if samples < 1:
        raise OptionError(f"training needs at least one sample, not {samples}.")
    resolved = resolve_options(method, tuple(disc.options) + tuple(disc.train_options), options or {})
    start = time.perf_counter()
    report = _stage(method, origin, "train", disc.train, problem, resolved, samples=samples, output=Path(output),
                    device=device, progress=progress, resume=resume, seed=seed)
    _returned(method, origin, "train", report, TrainingReport, "a TrainingReport")
    if not report.wall_time:
        report.wall_time = time.perf_counter() - start
    return report


def timed_run(program: Program, device: str, progress: bool) -> "Solution":
    """Run ``program`` and record the wall time on the solution; for a program another package's method
    lowered (:func:`lower`), a failure in ``run`` or a result that is no Solution is a :class:`PluginError`."""
    from symop.solution import Solution

    start = time.perf_counter()
    lowered = getattr(program, "_symop_origin", None)
    if lowered is None:
        sol = program.run(device=device, progress=progress)
    else:
        sol = _stage(*lowered, "run", program.run, device=device, progress=progress)
        _returned(*lowered, "run", sol, Solution, "a Solution")
    if not sol.wall_time:
        sol.wall_time = time.perf_counter() - start
    return sol
