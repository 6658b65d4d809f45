"""Compiling generated source once, with tracebacks that show it.

The source text is the cache key: two :func:`symop.codegen.generate` calls that
print the same source share one compiled function.  Each source is registered
in :mod:`linecache` under a pseudo file name, so a traceback through generated
code shows the generated lines.
"""

from __future__ import annotations

import hashlib
import linecache
import math
from typing import Any, Callable

import torch

import symop.codegen.generated  # noqa: F401  (the __module__ of generated functions)

#: source text → compiled function, shared by every generate call.
_CACHE: dict[str, Callable[..., Any]] = {}


def source_filename(source: str) -> str:
    """The pseudo file name a generated source is compiled and registered under."""
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]
    return f"<symop-codegen-{digest}>"


def _register(source: str, filename: str) -> None:
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def compile_function(source: str, name: str) -> Callable[..., Any]:
    """The function ``name`` defined by ``source``, compiled once per distinct source.

    The source runs in a fresh namespace holding ``torch`` and ``math``.
    """
    filename = source_filename(source)
    _register(source, filename)  # again on a hit: linecache.clearcache() may have run
    fn = _CACHE.get(source)
    if fn is None:
        namespace: dict[str, Any] = {"torch": torch, "math": math, "__name__": "symop.codegen.generated"}
        exec(compile(source, filename, "exec"), namespace)
        fn = namespace[name]
        _CACHE[source] = fn
    return fn


def clear_cache() -> None:
    """Forget every compiled function (the next generate call compiles again)."""
    _CACHE.clear()


def cache_size() -> int:
    """How many distinct sources are compiled and cached."""
    return len(_CACHE)
