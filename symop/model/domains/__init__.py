"""Geometric domains: where a problem lives and what its boundary parts are.

One module per kind, each knowing everything about itself (sampling, numeric
and symbolic outward normals, its mesh, its text in the language, its bounding
box, membership):

* :mod:`~symop.model.domains.base`: the :class:`Domain` interface and shared helpers;
* :mod:`~symop.model.domains.box`: :class:`Box` and :class:`Interval`;
* :mod:`~symop.model.domains.disk`: :class:`Disk`;
* :mod:`~symop.model.domains.ball`: :class:`Ball`;
* :mod:`~symop.model.domains.polygon`: :class:`Polygon`;
* :mod:`~symop.model.domains.difference`: :class:`Difference` (``minus``);
* :mod:`~symop.model.domains.registry`: the kinds the language names
  (``box``, ``disk``, ...), with their argument schemas.

A new kind is one module that defines a :class:`Domain` subclass and
registers a :class:`~symop.model.domains.registry.DomainKind` for it.
"""

from __future__ import annotations

from symop.errors import DomainError
from symop.model.domains.base import ALL, Domain, _split
from symop.model.domains.box import Box, Interval
from symop.model.domains.disk import Disk
from symop.model.domains.polygon import Polygon
from symop.model.domains.ball import Ball
from symop.model.domains.difference import Difference
from symop.model.domains.registry import Argument, ArgumentError, DomainKind, register, unregister

__all__ = [
    "ALL",
    "Domain",
    "DomainError",
    "Box",
    "Interval",
    "Disk",
    "Polygon",
    "Difference",
    "Ball",
    "Argument",
    "ArgumentError",
    "DomainKind",
    "register",
    "unregister",
    "_split",
]
