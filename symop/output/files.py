"""Where results go: output folders checked before a run, bounded file names, and
writers that keep going when one file fails.

A result must not be lost to a bad ``-o``: :func:`prepare_directory` creates
the folder and proves that a file can be written there *before* the solve
starts; :func:`file_stem` turns a problem name into a file name of bounded
length; :class:`OutputFiles` writes several files, keeps the ones that worked
and raises one :class:`OutputError` naming the ones that failed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

from symop.errors import SymopError

T = TypeVar("T")

#: the longest stem :func:`file_stem` returns (names are at most 255 bytes on common
#: file systems; suffixes such as ``_0100.vtu`` and ``.png`` must still fit)
MAX_STEM = 80


class OutputError(SymopError):
    """Some output files could not be written; :attr:`written` lists those that were."""

    def __init__(self, failed: list[tuple[str, str]], written: list[Path] | None = None) -> None:
        self.failed = list(failed)
        self.written = list(written or [])
        lines = [f"could not write {what}: {why}" for what, why in self.failed]
        text = "; ".join(lines)
        if self.written:
            text += f" (the other {len(self.written)} file{'s' if len(self.written) != 1 else ''} were written)"
        super().__init__(text + ".")


def _reason(err: BaseException) -> str:
    """A short reason for an exception raised while writing a file."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = str(err).strip().splitlines()
    first = text[0] if text else type(err).__name__
    return first if len(first) <= 200 else first[:197] + "..."


def _existing_ancestor(path: Path) -> Path:
    """The nearest of ``path`` and its parents that exists."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def prepare_directory(path: str | Path, option: str = "-o", given: str | Path | None = None) -> Path:
    """Create the output folder ``path`` if needed and check that files can be written in it.

    Refused, with a sentence, before any work is done: a path that is a file, a
    path under a file, a folder that cannot be created, or one where a file
    cannot be created (read-only, ``/proc``, no permission).  Messages start
    with ``option`` and ``given`` (what the user typed, default ``path``).
    """
    out = Path(path).expanduser()
    path = path if given is None else given
    if out.exists() and not out.is_dir():
        if given is not None:
            raise SymopError(f"{option} {path}: `{out}` is a file, so nothing can be written under it.")
        raise SymopError(f"{option} {path}: `{out}` is a file, not a folder; pass a folder for the results.")
    anchor = _existing_ancestor(out)
    if anchor != out and not anchor.is_dir():
        raise SymopError(f"{option} {path}: `{anchor}` is a file, so no folder can be made under it.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SymopError(f"{option} {path}: cannot create the folder `{out}`: {_reason(err)}.") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".symop-write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise SymopError(f"{option} {path}: cannot write files in `{out}`: {_reason(err)}.") from None
    return out


def prepare_file(path: str | Path, option: str = "-o") -> Path:
    """Check that the file ``path`` can be written (its folder is prepared); return it.

    Refused when ``path`` is a folder or its folder cannot hold files (see
    :func:`prepare_directory`).  Nothing is written at ``path`` itself.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise SymopError(f"{option} {path}: `{target}` is a folder; pass a file name.")
    if len(target.name.encode()) > 255:
        raise SymopError(f"{option} {path}: the file name is longer than 255 bytes.")
    prepare_directory(target.parent, option, given=path)
    if target.exists() and not os.access(target, os.W_OK):
        raise SymopError(f"{option} {path}: `{target}` exists and cannot be overwritten.")
    return target


def file_stem(name: str, limit: int = MAX_STEM) -> str:
    """A file name stem from ``name`` (a problem name): safe characters, at most ``limit`` of them.

    Characters other than letters, digits, ``_``, ``-`` and ``.`` become ``_``;
    a name longer than ``limit`` keeps its start and ends in 8 hexadecimal
    digits of its SHA-256, so that different long names stay different.
    """
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "solution"
    if len(stem) <= limit:
        return stem
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return stem[: limit - 9] + "_" + digest


def remove_stale_vtk(folder: str | Path, stem: str, written: list[Path]) -> list[Path]:
    """Remove the VTK files of an earlier save of ``stem`` in ``folder`` that this save did not rewrite.

    A folder keeps one run's files: ``<stem>.vtu``, ``<stem>.pvd`` and the
    numbered snapshots ``<stem>_<k>.vtu`` not in ``written`` are deleted, so
    that ParaView, which groups numbered files into one series, does not mix
    the snapshots of two runs.  Other files are left alone; returns those
    removed.
    """
    folder = Path(folder)
    keep = {Path(p).name for p in written}
    pattern = re.compile(re.escape(stem) + r"(_[0-9]{4,})?\.vtu|" + re.escape(stem) + r"\.pvd")
    removed: list[Path] = []
    for path in folder.iterdir():
        if path.name not in keep and pattern.fullmatch(path.name) and path.is_file():
            try:
                path.unlink()
            except OSError:
                continue
            removed.append(path)
    return removed


@dataclass
class OutputFiles:
    """Writes files one by one; a failure is recorded and the others are still written.

    ``attempt(label, write)`` runs ``write()`` and returns its result, or ``None``
    when it raised; :meth:`finish` raises one :class:`OutputError` listing every
    failure (and the files written) if there was one.
    """

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def attempt(self, label: str, write: Callable[[], T]) -> T | None:
        """Run ``write``; record what it returns (a path or paths) or why it failed."""
        try:
            result = write()
        except KeyboardInterrupt:
            raise
        except Exception as err:  # noqa: BLE001 - any writer failure is reported, the others still run
            self.failed.append((label, _reason(err)))
            return None
        if isinstance(result, (str, Path)):
            self.written.append(Path(result))
        elif isinstance(result, (list, tuple)):
            self.written.extend(Path(p) for p in result if isinstance(p, (str, Path)))
        return result

    def finish(self) -> list[Path]:
        """The written files; :class:`OutputError` when any file failed."""
        if self.failed:
            raise OutputError(self.failed, self.written)
        return list(self.written)
