"""The Python front end: :func:`load`, :func:`parse`, :func:`lower`, :func:`solve`.

>>> p = symop.load("examples/heat.pde")
>>> s = symop.solve(p, method="fd", n=64)
>>> s.errors()
{'u': {'rel_l2': ..., 'max': ...}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from symop import plugins as _plugins
from symop.errors import MethodError, OptionError
from symop.lang import builder as _builder
from symop.model.problem import Problem


def parse(text: str, filename: str = "<string>") -> Problem:
    """Parse equation text into a :class:`Problem` (plugin operators included)."""
    return _builder.parse(text, filename, _plugins.operators(), _plugins.domains())


def load(path: str | Path) -> Problem:
    """Read an equation file into a :class:`Problem`."""
    return _builder.load(path, _plugins.operators(), _plugins.domains())


def _operators() -> dict:
    """The plugins' language operators (none when a broken plugin cannot list them)."""
    try:
        return _plugins.operators()
    except Exception:  # pragma: no cover - a broken plugin must not stop reading an expression
        return {}


def parse_expression(problem: Problem, text: str, *, what: str = "the expression",
                     allow_fields: bool = False) -> Any:
    """One expression of the language (``"sin(pi*x)*exp(-t)"``) as SymPy, in the names of ``problem``.

    Plugin operators are included; a mistake is one line naming the column
    (:class:`~symop.mms.ManufactureError`).
    """
    from symop.lang.inline import parse_expression as parse_inline

    return parse_inline(problem, text, _operators(), what=what, allow_fields=allow_fields)


def manufacture(problem: Problem, solutions: Mapping[str, Any], *, simplify: bool = True) -> Problem:
    """:func:`symop.mms.manufacture` with each field's solution given as text or as a SymPy expression."""
    from symop import mms

    read = {name: parse_expression(problem, value, what=f"the solution for `{name}`")
            if isinstance(value, str) and name in problem.field_names else value
            for name, value in solutions.items()}
    return mms.manufacture(problem, read, simplify=simplify)


