"""Optimizers by name, and learning-rate schedules.

An optimizer is one :class:`OptimizerSpec` in :data:`OPTIMIZERS`: a name, a
factory that builds a :class:`torch.optim.Optimizer` from an
:class:`OptimizerSetup`, and whether its ``step`` needs a closure that
evaluates the loss again (line searches, quasi-Newton and curvature methods),
or the residuals of the loss term by term with their Jacobian (``residuals``:
Gauss–Newton methods such as ``engd``, :mod:`symop.training.curvature`).
A new optimizer is one :func:`register_optimizer` call; the training loop
(:func:`symop.training.optimize`) and every method that uses it can then
name it.  The setup carries the model and the loss of a batch as well as
the parameters, for methods whose curvature comes from the residuals.

A :class:`Schedule` is the factor the learning rate is multiplied by at each
step of a phase, in closed form, so a resumed run takes exactly the rates an
uninterrupted one takes.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from symop.errors import OptionError

if TYPE_CHECKING:  # pragma: no cover - the registry (names, costs) is read without torch by `symop plugins`
    import torch


@dataclass(frozen=True)
class OptimizerSetup:
    """What an optimizer factory gets: the parameters, the base learning rate, its options, the model and loss."""

    params: Sequence[torch.nn.Parameter]
    lr: float
    options: Mapping[str, Any] = field(default_factory=dict)
    #: the network being trained (possibly wrapped for DDP)
    model: torch.nn.Module | None = None
    #: ``loss(batch) -> (total, terms)``, the trainer's objective
    loss: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class OptimizerSpec:
    """A named optimizer: its factory and whether its ``step`` takes a loss-evaluating closure."""

    name: str
    make: Callable[[OptimizerSetup], torch.optim.Optimizer]
    closure: bool = False
    description: str = ""
    #: ``step`` takes a :class:`~symop.training.curvature.ResidualClosure` (the loss must give its residuals)
    residuals: bool = False
    #: what one step costs, in words (shown by ``symop plugins``)
    cost: str = ""


#: name -> optimizer, filled by :func:`register_optimizer`
OPTIMIZERS: dict[str, OptimizerSpec] = {}


def register_optimizer(spec: OptimizerSpec, *, replace: bool = False) -> OptimizerSpec:
    """Add ``spec`` to :data:`OPTIMIZERS` (a second one of the same name only with ``replace``)."""
    if spec.name in OPTIMIZERS and not replace:
        raise ValueError(f"an optimizer named `{spec.name}` is already registered")
    OPTIMIZERS[spec.name] = spec
    return spec


def optimizer_names() -> tuple[str, ...]:
    """The names of the registered optimizers, in registration order."""
    return tuple(OPTIMIZERS)


def get_optimizer(name: str) -> OptimizerSpec:
    """The optimizer called ``name``; an :class:`~symop.errors.OptionError` naming the choices if there is none."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), OPTIMIZERS, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise OptionError(f"there is no optimizer `{name}`{hint}; the optimizers are "
                          f"{', '.join(optimizer_names())}.") from None


def make_optimizer(name: str, setup: OptimizerSetup) -> torch.optim.Optimizer:
    """Build the optimizer ``name`` for ``setup``; an unknown option is an :class:`~symop.errors.OptionError`."""
    spec = get_optimizer(name)
    try:
        return spec.make(setup)
    except TypeError as err:
        raise OptionError(f"the optimizer `{name}` does not take the options {dict(setup.options)} ({err}).") from None


def _adam(setup: OptimizerSetup) -> torch.optim.Optimizer:
    """torch's Adam; its fused implementation (one pass over each parameter, no temporaries) wherever every
    parameter is a floating-point tensor on the CPU or a CUDA device and the options name none of ``fused``,
    ``foreach`` and ``differentiable``.  On the CPU torch's default is a loop of element-wise operations per
    tensor, some of which allocate a temporary as large as the parameter: on a ``(128, 10^4)`` weight, one
    thread, a step took 5.3 ms, the fused step 0.44 ms (the first layer of a PINN in 10^4 dimensions;
    benchmarks/RESULTS.md, pinn).  The fused step computes the same update; it differs from the loop by
    rounding only."""
    import torch

    # parameter groups keep their tensors in lists, so that checking them here does not use up an iterator
    params = [dict(p, params=[p["params"]] if isinstance(p["params"], torch.Tensor) else list(p["params"]))
              if isinstance(p, dict) else p for p in setup.params]
    options = dict(setup.options)
    if not {"fused", "foreach", "differentiable"} & set(options) and _fusable(params):
        options["fused"] = True
    return torch.optim.Adam(params, lr=setup.lr, **options)


