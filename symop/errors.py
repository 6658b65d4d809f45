"""Errors that symop shows to its users.

Every exception a user can provoke derives from :class:`SymopError` and reads
as a sentence.  Errors about an equation file carry a :class:`Position` and
render like a compiler's::

    heat.pde:12:20: error: unknown operator `lapl`
       12 | equation dt(u) = kappa*lapl(u) + f
          |                        ^^^^
      hint: did you mean `lap`?

Semantic errors are collected and reported together (:class:`SourceErrors`),
sorted by position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


#: How much of a long source line an error shows, and how many errors a report shows.
SHOWN_LINE = 120
SHOWN_ERRORS = 20


class SymopError(Exception):
    """Base class of every error symop reports to a user."""


class OptionError(SymopError):
    """A method option has an unknown name or a value of the wrong type; ``option`` names the option at fault
    where the error knows it (for a caller that points at where it was given)."""

    def __init__(self, message: str = "", option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class MethodError(SymopError):
    """A discretization is unknown or refuses the problem it was given."""


class SolveError(SymopError):
    """A numerical run failed (blow-up, solver divergence, ...)."""


class DomainError(SymopError):
    """A domain was described with impossible data, or asked about an unknown part."""


@dataclass(frozen=True)
class Position:
    """A place in a source text: 1-based line and column, optional length."""

    line: int
    column: int
    length: int = 1
    end_line: int | None = None


@dataclass
class Source:
    """The text of an equation file and the name it is reported under."""

    text: str
    filename: str = "<string>"

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        if 1 <= number <= len(lines):
            return lines[number - 1]
        return ""


class SourceError(SymopError):
    """An error at a position of an equation file.

    ``str(error)`` gives the full rendering with file, line, column, the
    source line, a caret underline and the hint.
    """

    def __init__(
        self,
        message: str,
        position: Position | None = None,
        hint: str | None = None,
        source: Source | None = None,
    ) -> None:
        self.message = message
        self.position = position
        self.hint = hint
        self.source = source
        super().__init__(self.render())

    @property
    def filename(self) -> str:
        return self.source.filename if self.source else "<string>"

    @property
    def line(self) -> int | None:
        return self.position.line if self.position else None

    @property
    def column(self) -> int | None:
        return self.position.column if self.position else None

    def with_source(self, source: Source) -> "SourceError":
        """The same error, attached to ``source`` for rendering."""
        return SourceError(self.message, self.position, self.hint, source)

    def render(self) -> str:
        """The error as ``file:line:col: error: message``, the line, a caret, a hint."""
        if self.position is None:
            head = f"{self.filename}: error: {self.message}"
            return head + (f"\n  hint: {self.hint}" if self.hint else "")
        pos = self.position
        head = f"{self.filename}:{pos.line}:{pos.column}: error: {self.message}"
        out = [head]
        if self.source is not None:
            text = self.source.line(pos.line).replace("\t", " ")
            column = pos.column
            if len(text) > SHOWN_LINE:  # a window of a long line around the column, marked with …
                start = max(0, min(column - 1 - SHOWN_LINE // 2, len(text) - SHOWN_LINE))
                text = ("…" if start else "") + text[start:start + SHOWN_LINE] + ("…" if start + SHOWN_LINE < len(text) else "")
                column = column - start + (1 if start else 0)
            gutter = f"{pos.line:>5} | "
            out.append(gutter + text)
            width = max(1, min(pos.length, max(1, len(text) - column + 1)))
            out.append(" " * (len(gutter) - 2) + "| " + " " * (column - 1) + "^" * width)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


class SourceErrors(SymopError):
    """Several :class:`SourceError` found together, sorted by position (the first 20 shown)."""

    def __init__(self, errors: Iterable[SourceError]) -> None:
        def key(e: SourceError) -> tuple[int, int]:
            return (e.line or 0, e.column or 0)

        self.errors: list[SourceError] = sorted(errors, key=key)
        count = len(self.errors)
        summary = f"{count} error{'s' if count != 1 else ''} found"
        if count > SHOWN_ERRORS:
            summary += f"; the first {SHOWN_ERRORS} are shown"
        shown = self.errors[:SHOWN_ERRORS]
        super().__init__("\n\n".join(e.render() for e in shown) + f"\n\n{summary}.")

    def __iter__(self):
        return iter(self.errors)

    def __len__(self) -> int:
        return len(self.errors)


@dataclass
class ErrorCollector:
    """Collects source errors during a pass and raises them together."""

    source: Source
    errors: list[SourceError] = field(default_factory=list)

    def add(self, message: str, position: Position | None = None, hint: str | None = None) -> None:
        self.errors.append(SourceError(message, position, hint, self.source))

    def extend(self, errors: Iterable[SourceError]) -> None:
        for e in errors:
            self.errors.append(e.with_source(self.source) if e.source is None else e)

    def raise_if_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise SourceErrors(self.errors)