def method_and_options(problem: Problem, method: str | None, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The method to use and its options: the file's ``solve`` line, overridden by the caller."""
    spec = problem.solve
    if method is None:
        if spec is None:
            raise MethodError(
                "no method given and the file has no `solve` line; pass --method "
                "(see `symop plugins` for the installed methods)."
            )
        method = spec.method
    merged: dict[str, Any] = dict(spec.options) if spec is not None and spec.method == method else {}
    if merged:
        check_solve_line(problem, given=options)
        merged = _paths_beside_file(problem, method, merged)
    merged.update(options)
    return method, merged


def check_solve_line(problem: Problem, given: Mapping[str, Any] | None = None) -> None:
    """Check the file's ``solve`` line against the installed method's declared options.

    The method must be installed; each option must be one of its options (or
    training options, or a parameter of the problem) and take its value.
    Options in ``given`` (the caller's, which replace the file's) are not
    checked here.  Without ``given`` the options are also checked together
    (an option that would not act).  A mistake is a
    :class:`~symop.errors.SourceError` at the option, or the line, at fault.
    """
    spec = problem.solve
    if spec is None:
        return
    from symop.errors import SourceError, SymopError
    from symop.lang.names import did_you_mean

    def error(position: Any, message: str, hint: str | None = None) -> SourceError:
        text = message.strip()
        return SourceError(text[:-1] if text.endswith(".") else text, position or spec.position, hint,
                           problem.source)

    method = spec.method
    try:
        disc = _plugins.get_discretization(method)
    except _plugins.PluginError as err:
        raise error(spec.method_position, str(err)) from None
    except MethodError:
        names = sorted(_plugins.discretizations())
        raise error(spec.method_position, f"there is no method `{method}`; the installed methods are "
                    + (", ".join(names) or "none"), did_you_mean(method, names)) from None
    table = {o.name: o for o in disc.options}
    training = {o.name: o for o in disc.train_options}
    given = dict(given or {})
    for key, value in spec.options.items():
        if key in given:
            continue
        position = spec.option_positions.get(key)
        option = table.get(key) or training.get(key)
        if option is None and key not in problem.params:
            choices, params = sorted(set(table) | set(training)), sorted(problem.params)
            raise error(position, f"the method `{method}` has no option `{key}`"
                        + (f", and the problem has no parameter `{key}`" if params else "")
                        + "; its options are " + (", ".join(choices) or "none")
                        + (f"; its parameters are {', '.join(params)}" if params else ""),
                        did_you_mean(key, choices + params))
        try:
            if option is not None:
                option.convert(value, method)
            else:
                parameter_value(key, value)
        except SymopError as err:
            raise error(position, str(err)) from None
    if not given:
        try:
            _plugins.resolve_options(method, disc.options, {k: v for k, v in spec.options.items() if k in table},
                                     problem)
        except OptionError as err:  # an option that would not act: at its place on the line
            raise error(spec.option_positions.get(err.option) if err.option else None, str(err)) from None


def refuse_checkpoint(options: Mapping[str, Any], study: str) -> None:
    """Refuse a ``checkpoint`` option in ``study`` (a sentence's subject: "a convergence study solves each level"),
    which solves several times with the same options: every solve would resume from the file the one before
    wrote, another level's or another problem's training, instead of starting afresh."""
    if options.get("checkpoint"):
        raise OptionError(f"{study} afresh, but `checkpoint` would resume each from the training the one before "
                          "saved there: leave checkpoint out.")


def _paths_beside_file(problem: Problem, method: str, options: dict[str, Any]) -> dict[str, Any]:
    """The file's ``solve`` options, with relative file paths read from the file's folder.

    ``solve pino(model: m.pt)`` in ``/data/a.pde`` names ``/data/m.pt``
    wherever ``symop run`` is started: a file never reaches for a model in
    whatever folder its reader happens to stand in.
    """
    source = problem.source
    if source is None or source.filename.startswith("<"):
        return options
    try:
        declared = {o.name: o for o in _plugins.get_discretization(method).options}
    except MethodError:
        return options
    folder = Path(source.filename).parent
    out = dict(options)
    for name, value in options.items():
        option = declared.get(name)
        if option is not None and option.path and value and not Path(str(value)).is_absolute():
            out[name] = str(folder / str(value))
    return out


def split_settings(problem: Problem, method: str, settings: Mapping[str, Any],
                   training: bool = False) -> tuple[Problem, dict[str, Any]]:
    """Route ``name=value`` settings to method options or problem parameters.

    A name that is an option of the method (or, when ``training``, one of its
    training options) sets the option; otherwise, a name that is a parameter
    of the problem sets the parameter.
    """
    disc = _plugins.get_discretization(method)
    option_names = {o.name for o in disc.options}
    if training:
        option_names |= {o.name for o in disc.train_options}
    options: dict[str, Any] = {}
    params: dict[str, float] = {}
    for key, value in settings.items():
        if key in option_names:
            options[key] = value
        elif key in problem.params:
            params[key] = parameter_value(key, value)
        else:
            raise unknown_setting(key, method, option_names, problem)
    if params:
        problem = with_params(problem, params)
    return problem, options


def with_params(problem: Problem, params: Mapping[str, float]) -> Problem:
    """``problem`` with parameters set to ``params``: by :meth:`Problem.with_params`, or, when one of them shaped
    the problem as it was read (a dimension, a sum's bounds; :attr:`Problem.structural_params`), by reading its
    source again with those values, so that ``--set d=5`` on ``space x[1..d]`` gives five coordinates."""
    if problem.structural_changes(params) and problem.as_read and problem.source is not None and problem.source.text:
        values = {**{k: v for k, v in problem.params.items() if k in problem.structural_params}, **params}
        fixed = {k: float(v) for k, v in values.items() if k in params or k not in problem.param_distributions}
        read = _builder.parse(problem.source.text, problem.source.filename, _operators(), _plugins.domains(),
                              params=fixed)
        # values set by an earlier with_params on a parameter the reading does not fix: set again
        earlier = {k: v for k, v in problem.params.items() if k not in problem.structural_params and k not in params
                   and v != problem.read_params.get(k, v)}
        return read.with_params(**earlier) if earlier else read
    return problem.with_params(**params)


def unknown_setting(key: str, method: str, option_names: set[str], problem: Problem) -> Exception:
    """The error for a setting that is neither an option of ``method`` nor a parameter of ``problem``.

    The suggestion looks at both: ``kapa`` suggests the parameter ``kappa``,
    ``stesp`` the option ``steps``.
    """
    import difflib

    from symop.errors import OptionError

    options, params = sorted(option_names), sorted(problem.params)
    kinds = {**{name: "option" for name in options}, **{name: "parameter" for name in params}}
    close = difflib.get_close_matches(key, list(kinds), n=1)
    hint = f" Did you mean the {kinds[close[0]]} `{close[0]}`?" if close else ""
    return OptionError(f"the method `{method}` has no option `{key}`, and the problem `{problem.name}` has no "
                       f"parameter of that name; its options are {', '.join(options) or 'none'}, its parameters "
                       f"{', '.join(params) or 'none'}.{hint}")


def parameter_value(name: str, value: Any) -> float:
    """``value`` (a number, or a string from ``--set``) as the finite float a parameter takes.

    A value that is not a number, or is infinite or NaN, is a :class:`SymopError`
    naming the parameter: an infinite coefficient would otherwise surface far
    away, as a singular matrix or a NaN solution.
    """
    import math

    from symop.errors import SymopError

    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise SymopError(f"parameter `{name}` takes a number, not `{value}`.") from None
    if not math.isfinite(number):
        raise SymopError(f"parameter `{name}` is {number}; parameters must be finite numbers.")
    return number


def lower(problem: Problem, method: str | None = None, **options: Any) -> _plugins.Program:
    """Lower ``problem`` with ``method`` into a runnable :class:`~symop.plugins.Program`."""
    method, merged = method_and_options(problem, method, options)
    problem, merged = split_settings(problem, method, merged)
    return _plugins.lower(problem, method, merged)


def solve(problem: Problem | str | Path, method: str | None = None, *, device: str = "cpu",
          progress: bool = False, callbacks: Sequence[Callable[..., Any]] | None = None, processes: Any = None,
          **options: Any):
    """Solve ``problem`` (a Problem or a path) and return its :class:`~symop.solution.Solution`.

    Keyword options go to the method (e.g. ``n=128``, ``dt=1e-4``) or, when
    they name a parameter of the problem, change that parameter.
    ``callbacks`` are trackers (:mod:`symop.trackers`) or functions of a
    :class:`~symop.trackers.StepState`, called during the time stepping or
    the training; a function runs at every step, a tracker every ``every``.
    ``processes`` (:func:`symop.training.distributed` under ``torchrun``) splits
    the run over several processes where the method can (fd's explicit
    schemes, pinn); rank 0 gets the whole solution.
    """
    from symop import trackers

    if not isinstance(problem, Problem):
        problem = load(problem)
    method, merged = method_and_options(problem, method, options)
    problem, merged = split_settings(problem, method, merged)
    check_device(device)
    program = _plugins.lower(problem, method, merged, processes=processes)
    with trackers.tracking(callbacks) as run:
        solution = _plugins.timed_run(program, device, progress)
    solution.method = method
    if run is not None:
        run.finish(solution)
    return solution


def train(problem: Problem | str | Path, method: str | None = None, *, samples: int, output: str | Path,
          device: str = "cpu", progress: bool = False, resume: bool = False, seed: int = 0,
          **settings: Any) -> _plugins.TrainingReport:
    """Train ``method`` (a neural operator) on ``samples`` members of the family ``problem``.

    ``problem`` should have random parameters (``param k in [1, 10]``,
    ``param f ~ field()``); keyword settings go to the method's options and
    training options, or set a fixed parameter.  The model is saved to
    ``output``; ``resume`` continues from it.
    """
    if not isinstance(problem, Problem):
        problem = load(problem)
    method, merged = method_and_options(problem, method, settings)
    problem, merged = split_settings(problem, method, merged, training=True)
    check_device(device)
    return _plugins.train(problem, method, merged, samples=samples, output=Path(output), device=device,
                          progress=progress, resume=resume, seed=seed)


def check_device(device: str) -> None:
    """Fail with a sentence when ``device`` is not usable here."""
    from symop.devices import check_device_early

    check_device_early(device)
    import torch

    from symop.errors import SymopError

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SymopError("--device cuda was asked for, but PyTorch sees no CUDA device on this machine; use --device cpu.")
    if not (device == "cpu" or device.startswith("cuda")):
        raise SymopError(f"unknown device `{device}`; use cpu or cuda.")