def _fusable(params: Sequence[Any]) -> bool:
    """Whether torch's fused optimizer kernels take every tensor of ``params`` (tensors, or parameter groups
    holding lists of them): floating point, on the CPU or a CUDA device."""
    tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
    return bool(tensors) and all(t.is_floating_point() and t.device.type in ("cpu", "cuda") for t in tensors)


#: L-BFGS as symop uses it: a long history, tight tolerances and a strong-Wolfe line search
LBFGS_DEFAULTS: Mapping[str, Any] = {"max_iter": 20, "history_size": 50, "tolerance_grad": 1e-12,
                                     "tolerance_change": 1e-15, "line_search_fn": "strong_wolfe"}


def _lbfgs(setup: OptimizerSetup) -> torch.optim.Optimizer:
    import torch

    return torch.optim.LBFGS(setup.params, lr=setup.lr, **{**LBFGS_DEFAULTS, **setup.options})


def _engd(setup: OptimizerSetup) -> torch.optim.Optimizer:
    from .curvature import ENGD

    return ENGD(setup.params, lr=setup.lr, **setup.options)


def _soap(setup: OptimizerSetup) -> torch.optim.Optimizer:
    try:
        from pytorch_optimizer import SOAP
    except ImportError:
        raise OptionError("the optimizer `soap` comes from the package pytorch-optimizer, which is not installed; "
                          "install it with `pip install 'symop[soap]'`, or use adam.") from None
    return SOAP(setup.params, lr=setup.lr, **{**SOAP_DEFAULTS, **setup.options})


#: SOAP as symop uses it for PINNs: no weight decay (the library's default decays the weights)
SOAP_DEFAULTS: Mapping[str, Any] = {"weight_decay": 0.0}


def _kfac(setup: OptimizerSetup) -> torch.optim.Optimizer:
    from .curvature import KFAC

    return KFAC(setup.params, lr=setup.lr, **setup.options)


register_optimizer(OptimizerSpec("adam", _adam, description="Adam (options: betas, eps, weight_decay)",
                                 cost="one gradient of the loss"))
register_optimizer(OptimizerSpec(
    "lbfgs", _lbfgs, closure=True,
    description="L-BFGS with a strong-Wolfe line search; one step runs up to `max_iter` iterations on one batch",
    cost="up to max_iter (20) iterations, each one to a few loss gradients"))
register_optimizer(OptimizerSpec(
    "soap", _soap,
    description="SOAP (Adam in the eigenbasis of Shampoo's preconditioner; from pytorch-optimizer, the `soap` extra; "
                "options: betas, precondition_frequency, weight_decay)",
    cost="one gradient, plus an eigendecomposition of each layer's two Kronecker factors every "
         "precondition_frequency (10) steps"))
register_optimizer(OptimizerSpec(
    "engd", _engd, residuals=True,
    description="energy natural gradient: damped Gauss-Newton on the residuals of every term, with a line search "
                "(options: damping, solver, line_search, grid, momentum, adapt)",
    cost="the Jacobian of all M residuals (M x P numbers; one reverse pass per term for symop's MLP, per point "
         "otherwise), one solve of size min(M, P) (cubic), and up to `grid` loss evaluations"))


SCHEDULES = ("constant", "exponential", "cosine")


@dataclass(frozen=True)
class Schedule:
    r"""The learning rate's factor over the :math:`n` steps of a phase, at its step :math:`k`.

    * ``constant``: 1;
    * ``exponential``: :math:`f^{k/n}`, from 1 to ``final`` :math:`= f`;
    * ``cosine``: :math:`f + \frac{1-f}{2}\bigl(1 + \cos(\pi \min(k, n)/n)\bigr)`, from 1 to ``final``.
    """

    kind: str = "constant"
    final: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise OptionError(f"there is no learning-rate schedule `{self.kind}`; the schedules are "
                              f"{', '.join(SCHEDULES)}.")

    def factor(self, k: int, steps: int) -> float:
        """The factor at step ``k`` of ``steps``."""
        n = max(int(steps), 1)
        if self.kind == "exponential":
            return self.final ** (k / n)
        if self.kind == "cosine":
            return self.final + (1 - self.final) / 2 * (1 + math.cos(math.pi * min(k, n) / n))
        return 1.0
register_optimizer(OptimizerSpec(
    "kfac", _kfac, residuals=True,
    description="KFAC for PINNs: Gauss-Newton with each layer's block as a sum of two Kronecker products (interior; "
                "boundary and initial), from Taylor-mode jets, the step and momentum minimising the Gauss-Newton "
                "model (options: damping, ema, update, step, line_search, grid, momentum, adapt)",
    cost="one Taylor-mode pass with a reverse pass per term (residuals, gradient, factors and Jacobian products "
         "together), eigendecompositions of (width+1)-square factors every `update` (1) steps, and one loss "
         "evaluation (more when the step is halved)"))
