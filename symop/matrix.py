"""The conformance matrix: every registered method against every problem class.

A cell holds what a method says of a class of :mod:`symop.catalogue` before
doing any work: ``None`` when it accepts it, else its reason (a sentence).
``symop plugins --matrix`` prints it; the README's method matrix is
:func:`markdown` of it, and a test keeps the two equal.  The test suite
solves every accepted cell of symop's own methods (see
``tests/test_matrix.py``), so a ✓ there is a claim that is checked, not only a
declaration.  Methods of other installed packages are asked too; their ✓ means
only that their ``accepts`` returned None, and the printed matrix says so.  A
method whose ``accepts`` fails on a class gets an error cell (``!k``) with the
sentence that names it, and the other cells are still asked.
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
    #: asking failed: ``reason`` is the sentence that says how (the method's ``accepts`` raised)
    failed: bool = False

    @property
    def accepted(self) -> bool:
        return self.reason is None and not self.failed


@dataclass(frozen=True)
class Matrix:
    """Cells by method and class, with the methods and classes in display order."""

    methods: tuple[str, ...]
    classes: tuple[ProblemClass, ...]
    cells: dict[tuple[str, str], Cell]
    #: the methods of other installed packages (their ✓ is their own claim, not checked by symop's tests)
    third_party: tuple[str, ...] = ()

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
        def value(cell: Cell) -> str:
            return f"error: {cell.reason}" if cell.failed else cell.reason or "ok"

        return {"methods": list(self.methods), "third_party": list(self.third_party),
                "classes": {c.name: {"covers": c.covers,
                                     "cells": {m: value(self.cells[(m, c.name)]) for m in self.methods}}
                            for c in self.classes}}


def _sentence(reason: str) -> str:
    reason = reason.strip()
    return reason if reason.endswith((".", "?", "!")) else reason + "."


def build(methods: Iterable[str] | None = None, classes: Sequence[ProblemClass] = CLASSES) -> Matrix:
    """Ask every method's ``accepts`` about every class (nothing is solved); a method that fails to answer gets
    an error cell.  A method named in ``methods`` that is not installed raises the sentence that says so."""
    from symop.plugins import PluginError, catalogue, get_discretization

    found = catalogue()
    names = tuple(sorted(found.methods) if methods is None else methods)
    for m in names:
        if m not in found.methods:
            get_discretization(m)  # raises: no such method, or the reason it was left out
    cells = {}
    for c in classes:
        problem = c.problem()
        for m in names:
            try:
                cells[(m, c.name)] = Cell(m, c.name, found.refusal(m, problem))
            except PluginError as err:
                cells[(m, c.name)] = Cell(m, c.name, str(err), failed=True)
    third = tuple(m for m in names if m in found.origins and not found.origins[m].builtin)
    return Matrix(names, tuple(classes), cells, third)


def _marks(matrix: Matrix) -> tuple[list[str], dict[tuple[str, str], str]]:
    notes = matrix.reasons()
    index = {r: k + 1 for k, r in enumerate(notes)}
    marks = {}
    for (m, c), cell in matrix.cells.items():
        marks[(m, c)] = "✓" if cell.accepted else f"{'!' if cell.failed else '✗'}{index[_sentence(cell.reason)]}"
    return notes, marks


def _failed(matrix: Matrix) -> bool:
    return any(cell.failed for cell in matrix.cells.values())


def markdown(matrix: Matrix) -> str:
    """The matrix as a Markdown table (✓ accepted, ✗k refused for numbered reason k, !k asking failed) with its
    notes; another package's method is marked † in the header, with a line on what its ✓ means."""
    notes, marks = _marks(matrix)
    heads = [f"`{m}`" + ("†" if m in matrix.third_party else "") for m in matrix.methods]
    lines = ["| problem class | covers | " + " | ".join(heads) + " |",
             "|---|---|" + "---|" * len(matrix.methods)]
    for c in matrix.classes:
        lines.append(f"| `{c.name}` | {c.covers} | " + " | ".join(marks[(m, c.name)] for m in matrix.methods) + " |")
    lines.append("")
    lines += [f"{k}. {r}" for k, r in enumerate(notes, 1)]
    if matrix.third_party or _failed(matrix):
        lines.append("")
    if matrix.third_party:
        lines.append("† a method of another installed package: its ✓ means only that its `accepts` returned None; "
                     "symop's test suite solves the ✓ cells of symop's own methods.")
    if _failed(matrix):
        lines.append("!k: asking the method failed, as note k says.")
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
    if matrix.third_party:
        accepted = ("✓ accepted (the test suite solves it for symop's own methods; for "
                    + ", ".join(matrix.third_party) + ", of other packages, ✓ means only that accepts returned None)")
    else:
        accepted = "✓ accepted (the test suite solves it)"
    failed = ", !k failed to answer" if _failed(matrix) else ""
    lines += [""] + textwrap.wrap(f"{accepted}; ✗k refused up front{failed}, because:", width)
    for k, r in enumerate(notes, 1):
        lines += textwrap.wrap(r, width, initial_indent=f"{k:>3}. ", subsequent_indent="     ")
    covers = "What each class covers: " + "; ".join(f"{c.name}: {c.covers}" for c in matrix.classes)
    lines += [""] + textwrap.wrap(covers, width)
    return "\n".join(lines) + "\n"
