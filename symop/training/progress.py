"""A rich progress bar for training loops, shown on rank 0 only."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator


@contextmanager
def progress_bar(label: str, total: int, enabled: bool = True, completed: int = 0,
                 **fields: Any) -> Iterator[Callable[..., None]]:
    """A rich progress bar; yields ``update(completed, **fields)``.

    ``fields`` name live values shown after the bar: a number (e.g.
    ``loss=float('nan')``) is printed with 3 significant digits after its
    name, a string (e.g. the loss terms, already formatted) as it is.
    Disabled, it yields a function that does nothing, so training loops call
    it unconditionally.
    """
    if not enabled:
        yield lambda *args, **kw: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn(f"[bold]{label}[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}")]
    columns += [TextColumn(f"{{task.fields[{name}]}}" if isinstance(value, str)
                           else f"{name} {{task.fields[{name}]:.3e}}", markup=False)
                for name, value in fields.items()]
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    bar = Progress(*columns, transient=False)
    task = bar.add_task(label, total=total, completed=completed, **fields)

    def update(done: int, **values: Any) -> None:
        bar.update(task, completed=done, **values)

    with bar:
        yield update
