"""Fuzz the equation language: every input must end in a Problem or a positioned SymopError, in time.

    python tests/fuzz/run.py --count 10000 [--seed S] [--timeout 5] [--jobs 1] [--out DIR]

Inputs come from ``generate.py`` (mutated examples and test snippets, random
bytes, grammar-aware programs); input ``i`` of seed ``S`` is drawn from
``random.Random(f"{S}-{i}")``, so any one can be regenerated alone.  Each is
written to a file and read through the public load path (``symop.load``) in
a worker process: a SIGALRM timer in the worker stops an input at the time
limit (and says where it was), and the parent kills and replaces a worker
that does not answer within the limit plus a grace period (a hang inside C).

Outcomes:

``ok``            a Problem
``error``         a SymopError with a position (or a file-level one: empty, binary, not UTF-8, too large)
``unpositioned``  a SymopError without a position that should have one
``net``           a SymopError from the last-resort net: an unexpected exception turned into a message
``traceback``     any other exception
``timeout``       past the time limit

The summary gives counts per generator, the signatures (exception and where
it was raised) of every failure with a count and an example, time figures,
and writes each failure's input and detail under ``--out`` (default
``tests/fuzz/failures``).  Exit status 1 when any input failed.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

FAILURES = ("unpositioned", "net", "traceback", "timeout")
FILE_LEVEL = ("the file is empty", "the file is binary", "the file is not UTF-8", "equation files are limited to")


class FuzzTimeout(BaseException):
    """Raised by the alarm: a BaseException, so that no ``except Exception`` in symop swallows it."""


@dataclass
class Outcome:
    """How one input ended."""

    kind: str
    seconds: float
    signature: str = ""
    detail: str = ""


def _where(tb) -> str:
    """``file:line function`` of the innermost frame of a traceback in symop, else the innermost."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return "?"
    ours = [f for f in frames if "/symop/" in f.filename or "/plugins/" in f.filename]
    inner = frames[-1]
    mine = ours[-1] if ours else inner
    where = f"{Path(mine.filename).name}:{mine.lineno} {mine.name}"
    if mine is not inner:
        where += f" -> {Path(inner.filename).name}:{inner.lineno} {inner.name}"
    return where


def _net_cause(err: BaseException) -> BaseException | None:
    """The unexpected exception behind a last-resort error, where it was kept."""
    errors = getattr(err, "errors", None) or [err]
    for e in errors:
        if "internal error" in str(getattr(e, "message", e)):
            return e.__cause__ or e.__context__
    return None


def _positioned(err: BaseException) -> bool:
    from symop.errors import SourceError

    errors = getattr(err, "errors", None)
    if errors:
        return all(e.position is not None for e in errors)
    if isinstance(err, SourceError):
        return err.position is not None or any(m in err.message for m in FILE_LEVEL)
    return False


def classify(data: bytes, timeout: float, workdir: Path | None = None) -> Outcome:
    """Read ``data`` as an equation file through ``symop.load`` and say how it ended.

    Runs in the main thread (it sets a SIGALRM timer for ``timeout`` seconds).
    """
    import symop
    from symop.errors import SymopError

    def alarm(signum, frame):
        raise FuzzTimeout()

    workdir = workdir or Path(tempfile.gettempdir())
    path = workdir / f"fuzz-{os.getpid()}.pde"
    path.write_bytes(data)
    old = signal.signal(signal.SIGALRM, alarm)
    start = time.perf_counter()
    outer = (0.0, 0.0)
    try:
        outer = signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            symop.load(path)
            kind, signature, detail = "ok", "", ""
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except FuzzTimeout as err:
        kind, signature, detail = "timeout", "timeout at " + _where(err.__traceback__), traceback.format_exc()
    except SymopError as err:
        text = str(err)
        cause = _net_cause(err)
        if cause is not None or "internal error" in text:
            where = _where(cause.__traceback__) if cause is not None else "?"
            name = type(cause).__name__ if cause is not None else "?"
            kind, signature = "net", f"{name} at {where}"
            detail = text + "\n\n" + ("".join(traceback.format_exception(cause)) if cause is not None else "")
        elif _positioned(err):
            kind, signature, detail = "error", "", text
        else:
            kind, signature, detail = "unpositioned", f"{type(err).__name__}: {text.splitlines()[0][:100]}", text
    except RecursionError as err:
        kind, signature, detail = "traceback", f"RecursionError at {_where(err.__traceback__)}", traceback.format_exc()
    except Exception as err:
        kind, signature = "traceback", f"{type(err).__name__} at {_where(err.__traceback__)}"
        detail = traceback.format_exc()
    finally:
        signal.signal(signal.SIGALRM, old)
        if outer[0] > 0:  # a timer set by the caller (pytest-timeout, say) runs on
            signal.setitimer(signal.ITIMER_REAL, max(1e-3, outer[0] - (time.perf_counter() - start)), outer[1])
    return Outcome(kind, time.perf_counter() - start, signature, detail)


# -------------------------------------------------------------------- workers
def _worker(conn, timeout: float) -> None:
    import symop  # noqa: F401  (import once, before the first input is timed)

    symop.parse("space x\ndomain interval(x: [0, 1])\nfield u\nequation -d(u, x, 2) = 1\nboundary all: u = 0\n")
    workdir = Path(tempfile.mkdtemp(prefix="symop-fuzz-"))
    conn.send("ready")
    while True:
        data = conn.recv()
        if data is None:
            return
        conn.send(classify(data, timeout, workdir))


