"""The language fuzzer in the fast suite: a few hundred inputs from the generators of ``tests/fuzz``.

Each input (a mutated example or test snippet, random bytes, a grammar-aware
program) must end in a Problem or a positioned SymopError within the time
limit: no traceback, no message from the last-resort net, no timeout.  The
long run is ``python tests/fuzz/run.py --count 10000``.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))

import generate  # noqa: E402
import run  # noqa: E402

TIMEOUT = 5.0
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def check(data: bytes, tmp_path_factory) -> None:
    out = run.classify(data, TIMEOUT, tmp_path_factory.getbasetemp())
    assert out.kind in ("ok", "error"), f"{out.kind}: {out.signature}\n{out.detail[-3000:]}\ninput: {data[:2000]!r}"


@settings(max_examples=120, **SETTINGS)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_examples_end_in_a_problem_or_a_positioned_error(rng, tmp_path_factory):
    check(generate.mutate(rng), tmp_path_factory)


@settings(max_examples=120, **SETTINGS)
@given(rng=st.randoms(use_true_random=False))
def test_grammar_aware_programs_end_in_a_problem_or_a_positioned_error(rng, tmp_path_factory):
    check(generate.program(rng), tmp_path_factory)


@settings(max_examples=40, **SETTINGS)
@given(rng=st.randoms(use_true_random=False))
def test_random_bytes_end_in_a_positioned_error(rng, tmp_path_factory):
    check(generate.random_bytes(rng), tmp_path_factory)


@settings(max_examples=30, **SETTINGS)
@given(rng=st.randoms(use_true_random=False))
def test_hostile_lines_end_in_a_problem_or_a_positioned_error(rng, tmp_path_factory):
    seed = rng.choice(generate.seeds())
    check((seed + "\n" + generate.hostile_line(rng) + "\n").encode(), tmp_path_factory)


def test_the_generators_produce_both_problems_and_errors(tmp_path):
    """The fuzzer is worth running: its inputs reach the builder, not only the parser."""
    kinds = {"ok": 0, "error": 0}
    for i in range(60):
        out = run.classify(generate.program(random.Random(i)), TIMEOUT, tmp_path)
        kinds[out.kind] = kinds.get(out.kind, 0) + 1
    assert kinds["ok"] >= 5 and kinds["error"] >= 5, kinds


def test_the_harness_reports_tracebacks_nets_and_timeouts(tmp_path, monkeypatch):
    """A builder that raises, or hangs, is reported as a failure, not as an error message."""
    from symop.lang import builder

    text = b"space x\ndomain interval(x: [0, 1])\nfield u\nequation -d(u, x, 2) = 1\nboundary all: u = 0\n"
    assert run.classify(text, TIMEOUT, tmp_path).kind == "ok"

    def raises(self, node):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(builder.Builder, "equation_stmt", raises)
    out = run.classify(text, TIMEOUT, tmp_path)
    assert out.kind == "net" and "ZeroDivisionError" in out.signature

    def hangs(self, node):
        while True:
            pass

    monkeypatch.setattr(builder.Builder, "equation_stmt", hangs)
    out = run.classify(text, 0.5, tmp_path)
    assert out.kind == "timeout" and out.seconds < 5

    monkeypatch.setattr(builder, "parse", lambda *a, **k: 1 / 0)
    out = run.classify(text, TIMEOUT, tmp_path)
    assert out.kind == "traceback" and "ZeroDivisionError" in out.signature


@pytest.mark.parametrize("path", sorted((generate.ROOT / "examples").rglob("*.pde")), ids=lambda p: p.name)
def test_every_example_is_a_seed(path):
    assert path.read_text(encoding="utf-8") in generate.seeds()
