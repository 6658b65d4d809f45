r"""The training loop every trainable method uses.

A method gives :func:`optimize` its objective as two functions, and nothing
else of the loop is its own:

* ``batch(step)``: the data of step ``step`` (collocation points, the members
  of a family, ...), drawn from a generator seeded by the step, so that a
  resumed run and a run split over ``torchrun`` processes see the same
  batches as one uninterrupted process; under ``torchrun`` it returns this
  rank's share (:func:`~symop.training.shard`);
* ``loss(batch)``: the total loss and its named terms, ``(total, {name: value})``,
  or only the terms ``{name: tensor}``, whose sum is then the total.  A loss
  that is a sum of squared residuals may also offer ``loss.linearise(batch)``,
  its residual vector and their Jacobian with respect to the parameters
  (:class:`~symop.nn.linearise.Linearisation`); the Gauss–Newton optimizers
  (``engd``, :mod:`symop.training.curvature`) need it and refuse a loss without.

The training is a sequence of :class:`Phase`\ s, each ``steps`` steps of one
registered optimizer (:mod:`symop.training.optimizers`) with a learning-rate
:class:`~symop.training.optimizers.Schedule`: Adam with a decaying rate, then
L-BFGS, for instance.  A step sets the rate, evaluates the loss of its batch,
back-propagates (DDP averages the gradients over processes), clips the
gradient norm if the phase asks, and steps; an optimizer that needs a closure
(L-BFGS) evaluates the loss as often as it wants, and the step then records
the loss at its end (under several processes the closure returns the loss
averaged over them, so that every process's line search reads the whole
batch's loss and all take the same steps); a Gauss–Newton optimizer gets a
:class:`~symop.training.curvature.ResidualClosure` (the loss without gradients
for its line search, and the linearisation) and records the loss it accepted.
Phases of different optimizers make a schedule that switches: Adam to warm
up, then ``engd``.

Every step the loss and its terms are averaged over the processes (one
collective call) and recorded; a value that is not finite stops the run
before the optimizer moves, with a :class:`NonFiniteLoss` naming the step and
every term's value.  A rich progress bar (rank 0) shows the loss and its
terms; callbacks get a :class:`StepRecord` after every step.  Checkpoints
(:class:`Checkpoint`) hold the weights, the optimizer's state, the step, the
phase and the recorded losses and terms, in the one model-file format of
:func:`~symop.training.save_checkpoint`; they are written every ``every``
steps and at the end of every phase, and a resumed run continues from the
last one to the same result as an uninterrupted run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from symop import trackers as _trackers
from symop.errors import SolveError, SymopError

from symop.errors import OptionError

from .checkpoint import _holds_tensor, _plain, load_checkpoint, save_checkpoint
from .curvature import ResidualClosure
from .dist import DistInfo, average_all, unwrap
from .optimizers import OptimizerSetup, Schedule, get_optimizer, make_optimizer
from .progress import progress_bar

#: the keys the loop writes into a checkpoint
CHECKPOINT_KEYS = ("model", "optimizer", "optimizer_name", "step", "phase", "losses", "terms")


class NonFiniteLoss(SolveError):
    """The loss, or one of its terms, became infinite or NaN during training."""

    def __init__(self, message: str, step: int, loss: float, terms: Mapping[str, float]) -> None:
        super().__init__(message)
        self.step, self.loss, self.terms = step, loss, dict(terms)


class CheckpointError(SymopError):
    """A checkpoint cannot be resumed from: written by an older symop, or for other training."""


@dataclass(frozen=True)
class Phase:
    """``steps`` steps of the optimizer ``optimizer`` at the rate ``lr`` times ``schedule``'s factor."""

    steps: int
    optimizer: str = "adam"
    lr: float = 1e-3
    schedule: Schedule = Schedule()
    #: the optimizer's own options (e.g. ``max_iter`` of ``lbfgs``)
    options: Mapping[str, Any] = field(default_factory=dict)
    #: the largest gradient norm (gradients are scaled down to it); 0: no clipping
    clip: float = 0.0

    def lr_at(self, k: int) -> float:
        """The learning rate at step ``k`` of this phase."""
        return self.lr * self.schedule.factor(k, self.steps)