class Worker:
    """A process that reads inputs; replaced when it stops answering."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, timeout), daemon=True)
        self.proc.start()
        if not self.conn.poll(300) or self.conn.recv() != "ready":
            raise RuntimeError("a fuzz worker did not start")

    def run(self, data: bytes, grace: float) -> Outcome:
        start = time.perf_counter()
        self.conn.send(data)
        if self.conn.poll(self.timeout + grace):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        seconds = time.perf_counter() - start
        alive = self.proc.is_alive()
        self.kill()
        what = "hard timeout (no answer; killed)" if alive else f"worker died (exit code {self.proc.exitcode})"
        return Outcome("timeout" if alive else "traceback", seconds, what, what)

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(10)

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(10)
        self.kill()


# ---------------------------------------------------------------------- main
@dataclass
class Tally:
    """Counts, signatures and times of a run."""

    kinds: Counter = field(default_factory=Counter)
    by_generator: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    signatures: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    times: list[float] = field(default_factory=list)
    slowest: list[tuple[float, int, str]] = field(default_factory=list)


def draw(seed: str, index: int) -> tuple[str, bytes]:
    """Input ``index`` of run ``seed``: (generator, bytes)."""
    return generate.draw(random.Random(f"{seed}-{index}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", default="0")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per input")
    ap.add_argument("--grace", type=float, default=10.0, help="seconds past the timeout before a worker is killed")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "failures")
    ap.add_argument("--only", type=int, nargs="*", help="run these input indices only")
    args = ap.parse_args(argv)

    indices = args.only if args.only else list(range(args.count))
    args.out.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    started = time.time()
    workers = [Worker(args.timeout) for _ in range(max(1, args.jobs))]
    pending = list(indices)
    done = 0

    def record(index: int, gen: str, data: bytes, out: Outcome) -> None:
        tally.kinds[out.kind] += 1
        tally.by_generator[gen][out.kind] += 1
        tally.times.append(out.seconds)
        tally.slowest = sorted(tally.slowest + [(out.seconds, index, gen)], reverse=True)[:5]
        if out.kind in FAILURES:
            ids = tally.signatures[(out.kind, out.signature)]
            ids.append(index)
            if len(ids) <= 3:
                stem = args.out / f"{out.kind}-{args.seed}-{index}"
                stem.with_suffix(".pde").write_bytes(data)
                stem.with_suffix(".txt").write_text(
                    f"seed {args.seed} index {index} generator {gen} {out.seconds:.2f} s\n{out.signature}\n\n{out.detail}")

    try:
        if args.jobs <= 1:
            worker = workers[0]
            for index in indices:
                gen, data = draw(args.seed, index)
                out = worker.run(data, args.grace)
                if not worker.proc.is_alive():
                    workers[0] = worker = Worker(args.timeout)
                record(index, gen, data, out)
                done += 1
                if done % 500 == 0:
                    print(f"  {done} inputs, {time.time() - started:.0f} s: {dict(tally.kinds)}", flush=True)
        else:
            from concurrent.futures import ThreadPoolExecutor

            def task(index: int, worker_slot: int) -> tuple[int, str, bytes, Outcome]:
                gen, data = draw(args.seed, index)
                worker = workers[worker_slot]
                out = worker.run(data, args.grace)
                if not worker.proc.is_alive():
                    workers[worker_slot] = Worker(args.timeout)
                return index, gen, data, out

            with ThreadPoolExecutor(len(workers)) as pool:
                slots = list(range(len(workers)))
                futures = {}
                while pending or futures:
                    while pending and slots:
                        slot = slots.pop()
                        futures[pool.submit(task, pending.pop(0), slot)] = slot
                    from concurrent.futures import FIRST_COMPLETED, wait

                    finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                    for fut in finished:
                        slots.append(futures.pop(fut))
                        record(*fut.result())
                        done += 1
                        if done % 500 == 0:
                            print(f"  {done} inputs, {time.time() - started:.0f} s: {dict(tally.kinds)}", flush=True)
    finally:
        for w in workers:
            w.close()

    wall = time.time() - started
    print_summary(args, tally, wall)
    return 1 if any(tally.kinds[k] for k in FAILURES) else 0


def print_summary(args, tally: Tally, wall: float) -> None:
    """Counts, signatures and times, as printed at the end of a run."""
    n = sum(tally.kinds.values())
    print(f"\nsymop language fuzz: {n} inputs, seed {args.seed}, limit {args.timeout:g} s per input, "
          f"{args.jobs} worker(s), {wall:.0f} s wall")
    order = ("ok", "error") + FAILURES
    print("  " + ", ".join(f"{k} {tally.kinds[k]}" for k in order))
    for gen, counts in sorted(tally.by_generator.items()):
        print(f"    {gen:9s} " + ", ".join(f"{k} {counts[k]}" for k in order if counts[k]))
    if tally.times:
        times = sorted(tally.times)
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        print(f"  time per input: median {statistics.median(times) * 1000:.0f} ms, p99 {p99:.2f} s, "
              f"max {times[-1]:.2f} s; over 1 s: {sum(t > 1 for t in times)}")
        print("  slowest: " + ", ".join(f"#{i} ({g}) {s:.2f} s" for s, i, g in tally.slowest))
    if tally.signatures:
        print("  failures by signature:")
        for (kind, sig), ids in sorted(tally.signatures.items(), key=lambda kv: -len(kv[1])):
            print(f"    {len(ids):5d}  {kind:12s} {sig}   e.g. --seed {args.seed} --only {ids[0]}")
        print(f"  reproducers in {args.out}")
    else:
        print("  no failures")


if __name__ == "__main__":
    sys.exit(main())
