"""The registry of time schemes: name -> kind, order, factory.

Every time-dependent method takes its ``scheme`` option's choices from here
and builds its stepper with :func:`make_stepper`, so a new scheme is one
:func:`register_scheme` call.  A method hands over the pieces of

    M u' = L u + s(t) + N(t, u)

that a stepper may use, and each kind of scheme has its factory:

* ``"explicit"``: ``factory(rhs)`` with ``rhs(t, u)`` the whole right-hand
  side M^{-1} (L u + s(t) + N(t, u));
* ``"implicit"``: ``factory(linear, source)`` for the linear problem
  M u' = L u + s(t) (a :class:`~symop.integrate.linear.LinearPart` and s);
  when N is present the scheme's ``imex`` partner of the same order takes over;
* ``"imex"``: ``factory(linear, explicit, source)``: L and s implicit, N explicit.

Operator splitting (``split`` ``"lie"`` or ``"strang"``) combines an implicit
sub-flow on (L, s) with an explicit sub-flow on a reaction right-hand side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from .explicit import EXPLICIT_METHODS, RHS, ExplicitRK, IntegratorError, Stepper
from .implicit import IMEX, IMEX_METHODS, THETA_NAMES, THETA_SCHEMES, Nonlinear, Source, ThetaMethod
from .splitting import LieSplitting, StrangSplitting

if TYPE_CHECKING:  # pragma: no cover - the registry is read without torch (`symop plugins`)
    from .linear import LinearPart

#: the kinds of scheme, in the order their names are offered
KINDS = ("explicit", "implicit", "imex")
#: operator splittings: none, Lie–Trotter (order 1), Strang (order 2)
SPLITS = ("none", "lie", "strang")
_SPLITTINGS = {"lie": LieSplitting, "strang": StrangSplitting}


@dataclass(frozen=True)
class Scheme:
    """One time scheme: how users spell it, its kind, its order and how to build it.

    ``theta`` is set for theta methods (backward Euler 1, Crank–Nicolson 1/2),
    ``imex`` names, for an implicit scheme, the IMEX scheme of the same order
    used when the problem has explicit (nonlinear) terms.  ``stability`` is,
    for an explicit scheme, the length of its stability interval on the
    negative real axis and on the imaginary axis (``|R(z)| <= 1`` there).
    """

    name: str
    kind: str
    order: int
    factory: Callable[..., Stepper]
    help: str = ""
    theta: float | None = None
    imex: str | None = None
    stability: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise IntegratorError(f"the scheme `{self.name}` has the kind `{self.kind}`; "
                                  f"the kinds are {', '.join(KINDS)}")


_REGISTRY: dict[str, Scheme] = {}


def register_scheme(scheme: Scheme, *, replace: bool = False) -> Scheme:
    """Add ``scheme`` to the registry (``replace`` allows a name already there)."""
    if scheme.name in _REGISTRY and not replace:
        raise IntegratorError(f"a time scheme named `{scheme.name}` is already registered")
    _REGISTRY[scheme.name] = scheme
    return scheme


def unregister_scheme(name: str) -> None:
    """Remove the scheme called ``name`` (nothing happens when there is none)."""
    _REGISTRY.pop(name, None)


def schemes(kinds: str | Iterable[str] | None = None) -> tuple[Scheme, ...]:
    """The registered schemes (of the given kind or kinds), in registration order."""
    if kinds is None:
        return tuple(_REGISTRY.values())
    wanted = {kinds} if isinstance(kinds, str) else set(kinds)
    return tuple(s for s in _REGISTRY.values() if s.kind in wanted)


def scheme_names(kinds: str | Iterable[str] | None = None) -> tuple[str, ...]:
    """The names of :func:`schemes` ``(kinds)``: the choices of a ``scheme`` option."""
    return tuple(s.name for s in schemes(kinds))


def get_scheme(name: str) -> Scheme:
    """The scheme called ``name``; :class:`IntegratorError` listing the choices otherwise."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise IntegratorError(f"unknown time scheme `{name}`; choose one of: {', '.join(_REGISTRY)}")
    return _REGISTRY[key]


def split_order(split: str, *orders: int) -> int:
    """The order of ``split`` over sub-flows of the given orders: none min(p_i),
    Lie min(1, p_i), Strang min(2, p_i)."""
    if split not in SPLITS:
        raise IntegratorError(f"unknown splitting `{split}`; choose one of: {', '.join(SPLITS)}")
    cap = [] if split == "none" else [_SPLITTINGS[split].split_order]
    return min([*cap, *orders])


