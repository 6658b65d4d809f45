"""The domain kinds the equation language knows, by name.

A kind is how a ``domain`` line names a shape (``disk(center: (0, 0),
radius: 1)``): its name, the arguments it takes (:class:`Argument`, the
schema the language builder reads them by), how its sides are named, and a
``build`` function from the argument values to a :class:`~.base.Domain`.
Each built-in domain module registers its kind when it is imported; a
plugin returns its kinds from the ``symop_domains`` hook instead (see
:mod:`symop.plugins`), and the language builder looks at both.  Either way a
new domain is one module that defines the class and its kind.

Argument types:

* ``"intervals"``: one ``name: [lo, hi]`` per coordinate (``box``); ``build``
  gets ``axes``, a list of ``(name, lo, hi)`` in the order of the ``space`` line;
* ``"points"``: positional points (``polygon``); ``build`` gets the list of
  tuples under the argument's name;
* ``"positive"``, ``"number"``, ``"count"`` (a whole number >= 1) and
  ``"point"``: named arguments, each given to ``build`` under its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from symop.errors import DomainError

if TYPE_CHECKING:  # pragma: no cover
    from symop.model.domains.base import Domain

__all__ = ["Argument", "ArgumentError", "DomainKind", "SPACE_DIMENSION", "register", "unregister", "get", "kinds",
           "names"]

#: an :attr:`Argument.default` (or point dimension) meaning "the number of coordinates of the ``space`` line"
SPACE_DIMENSION = "space dimension"

ARGUMENT_TYPES = ("intervals", "points", "positive", "number", "count", "point")


class ArgumentError(DomainError):
    """The arguments of a domain call do not fit its kind; reported at the call."""


@dataclass(frozen=True)
class Argument:
    """One argument of a domain kind.

    ``what`` names it in messages (``"the radius"``); ``dimension`` is the
    number of coordinates of a point (an int, the name of a ``count``
    argument, or :data:`SPACE_DIMENSION`); ``minimum`` the least number of
    ``points``.  A named argument without ``required`` takes ``default``
    (:data:`SPACE_DIMENSION` for the space's dimension).
    """

    name: str
    type: str
    what: str = ""
    required: bool = False
    default: Any = None
    dimension: int | str | None = None
    minimum: int = 0

    def __post_init__(self) -> None:
        if self.type not in ARGUMENT_TYPES:
            raise DomainError(f"unknown domain argument type `{self.type}`; the types are " + ", ".join(ARGUMENT_TYPES))


@dataclass(frozen=True)
class DomainKind:
    """A shape the language can name: ``name(arguments)`` builds a domain through ``build``.

    ``sides`` says how the sides are named (for documentation and messages),
    ``example`` is one valid call.
    """

    name: str
    build: Callable[[Mapping[str, Any]], "Domain"]
    arguments: tuple[Argument, ...]
    sides: str
    example: str

    def __post_init__(self) -> None:
        whole = [a for a in self.arguments if a.type in ("intervals", "points")]
        if whole and len(self.arguments) != 1:
            raise DomainError(f"the domain kind `{self.name}`: an `{whole[0].type}` argument must be its only one")

    @property
    def form(self) -> str:
        """``"intervals"``, ``"points"`` or ``"keywords"``: how the call's arguments are written."""
        if len(self.arguments) == 1 and self.arguments[0].type in ("intervals", "points"):
            return self.arguments[0].type
        return "keywords"


_KINDS: dict[str, DomainKind] = {}


def register(kind: DomainKind) -> DomainKind:
    """Make ``kind`` known to the language under its name; registering a taken name is an error."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise DomainError(f"the domain kind `{kind.name}` is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Forget the domain kind ``name`` (a test's or a plugin's); unknown names are ignored."""
    _KINDS.pop(name, None)


def get(name: str) -> DomainKind | None:
    """The kind registered under ``name``, or ``None``."""
    return _KINDS.get(name)


def kinds() -> dict[str, DomainKind]:
    """Every registered kind by name, in registration order."""
    return dict(_KINDS)


def names() -> tuple[str, ...]:
    """The names of the registered kinds, in registration order."""
    return tuple(_KINDS)