@dataclass(frozen=True)
class Checkpoint:
    """Where and how often to write checkpoints, and whether to resume from one."""

    path: Path | str
    #: steps between checkpoints (0: none between); one is always written at the end of every phase
    every: int = 0
    #: continue from ``path`` when it exists
    resume: bool = False
    #: the caller's metadata, stored in every checkpoint; a checkpoint that holds one of these keys with another
    #: value (another network or optimizer; under ``problem``, a hash of another problem such as
    #: :func:`~symop.model.family.family_hash`) is refused instead of resumed
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the function that writes a checkpoint, ``write(path, state, info)``
    write: Callable[..., None] = save_checkpoint


@dataclass(frozen=True)
class StepRecord:
    """What a callback learns after a step: the steps done, the loss and its terms, the rate and phase."""

    step: int
    loss: float
    terms: Mapping[str, float]
    lr: float
    phase: Phase
    model: torch.nn.Module


@dataclass
class Result:
    """The loss of every step (a resumed run's include the checkpoint's), its terms, and timings."""

    losses: list[float] = field(default_factory=list)
    terms: list[dict[str, float]] = field(default_factory=list)
    #: the step this run began at (0, or the checkpoint's)
    start_step: int = 0
    wall_time: float = 0.0
    #: seconds spent in each phase by this run
    phase_times: list[float] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        """The last recorded loss (NaN when nothing was recorded)."""
        return self.losses[-1] if self.losses else math.nan


#: ``loss(batch)`` -> ``(total, {name: value})`` or ``{name: tensor}``
Loss = Callable[[Any], Any]


def _split(out: Any) -> tuple[torch.Tensor, Mapping[str, Any]]:
    """``(total, terms)`` from what a loss returned: that pair, or the terms alone (summed)."""
    if isinstance(out, Mapping):
        total = 0.0
        for value in out.values():
            total = total + value
        return total, out
    total, terms = out
    return total, terms


def _format(terms: Mapping[str, float]) -> str:
    return "  ".join(f"{name} {value:.2e}" for name, value in terms.items())


