"""Trackers: code that runs every k steps of a solve, with the time and the fields.

``symop.solve(problem, callbacks=[...])`` calls each tracker during the run:
every k time steps of a time-dependent problem (:func:`symop.integrate.integrate`)
and every k training steps of a neural method (:func:`symop.training.optimize`).
A tracker sees a :class:`StepState`: the step, the time, the fields by name
(computed only when asked for), and for training the loss and its terms.

* a plain function ``f(state)`` is called at every step; :class:`Callback`
  calls it every ``every`` steps;
* :class:`SaveEvery` keeps the fields every k steps as the solution's history
  (``symop run --every K``);
* :class:`PlotEvery` draws the fields every k steps into PNG files;
* :class:`StopWhen` ends the run when a condition holds;
* :class:`Record` records scalar diagnostics (norms, energy, loss terms) into
  :attr:`Solution.diagnostics <symop.solution.Solution.diagnostics>`.

A tracker ends the run early by raising :class:`StopRun`; the run keeps the
state reached, the solution's ``info["stopped"]`` says at which step and why.
Time stepping calls trackers at step 0 (the initial state), at every step
that is a multiple of ``every`` and at the last step (also a step where a
tracker stopped the run).  Between :func:`tracking`
and the end of the run, the loops find the trackers through a context
variable, so no method has to pass them along.  Under ``torchrun`` every
process of a training calls its trackers with the same averaged loss (a
stopping condition must give the same answer on every process); an fd run
whose grid is split into blocks calls them on rank 0 alone, with the whole
grid's state and fields gathered from every block, and rank 0's decision to
stop reaches every process (:func:`observing` puts such a :class:`Run` in front
of the solve's).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from symop.errors import SymopError

if TYPE_CHECKING:  # pragma: no cover
    from symop.solution import Solution


class StopRun(Exception):
    """Raised by a tracker to end the run at the current step; the run keeps what it reached."""

    def __init__(self, reason: str = "a tracker stopped the run") -> None:
        super().__init__(reason)
        self.reason = reason


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.array(value, dtype=np.float64, copy=True)


@dataclass
class StepState:
    """What a tracker sees at a step.

    :param step: steps done (0: the initial state).
    :param total: the steps the run will take (``None`` when unknown).
    :param time: the time of the state (``None`` while training a steady problem).
    :param kind: ``"time"`` for a time step, ``"training"`` for a training step.
    :param state: the method's own state: a tensor while time stepping, the
        network while training.
    :param loss: the training loss (``None`` while time stepping).
    :param terms: the loss's named terms.
    """

    step: int
    total: int | None
    time: float | None
    kind: str
    state: Any = None
    loss: float | None = None
    terms: Mapping[str, float] = field(default_factory=dict)
    converter: Callable[[], Mapping[str, Any]] | None = field(default=None, repr=False)
    _fields: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def fields(self) -> dict[str, np.ndarray]:
        """The fields by name as NumPy arrays (copied off the device the first time they are asked for).

        Empty while training (a network has no nodal values; use :attr:`state`)
        and when the method does not name its fields to the loop.
        """
        if self._fields is None:
            raw = self.converter() if self.converter is not None else {}
            self._fields = {name: _numpy(values) for name, values in raw.items()}
        return self._fields


class Tracker:
    """Base of the built-in trackers: called every :attr:`every` steps, told the solution at the end."""

    every: int = 1

    def __call__(self, state: StepState) -> None:  # pragma: no cover - subclasses draw their own
        """Look at ``state``; raise :class:`StopRun` to end the run."""

    def finish(self, solution: "Solution") -> None:
        """Put what was recorded into ``solution`` (called once, after the run)."""


def _every(every: int) -> int:
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise SymopError(f"a tracker runs every k steps with k a whole number ≥ 1, not {every!r}.")
    return int(every)


class Callback(Tracker):
    """Calls ``function(state)`` every ``every`` steps."""

    def __init__(self, function: Callable[[StepState], Any], every: int = 1) -> None:
        self.function, self.every = function, _every(every)

    def __call__(self, state: StepState) -> None:
        self.function(state)


class SaveEvery(Tracker):
    """Keeps the fields every ``every`` time steps; they become the solution's ``times`` and ``history``.

    The initial state and the last step are always among them.  Training
    steps are not saved (a network has no snapshots).
    """

    def __init__(self, every: int) -> None:
        self.every = _every(every)
        self.times: list[float] = []
        self.snapshots: list[dict[str, np.ndarray]] = []

    def __call__(self, state: StepState) -> None:
        if state.kind != "time" or not state.fields:
            return
        if self.times and state.time is not None and math.isclose(self.times[-1], state.time, abs_tol=0.0):
            return
        self.times.append(float(state.time))
        self.snapshots.append(state.fields)

    def finish(self, solution: "Solution") -> None:
        if not self.times:
            return
        names = [n for n in self.snapshots[0] if n in solution.fields]
        shape = {n: solution.fields[n].shape for n in names}
        solution.times = np.asarray(self.times)
        solution.history = {n: np.stack([s[n].reshape(shape[n]) for s in self.snapshots]) for n in names}
        if getattr(solution, "dof_history", None) is not None:
            solution.dof_history = None  # it belonged to the method's own snapshot times
        solution.info["snapshot_every"] = self.every


class PlotEvery(Tracker):
    """Draws the fields every ``every`` time steps into ``folder/<problem>_<step>.png``.

    The pictures are drawn when the run ends, on the solution's geometry
    (a loop knows the state but not where its values live); :attr:`paths`
    lists them.
    """

    def __init__(self, every: int, folder: str | Path = ".") -> None:
        from symop.output.files import prepare_directory

        self.every = _every(every)
        self.folder = prepare_directory(folder, "PlotEvery")  # before the run: a bad folder loses nothing
        self.steps: list[tuple[int, float, dict[str, np.ndarray]]] = []
        self.paths: list[Path] = []

    def __call__(self, state: StepState) -> None:
        if state.kind == "time" and state.fields:
            self.steps.append((state.step, float(state.time), state.fields))

    def finish(self, solution: "Solution") -> None:
        from symop.output import plotting
        from symop.output.files import file_stem

        stem = file_stem(solution.problem.name)
        width = max(4, len(str(max((s for s, _, _ in self.steps), default=0))))
        for step, t, fields in self.steps:
            names = [n for n in fields if n in solution.fields]
            values = {n: fields[n].reshape(solution.fields[n].shape) for n in names}
            exact = {n: solution.exact_values(n, t) for n in names}
            fig = plotting.new_figure(solution.geometry, len(plotting.panels(solution.geometry, values, exact)))
            try:
                plotting.draw(fig, solution.geometry, values, exact, solution._title(names, t))
                path = self.folder / f"{stem}_{step:0{width}d}.png"
                fig.savefig(path, dpi=90)
                self.paths.append(path)
            finally:
                plotting.close(fig)


class StopWhen(Tracker):
    """Ends the run at the first checked step where ``condition(state)`` is true.

    ``reason`` is recorded in the solution's ``info["stopped"]``.
    """

    def __init__(self, condition: Callable[[StepState], bool], every: int = 1, reason: str | None = None) -> None:
        self.condition, self.every = condition, _every(every)
        self.reason = reason or getattr(condition, "__name__", "the condition") + " held"

    def __call__(self, state: StepState) -> None:
        if self.condition(state):
            raise StopRun(self.reason)


def field_diagnostics(state: StepState) -> dict[str, float]:
    r"""Norms of each field: ``<f>_l2`` :math:`(\frac1N\sum u_i^2)^{1/2}`, ``<f>_max`` :math:`\max|u_i|`,
    ``<f>_energy`` :math:`\frac12 \frac1N\sum u_i^2` (per unit volume); for training, ``loss`` and each term."""
    out: dict[str, float] = {}
    for name, values in state.fields.items():
        v = values.ravel()
        mean_square = float(np.mean(v * v)) if v.size else 0.0
        out[f"{name}_l2"] = math.sqrt(mean_square)
        out[f"{name}_max"] = float(np.max(np.abs(v))) if v.size else 0.0
        out[f"{name}_energy"] = 0.5 * mean_square
    if state.loss is not None:
        out["loss"] = float(state.loss)
        out.update({f"loss_{k}": float(v) for k, v in state.terms.items()})
    return out


class Record(Tracker):
    """Records scalars every ``every`` steps into ``solution.diagnostics`` (name → one value per record).

    ``quantities(state) -> {name: float}`` defaults to :func:`field_diagnostics`
    (norms and energy of each field, the loss and its terms while training);
    ``step`` and ``time`` are always recorded (time NaN while training a
    steady problem).
    """

    def __init__(self, every: int = 1, quantities: Callable[[StepState], Mapping[str, float]] | None = None) -> None:
        self.every = _every(every)
        self.quantities = quantities or field_diagnostics
        self.rows: list[dict[str, float]] = []

    def __call__(self, state: StepState) -> None:
        row = {"step": float(state.step), "time": math.nan if state.time is None else float(state.time)}
        row.update({k: float(v) for k, v in self.quantities(state).items()})
        self.rows.append(row)

    def finish(self, solution: "Solution") -> None:
        names: list[str] = []
        for row in self.rows:
            names.extend(k for k in row if k not in names)
        table = {k: np.array([row.get(k, math.nan) for row in self.rows]) for k in names}
        solution.diagnostics = {**(solution.diagnostics or {}), **table}


# ---------------------------------------------------------------- the active run
@dataclass
class Run:
    """The trackers of one solve, and why it stopped (``None`` while it runs to the end)."""

    trackers: list[Tracker]
    stopped: dict[str, Any] | None = None

    def due(self, step: int, last: bool = False) -> bool:
        """Whether any tracker runs at ``step``."""
        return any(last or step == 0 or step % t.every == 0 for t in self.trackers)

    def observe(self, state: StepState, last: bool = False) -> bool:
        """Call the trackers due at ``state.step``; ``True`` when one of them stopped the run.

        Every tracker due at the step sees it, also after one has asked to stop;
        a stopped run's step is its last, so the others then see it too.
        """
        waiting = []
        for tracker in self.trackers:
            if last or state.step == 0 or state.step % tracker.every == 0:
                self._call(tracker, state)
            else:
                waiting.append(tracker)
        if self.stopped is not None:
            for tracker in waiting:
                self._call(tracker, state)
        return self.stopped is not None

    def _call(self, tracker: Tracker, state: StepState) -> None:
        try:
            tracker(state)
        except StopRun as stop:
            if self.stopped is None:
                self.stopped = {"step": state.step, "time": state.time, "kind": state.kind, "reason": stop.reason}

    def finish(self, solution: "Solution") -> None:
        """Hand each tracker the solution; record where the run stopped."""
        for tracker in self.trackers:
            tracker.finish(solution)
        if self.stopped is not None:
            solution.info["stopped"] = dict(self.stopped)


_ACTIVE: contextvars.ContextVar[Run | None] = contextvars.ContextVar("symop_trackers", default=None)


def as_trackers(callbacks: Sequence[Tracker | Callable[[StepState], Any]] | None) -> list[Tracker]:
    """``callbacks`` as trackers: a plain callable runs at every step."""
    out: list[Tracker] = []
    for item in callbacks or ():
        if isinstance(item, Tracker):
            _every(item.every)
            out.append(item)
        elif callable(item):
            out.append(Callback(item))
        else:
            raise SymopError(f"a callback must be a function of the step state or a Tracker, not {item!r}.")
    return out


@contextlib.contextmanager
def tracking(callbacks: Sequence[Tracker | Callable[[StepState], Any]] | None) -> Iterator[Run | None]:
    """Make ``callbacks`` the trackers of the loops run inside the ``with`` block (``None`` when there are none)."""
    trackers = as_trackers(callbacks)
    if not trackers:
        yield None
        return
    with observing(Run(trackers)) as run:
        yield run


@contextlib.contextmanager
def observing(run: Run | None) -> Iterator[Run | None]:
    """Make ``run`` what the loops inside the ``with`` block call (:func:`active`), and the previous one again after.

    A method whose loop sees only part of the state (a block of a grid split
    over processes) puts a :class:`Run` of its own in front of the solve's:
    one that assembles the whole state before the solve's trackers see it.
    """
    token = _ACTIVE.set(run)
    try:
        yield run
    finally:
        _ACTIVE.reset(token)


def active() -> Run | None:
    """The trackers of the run in progress, if any (what the loops ask)."""
    return _ACTIVE.get()
