"""The conformance matrix: every registered method against every problem class.

A cell holds what a method says of a class of :mod:`symop.catalogue` before
doing any work: ``None`` when it accepts it, else its reason (a sentence).
``symop plugins --matrix`` prints it; the README's method matrix is
:func:`markdown` of it, and a test keeps the two equal.  The test suite
solves every accepted cell (see ``tests/test_matrix.py``), so a ✓ here is a
claim that is checked, not only a declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from symop.catalogue import CLASSES, ProblemClass


@dataclass(frozen=True)
class Cell:
    """What ``method`` says of the problem class ``problem``: ``reason`` None means it accepts it."""

    method: str
    problem: str
    reason: str | None

    @property
    def accepted(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Matrix:
    """Cells by method and class, with the methods and classes in display order."""

    methods: tuple[str, ...]
    classes: tuple[ProblemClass, ...]
    cells: dict[tuple[str, str], Cell]

    def cell(self, method: str, problem: str) -> Cell:
        return self.cells[(method, problem)]

    def reasons(self) -> list[str]:
        """The distinct refusal reasons, in order of first appearance (row by row)."""
        out: dict[str, None] = {}
        for c in self.classes:
            for m in self.methods:
                r = self.cells[(m, c.name)].reason
                if r is not None:
                    out.setdefault(_sentence(r))
        return list(out)

    def to_json(self) -> dict:
        """The matrix as plain data: ``{class: {method: "ok" | reason}}`` plus what each class covers."""
        return {"methods": list(self.methods),
                "classes": {c.name: {"covers": c.covers,
                                     "cells": {m: self.cells[(m, c.name)].reason or "ok" for m in self.methods}}
                            for c in self.classes}}


def _sentence(reason: str) -> str:
    reason = reason.strip()
    return reason if reason.endswith((".", "?", "!")) else reason + "."


def build(methods: Iterable[str] | None = None, classes: Sequence[ProblemClass] = CLASSES) -> Matrix:
    """Ask every method's ``accepts`` about every class (nothing is solved)."""
    from symop.plugins import discretizations

    found = discretizations()
    names = tuple(sorted(found) if methods is None else methods)
    cells = {}
    for c in classes:
        problem = c.problem()
        for m in names:
            cells[(m, c.name)] = Cell(m, c.name, found[m].accepts(problem))
    return Matrix(names, tuple(classes), cells)


def _marks(matrix: Matrix) -> tuple[list[str], dict[tuple[str, str], str]]:
    notes = matrix.reasons()
    index = {r: k + 1 for k, r in enumerate(notes)}
    marks = {}
    for (m, c), cell in matrix.cells.items():
        marks[(m, c)] = "✓" if cell.accepted else f"✗{index[_sentence(cell.reason)]}"
    return notes, marks


def markdown(matrix: Matrix) -> str:
    """The matrix as a Markdown table (✓ accepted, ✗k refused for numbered reason k) with its notes."""
    notes, marks = _marks(matrix)
    lines = ["| problem class | covers | " + " | ".join(f"`{m}`" for m in matrix.methods) + " |",
             "|---|---|" + "---|" * len(matrix.methods)]
    for c in matrix.classes:
        lines.append(f"| `{c.name}` | {c.covers} | " + " | ".join(marks[(m, c.name)] for m in matrix.methods) + " |")
    lines.append("")
    lines += [f"{k}. {r}" for k, r in enumerate(notes, 1)]
    return "\n".join(lines) + "\n"


def text(matrix: Matrix, width: int = 80) -> str:
    """The matrix as plain text for a terminal: one row per class, numbered reasons below."""
    import textwrap

    notes, marks = _marks(matrix)
    first = max(len(c.name) for c in matrix.classes) + 2
    cols = [max(len(m), 4) + 2 for m in matrix.methods]
    head = "class".ljust(first) + "".join(m.ljust(w) for m, w in zip(matrix.methods, cols))
    lines = [head.rstrip(), "-" * len(head.rstrip())]
    for c in matrix.classes:
        row = c.name.ljust(first) + "".join(marks[(m, c.name)].ljust(w) for m, w in zip(matrix.methods, cols))
        lines.append(row.rstrip())
    lines += ["", "✓ accepted (the test suite solves it); ✗k refused up front, because:"]
    for k, r in enumerate(notes, 1):
        lines += textwrap.wrap(r, width, initial_indent=f"{k:>3}. ", subsequent_indent="     ")
    covers = "What each class covers: " + "; ".join(f"{c.name}: {c.covers}" for c in matrix.classes)
    lines += [""] + textwrap.wrap(covers, width)
    return "\n".join(lines) + "\n"