def optimize(model: torch.nn.Module, loss: Loss, phases: Sequence[Phase], *,
             batch: Callable[[int], Any] | None = None, info: DistInfo | None = None,
             checkpoint: Checkpoint | None = None, progress: bool = False, label: str = "training",
             hint: str | Callable[[Phase], str] = "lower the learning rate",
             callbacks: Sequence[Callable[[StepRecord], None]] = (),
             until: Callable[[StepRecord], bool] | None = None) -> Result:
    """Minimise ``loss(batch(step))`` over the parameters of ``model`` through ``phases`` (see the module docstring).

    ``model`` is the network as the loss calls it (wrapped for DDP when
    ``info`` is distributed); ``batch`` defaults to the step number itself.
    ``label`` names the run in the progress bar and in errors, ``hint`` ends
    the error of a non-finite loss (a string, or a function of the failing
    :class:`Phase` that returns one).  ``until(record)``, when given, is asked
    after every step (after the callbacks): true ends the training there (a
    stopping tolerance on the loss, say); the last checkpoint is then written.

    The trackers of the solve in progress (:mod:`symop.trackers`) see every
    ``every``-th step (loss, terms, the network); one that raises
    :class:`~symop.trackers.StopRun` ends the training after that step.

    A ``checkpoint`` path that cannot be written is refused before the first
    step (when there are steps left to train).  An interrupt (Ctrl-C) that
    arrives between two steps writes the checkpoint of the last step before it
    propagates, so that rerunning resumes there; one inside a step leaves the
    last checkpoint written.
    """
    info = info or DistInfo()
    run = _trackers.active()
    stopped = False
    batch = batch or (lambda step: step)
    net = unwrap(model)
    params = list(model.parameters())
    phases = list(phases)
    for phase in phases:
        spec = get_optimizer(phase.optimizer)  # an unknown name fails before any work
        if spec.residuals and phase.steps > 0:
            if not callable(getattr(loss, "linearise", None)):
                raise OptionError(f"the optimizer `{spec.name}` is a Gauss–Newton method and needs the residuals of "
                                  f"the loss term by term, which the {label} loss does not give; use adam or lbfgs.")
            if info.is_distributed:
                raise OptionError(f"the optimizer `{spec.name}` runs in one process; its Gauss–Newton system is not "
                                  "split over torchrun processes yet. Train with one process, or use adam or lbfgs.")
    starts = [sum(p.steps for p in phases[:i]) for i in range(len(phases))]
    total_steps = sum(p.steps for p in phases)
    result = Result()
    state = _resume(checkpoint, net, phases, starts) if checkpoint is not None else None
    if checkpoint is not None and info.is_main and (state["step"] if state else 0) < total_steps:
        _writable(Path(checkpoint.path))  # before any step: a checkpoint that cannot be written loses no work
    if state is not None:
        if state["step"] > total_steps:
            raise CheckpointError(f"the checkpoint `{checkpoint.path}` was saved after {state['step']} steps, more "
                                  f"than the {total_steps} this run trains, and holds a network trained longer than "
                                  f"asked: raise the steps to at least {state['step']}, or delete it.")
        result.start_step = state["step"]
        result.losses, result.terms = state["losses"], state["terms"]
    start = time.perf_counter()
    last = result.losses[-1] if result.losses else math.nan  # a resumed bar shows where the run stands
    #: the last step whose weights and optimizer state are whole and not yet in the checkpoint (phase, optimizer)
    pending: tuple[int, Phase, Any, int] | None = None
    try:
        with progress_bar(label, total_steps, progress and info.is_main, completed=min(result.start_step, total_steps),
                          loss=last, terms="") as update:
            for index, (phase, first) in enumerate(zip(phases, starts)):
                end = first + phase.steps
                if end <= result.start_step or phase.steps <= 0:
                    result.phase_times.append(0.0)
                    continue
                began = time.perf_counter()
                optimizer = make_optimizer(phase.optimizer, OptimizerSetup(params, phase.lr, dict(phase.options),
                                                                           model, loss))
                if state is not None and state["phase"] == index and result.start_step > first:
                    optimizer.load_state_dict(state["optimizer"])
                spec = get_optimizer(phase.optimizer)
                closure_driven = "residuals" if spec.residuals else spec.closure
                for step in range(max(first, result.start_step), end):
                    lr = phase.lr_at(step - first)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    check = partial(_check, step=step, lr=lr, phase=phase, info=info, label=label, hint=hint)
                    pending = None  # inside a step the weights may be half moved (a line search's trial)
                    value, parts = _step(optimizer, closure_driven, loss, batch(step), params, phase.clip, check,
                                         info.is_distributed)
                    result.losses.append(value)
                    result.terms.append(parts)
                    pending = (index, phase, optimizer, step + 1)
                    update(step + 1, loss=value, terms=_format(parts))
                    every = checkpoint is not None and checkpoint.every and (step + 1) % checkpoint.every == 0
                    if checkpoint is not None and (every or step + 1 == end):
                        _save(checkpoint, net, optimizer, index, phase, step + 1, result, info)
                        pending = None
                    record = StepRecord(step + 1, value, parts, lr, phase, net)
                    for callback in callbacks:
                        callback(record)
                    if until is not None and until(record):
                        if pending is not None and checkpoint is not None:
                            _save(checkpoint, net, optimizer, index, phase, step + 1, result, info)
                            pending = None
                        stopped = True
                        break
                    last = step + 1 == total_steps
                    if run is not None and run.due(step + 1, last):
                        stopped = run.observe(_trackers.StepState(step + 1, total_steps, None, "training", net,
                                                                  value, parts), last)
                        if stopped:
                            break
                result.phase_times.append(time.perf_counter() - began)
                if stopped:
                    break
    except KeyboardInterrupt:
        if checkpoint is not None and pending is not None:  # between steps: keep the work done so far
            _save(checkpoint, net, pending[2], pending[0], pending[1], pending[3], result, info)
        raise
    result.wall_time = time.perf_counter() - start
    return result


