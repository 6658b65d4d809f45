"""Packages whose public names are imported from their submodules on first use (PEP 562).

A package that declares where each public name lives, ::

    __getattr__, __dir__ = exports(__name__, {"driver": ("integrate", "Trajectory"), ...})

can be imported, and its light names read, without importing the heavy
submodules (torch): ``symop plugins`` reads every method's option choices
this way.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable, Iterable, Mapping


def exports(package: str, homes: Mapping[str, Iterable[str]],
            submodules: Iterable[str] = ()) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package``.

    ``homes`` maps a submodule to the public names it defines. The first use of
    one of them imports that submodule and binds all its names in the package
    (so a function named like its submodule, e.g. ``schemes``, wins over the
    module the import machinery binds); a submodule named in ``homes`` or in
    ``submodules`` is returned itself when asked for by name.
    """
    names = {module: tuple(values) for module, values in homes.items()}
    home_of = {name: module for module, values in names.items() for name in values}
    modules = set(names) | set(submodules)

    def __getattr__(name: str) -> Any:
        namespace = vars(sys.modules[package])
        module = home_of.get(name)
        if module is None and name in modules:
            return import_module(f"{package}.{name}")
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        loaded = import_module(f"{package}.{module}")
        namespace.update({other: getattr(loaded, other) for other in names[module]})
        return namespace[name]

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(home_of) | modules)

    return __getattr__, __dir__