def make_stepper(scheme: str, split: str = "none", *, rhs: RHS | None = None, linear: LinearPart | None = None,
                 source: Source | None = None, explicit: Nonlinear | None = None, reaction: RHS | None = None,
                 reaction_scheme: str = "rk4") -> Stepper:
    """The stepper of ``scheme`` for M u' = L u + s(t) + N(t, u).

    With ``split`` "none", by the kind of ``scheme``: an explicit scheme steps
    ``rhs``; an implicit one steps (``linear``, ``source``) when ``explicit``
    (N) is None and hands over to its IMEX partner otherwise; an IMEX scheme
    steps (``linear``, ``explicit``, ``source``).

    With ``split`` "lie" or "strang": phi_A is the implicit ``scheme`` on
    (``linear``, ``source``), phi_B the explicit ``reaction_scheme`` on
    ``reaction``; Lie is phi_B(dt) phi_A(dt), Strang phi_A(dt/2) phi_B(dt) phi_A(dt/2).
    """
    entry = get_scheme(scheme)
    if split not in SPLITS:
        raise IntegratorError(f"unknown splitting `{split}`; choose one of: {', '.join(SPLITS)}")
    if split != "none":
        if entry.kind != "implicit":
            raise IntegratorError(f"the {split} splitting needs an implicit scheme for the linear part, "
                                  f"not the {entry.kind} `{entry.name}`")
        sub = get_scheme(reaction_scheme)
        if sub.kind != "explicit":
            raise IntegratorError(f"the reaction sub-step of a splitting needs an explicit scheme, "
                                  f"not the {sub.kind} `{sub.name}`")
        return _SPLITTINGS[split](_need(entry.factory, entry, linear=linear)(linear, source),
                                  _need(sub.factory, sub, rhs=reaction)(reaction))
    if entry.kind == "explicit":
        return _need(entry.factory, entry, rhs=rhs)(rhs)
    if entry.kind == "implicit" and explicit is None:
        return _need(entry.factory, entry, linear=linear)(linear, source)
    if entry.kind == "implicit":
        if entry.imex is None:
            raise IntegratorError(f"the implicit scheme `{entry.name}` has no IMEX partner for the explicit "
                                  "(nonlinear) terms; choose one of: " + ", ".join(scheme_names("imex")))
        entry = get_scheme(entry.imex)
    return _need(entry.factory, entry, linear=linear, explicit=explicit)(linear, explicit, source)


def _need(factory: Callable[..., Stepper], entry: Scheme, **pieces) -> Callable[..., Stepper]:
    missing = [k for k, v in pieces.items() if v is None]
    if missing:
        raise IntegratorError(f"the {entry.kind} scheme `{entry.name}` needs " + " and ".join(missing))
    return factory


# ------------------------------------------------------------------ built-in schemes
#: stability intervals (negative real axis, imaginary axis) of the explicit tableaux
_STABILITY = {"euler": (2.0, 0.0), "heun": (2.0, 0.0), "ssprk3": (2.51, 1.73), "rk4": (2.78, 2.83)}
_HELP = {"euler": "forward Euler", "heun": "Heun's method (explicit trapezoid)",
         "ssprk3": "strong-stability-preserving Runge–Kutta (Shu–Osher)", "rk4": "classical Runge–Kutta",
         "backward-euler": "theta method, theta = 1 (L-stable)", "crank-nicolson": "theta method, theta = 1/2",
         "imex-euler": "implicit-explicit Euler", "ars222": "implicit-explicit Runge–Kutta ARS(2,2,2)"}
#: the IMEX scheme of each theta scheme, by order
_IMEX_OF_ORDER = {order: name for name, order in IMEX_METHODS.items()}


def _explicit_factory(name: str) -> Callable[[RHS], Stepper]:
    return lambda rhs: ExplicitRK(rhs, name)


def _theta_factory(theta: float) -> Callable[[LinearPart, Source | None], Stepper]:
    return lambda linear, source: ThetaMethod(linear, source, theta=theta)


def _imex_factory(name: str) -> Callable[[LinearPart, Nonlinear, Source | None], Stepper]:
    return lambda linear, explicit, source: IMEX(linear, explicit, name, source=source)


for _name, _tab in EXPLICIT_METHODS.items():
    if _name == _tab.name:  # aliases such as rk2 = heun are not offered twice
        register_scheme(Scheme(_name, "explicit", _tab.order, _explicit_factory(_name), _HELP.get(_name, ""),
                               stability=_STABILITY.get(_name)))
for _name, _theta in THETA_SCHEMES.items():
    _order = THETA_NAMES[_theta][1]
    register_scheme(Scheme(_name, "implicit", _order, _theta_factory(_theta), _HELP.get(_name, ""), theta=_theta,
                           imex=_IMEX_OF_ORDER.get(_order)))
for _name, _order in IMEX_METHODS.items():
    register_scheme(Scheme(_name, "imex", _order, _imex_factory(_name), _HELP.get(_name, "")))