def _step(optimizer: torch.optim.Optimizer, closure_driven: bool | str, loss: Loss, data: Any,
          params: Sequence[torch.nn.Parameter], clip: float, check: Callable[..., tuple[float, dict[str, float]]],
          shared: bool = False) -> tuple[float, dict[str, float]]:
    """One optimizer step on the batch ``data``; the loss and terms it records (checked by ``check``).

    The gradient is checked before the optimizer moves; a closure-driven
    optimizer evaluates as often as it needs, and the step records the loss
    where it ended.  With ``shared`` (several processes, each with its share
    of the batch) the closure returns the loss averaged over the processes,
    the loss of the whole batch whose gradient DDP has averaged: L-BFGS's line
    search then compares the same numbers on every process, which take the
    same steps as one process on the whole batch.
    """
    seen: dict[str, Any] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        total, terms = _split(loss(data))
        total.backward()
        seen["values"] = check(total, terms)
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        if shared:  # the whole batch's loss, the same on every process
            return torch.tensor(seen["values"][0], dtype=total.dtype, device=total.device)
        return total

    if closure_driven == "residuals":
        kronecker = getattr(loss, "kronecker", None)
        gn = ResidualClosure(lambda: _split(loss(data)), lambda: loss.linearise(data), params,
                             (lambda: kronecker(data)) if callable(kronecker) else None)
        gn()
        check(*gn.last)  # a non-finite loss stops the run before the optimizer moves
        optimizer.step(gn)
        return check(*gn.last)
    if closure_driven:
        optimizer.step(closure)
        return check(*_split(loss(data)))
    closure()
    optimizer.step()
    return seen["values"]


def _check(total: torch.Tensor, terms: Mapping[str, Any], step: int, lr: float, phase: Phase, info: DistInfo,
           label: str, hint: str | Callable[[Phase], str]) -> tuple[float, dict[str, float]]:
    """The loss and its terms averaged over the processes; a :class:`NonFiniteLoss` if any is not finite."""
    names = list(terms)
    values = average_all([float(total.detach())] + [float(_detach(terms[n])) for n in names], info)
    value, parts = values[0], dict(zip(names, values[1:]))
    if not all(math.isfinite(v) for v in values):
        listed = ", ".join(f"{n} = {v:.3e}" for n, v in parts.items()) or "none"
        hint = hint(phase) if callable(hint) else hint
        raise NonFiniteLoss(f"the {label} loss became {value} at step {step + 1} ({phase.optimizer}, learning rate "
                            f"{lr:.3e}); its terms were {listed}. {hint[:1].upper() + hint[1:]}.", step + 1, value,
                            parts)
    return value, parts


def _detach(value: Any) -> Any:
    return value.detach() if isinstance(value, torch.Tensor) else value


def _save(checkpoint: Checkpoint, net: torch.nn.Module, optimizer: torch.optim.Optimizer, index: int, phase: Phase,
          step: int, result: Result, info: DistInfo) -> None:
    clash = set(checkpoint.extra) & set(CHECKPOINT_KEYS)
    if clash:
        raise ValueError(f"checkpoint metadata may not use the loop's keys {sorted(clash)}")
    state = {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "optimizer_name": phase.optimizer,
             "step": step, "phase": index, "losses": list(result.losses), "terms": list(result.terms),
             **checkpoint.extra}
    checkpoint.write(checkpoint.path, state, info)


def _resume(checkpoint: Checkpoint, net: torch.nn.Module, phases: Sequence[Phase],
            starts: Sequence[int]) -> dict[str, Any] | None:
    """Load ``checkpoint`` into ``net`` when it is to be resumed from and exists; its loop state, else ``None``.

    The checkpoint is refused (a :class:`CheckpointError`) when it holds one of
    the caller's ``extra`` keys with another value, when its step does not lie
    in its phase of this run's ``phases`` (beginning at ``starts``) or that
    phase has another optimizer, and when its network has other parameters.
    """
    path = Path(checkpoint.path)
    if not checkpoint.resume or not path.exists():
        return None
    param = next(net.parameters(), None)
    state = load_checkpoint(path, param.device if param is not None else "cpu")
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"the checkpoint `{path}` lacks {', '.join(missing)}: it was not written by this "
                              "version of symop's training loop; delete it to train from the start.")
    for key, value in checkpoint.extra.items():
        if key in state and not _holds_tensor(value) and state[key] != _plain(value, key):
            if key == "problem":
                raise CheckpointError(f"the checkpoint `{path}` was written for another problem (its equations, "
                                      "conditions, domain, time interval or parameter values differ); delete it, or "
                                      "give this run a checkpoint of its own.")
            raise CheckpointError(f"the checkpoint `{path}` was written with {key} `{_shown(state[key])}`, and this "
                                  f"run has {key} `{_shown(value)}`: it belongs to another run (another problem or "
                                  "other options); delete it, or run with the options it was written with.")
    index, name, step = int(state["phase"]), state["optimizer_name"], int(state["step"])
    if index < len(phases) and phases[index].optimizer != name:
        raise CheckpointError(f"the checkpoint `{path}` was written while training with `{name}`, but this run "
                              f"trains with `{phases[index].optimizer}` there; delete it or train as before.")
    longer = step > sum(p.steps for p in phases)  # refused by the caller, in its own words
    if index >= len(phases) and not longer:
        count = f"{len(phases)} phase" + ("s" if len(phases) != 1 else "")
        raise CheckpointError(f"the checkpoint `{path}` was written at step {step}, in phase {index + 1} (`{name}`), "
                              f"and this run has {count}: it was written with another schedule; delete it or train "
                              "as before.")
    if index < len(phases) and not longer and not starts[index] < step <= starts[index] + phases[index].steps:
        lo, hi = starts[index] + 1, starts[index] + phases[index].steps
        where = f"at step {lo}" if lo == hi else f"at steps {lo} to {hi}"
        raise CheckpointError(f"the checkpoint `{path}` was written at step {step}, in a phase of `{name}` that this "
                              f"run has {where}: it was written with another schedule (other steps per phase); "
                              "delete it or train as before.")
    mismatch = _mismatch(net.state_dict(), state["model"])
    if mismatch:
        raise CheckpointError(f"the checkpoint `{path}` holds another network than this run trains ({mismatch}): it "
                              "was written with other network options or for another problem; delete it, or run "
                              "with the options it was written with.")
    net.load_state_dict(state["model"])
    return {"step": step, "phase": index, "optimizer": state["optimizer"],
            "losses": [float(v) for v in state["losses"]], "terms": [dict(t) for t in state["terms"]]}


def _shown(value: Any) -> str:
    """``value`` as a checkpoint's message shows it: booleans as on/off, the rest as written."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _writable(path: Path) -> None:
    """Refuse, before any step, a checkpoint ``path`` that cannot be written: a folder, or a place where the file
    (and the temporary file it is written through) cannot be made."""
    if path.is_dir():
        raise OptionError(f"the checkpoint `{path}` is a folder; name a file in it, such as `{path / 'run.pt'}`.")
    probe = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(probe, "ab"):
            pass
        probe.unlink()
    except OSError as error:
        raise OptionError(f"the checkpoint `{path}` cannot be written ({error.strerror or error}); give a path in a "
                          "folder you can write.") from None


def _mismatch(mine: dict[str, torch.Tensor], theirs: Any) -> str:
    """How the saved state ``theirs`` differs from ``mine`` in names or shapes, in words; empty when it fits."""
    if not isinstance(theirs, dict):
        return "no network state"
    missing = [k for k in mine if k not in theirs]
    extra = [k for k in theirs if k not in mine]
    if missing or extra:
        return "parameters " + ", ".join(f"`{k}` {'missing' if k in missing else 'not expected'}"
                                         for k in (missing + extra)[:3])
    for key, value in mine.items():
        other = theirs[key]
        if tuple(getattr(other, "shape", ())) != tuple(value.shape):
            shape = lambda t: " x ".join(map(str, tuple(getattr(t, "shape", ())))) or "a scalar"  # noqa: E731
            return f"`{key}` is {shape(other)} there and {shape(value)} here"
    return ""
