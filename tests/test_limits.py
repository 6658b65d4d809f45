"""Every input is read in bounded work and ends in a Problem or a positioned error that names its cause.

Each case below is a file that once crashed symop with a traceback or kept it
busy for seconds to hours; now it is refused fast, with a message that states
the limit or the cause.
"""

from __future__ import annotations

import time

import pytest
import sympy as sp

import symop
from symop.errors import SourceError, SourceErrors, SymopError
from symop.lang import limits

LINE = "space x\ndomain interval(x: [0, 1])\nfield u\nequation -d(u, x, 2) = {rhs}\nboundary all: u = 0\n"
SQUARE = "space x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield u\nequation {lhs} = 1\nboundary all: u = 0\n"


def line(rhs: str, before: str = "") -> str:
    """A one-field interval problem whose right-hand side is ``rhs``."""
    return before + LINE.format(rhs=rhs)


def doubling_lets(n: int) -> str:
    body = "".join(f"let a{k + 1} = a{k}*a{k} + a{k}\n" for k in range(n))
    return "space x\ndomain interval(x: [0, 1])\nlet a0 = x\n" + body + f"field u\nequation -d(u, x, 2) = a{n}\n"


def nested_if_comparison(levels: int) -> str:
    e = "x"
    for k in range(levels):
        e = f"if({e} < {k}/7, {e}, 1-{e})"
    return line(e)


# (id, text, fragments the first message must contain, the text at the error's position)
REPRODUCERS = [
    ("300 nested sin", line("sin(" * 300 + "x" + ")" * 300),
     ["nested more than 50 deep"], "sin("),
    ("if on log(0)", line("if(1 > log(0), 1, 0)"), ["`log(0)` evaluates to infinity"], "log(0)"),
    ("min of log(0)", line("min(log(0), 1)"), ["`log(0)` evaluates to infinity"], "log(0)"),
    ("derivative order 1e30", line("d(u, x, 1e30)"), ["order of a derivative", "limit is 8"], "1e30"),
    ("derivative order 1000", line("d(u, x, 1000)"), ["order of a derivative is 1000", "limit is 8"], "1000"),
    ("sum to 10^5000", line("sum(i, 1, 10^5000, i*x)"), ["exponents are limited to 1000"], "5000"),
    ("sum to 10^7", line("sum(i, 1, 10^7, i*x)"), ["bound 10000000", "limited to 100,000"], "10^7"),
    ("sum written out", line("sum(i, 1, 5000, i*x)"),
     ["5,000 terms", "limited to 200 terms"], "sum("),
    ("polygon vertex 1e308",
     "space x, y\ndomain polygon((0,0), (1e308,0), (0,1))\nfield u\nequation -lap(u) = 1\nboundary all: u = 0\n",
     ["number `1e308` is too large", "limited to 1e+100"], "1e308"),
    ("tower of twos", line("a", "param a = 2^2^2^2^2^2\n"), ["exponents are limited to 1000"], "2^2^2^2"),
    ("ten to ten to ten", line("a", "param a = 10^10^10\n"), ["exponents are limited to 1000"], "10^10"),
    ("huge literal", line("a", "param a = 1e999999999\n"), ["`1e999999999` is too large", "1e+100"], "1e999999999"),
    ("tiny literal", line("a", "param a = 1e-999999999\n"), ["too small", "at least 1e-100"], "1e-999999999"),
    ("long literal", line("a", "param a = 0." + "1" * 200 + "\n"), ["202 characters", "at most 100"], "0.111"),
    ("power of numbers", line("a", "param a = 10^99 * 10^99\n"), ["about 1.0e+198", "limited to 1e+100"], "10^99 *"),
    ("twenty nested biharm", SQUARE.format(lhs="biharm(" * 20 + "u" + ")" * 20),
     ["derivative of order 12", "limited to order 8 per variable"], "biharm("),
    ("derivative through a let", line("d(f, x)", "") .replace("field u\n", "field u\nlet f = d(u, x, 8)\n"),
     ["order 9 in `x`", "limited to order 8"], "f, x)"),
    ("doubling lets", doubling_lets(40), ["more than 3,000", "the limit on the size of an expression"], "a9*a9"),
    ("nested if in a comparison", nested_if_comparison(3), ["contains if(...) and cannot be compared"], "if(x"),
    ("constant that cannot be evaluated", line("a", "param a = sin(exp(10^100))\n"),
     ["`exp(10^100)` overflows", "1e+100"], "exp("),
    ("tower of exponentials", line("a", "param a = exp(exp(exp(100)))\n"), ["overflows"], "exp("),
    ("keyword glued to a name: space", "spacex\ndomain interval(x: [0, 1])\nfield u\nequation -d(u, x, 2) = 1\n",
     ["unexpected `spacex`", "`space` is a keyword"], "spacex"),
    ("keyword glued to a name: field", "space x\ndomain interval(x: [0, 1])\nfieldu\nequation -d(u, x, 2) = 1\n",
     ["unexpected `fieldu`", "`field` is a keyword"], "fieldu"),
    ("keyword glued to a name: or", line("if(x < 0.5 orx > 0.7, 1, 0)"), ["`or` is a keyword"], "orx"),
    ("division by zero", line("k", "param k = 1/0\n"), ["division by zero"], "0"),
    ("zero to a negative power", line("0^(-2)"), ["zero to a negative power"], "0^(-2)"),
    ("indexed dimension", "space x[1..10^6]\ndomain ball(radius: 1)\nfield u\nequation -lap(u) = 1\n",
     ["1e+06 is too large", "at most 100,000 coordinates"], "10^6"),
    ("exponent on a field", line("u^(10^9)"), ["exponents are limited to 1000"], "10^9)"),
    ("depth through lets", "space x\ndomain interval(x: [0, 1])\nlet a0 = x\n"
     + "".join(f"let a{k + 1} = sin(a{k})\n" for k in range(200)) + "field u\nequation -d(u, x, 2) = a200\n",
     ["nested more than 150 deep"], "sin(a1"),
    ("random field modes", "space x, y\ndomain box(x: [0, 1], y: [0, 1])\nparam a ~ field(modes: 1e99)\nfield u\n"
     "equation -div(a*grad(u)) = 1\n", ["at most 1000 modes"], "modes"),
    ("statement too long", line("+".join(["x"] * 12000)), ["more than 10,000 characters"], "equation"),
    ("non-real constant", line("a", "param a = sqrt(-1)\n"), ["a complex number"], "sqrt(-1)"),
]


def first_error(text: str) -> SourceError:
    with pytest.raises(SymopError) as info:
        symop.parse(text, "limit.pde")
    err = info.value
    if isinstance(err, SourceErrors):
        return err.errors[0]
    assert isinstance(err, SourceError), f"{type(err).__name__}: {err}"
    return err


@pytest.mark.parametrize("name,text,fragments,at", REPRODUCERS, ids=[r[0] for r in REPRODUCERS])
def test_reproducer_is_a_fast_positioned_error_that_names_the_limit(name, text, fragments, at):
    symop.parse(line("1"))  # imports and caches outside the timing
    start = time.perf_counter()
    err = first_error(text)
    seconds = time.perf_counter() - start
    assert seconds < 3.0, f"{name} took {seconds:.1f} s"
    for fragment in fragments:
        assert fragment in err.message, err.message
    assert "internal error" not in err.message
    assert err.position is not None
    row = text.splitlines()[err.line - 1]
    assert row[err.column - 1:].startswith(at), (row[err.column - 1:][:40], at)
    rendered = str(err)
    assert rendered.startswith(f"limit.pde:{err.line}:{err.column}: error: ")
    assert "^" in rendered
    assert len(err.message) < 300, "numbers in messages are abbreviated"


def test_the_issue_file_with_nested_if_is_refused_in_milliseconds():
    text = nested_if_comparison(3)
    assert 300 <= len(text.encode()) <= 330
    start = time.perf_counter()
    first_error(text)
    assert time.perf_counter() - start < 1.0


def test_long_flat_sums_and_sign_chains_fold_without_recursion():
    p = symop.parse(line("+".join(["x"] * 500)))
    assert p.equations[0].rhs == 500 * sp.Symbol("x", real=True)
    p = symop.parse(line("*".join(["x"] * 500)))
    assert p.equations[0].rhs == sp.Symbol("x", real=True) ** 500
    p = symop.parse(line("-" * 500 + "x"))
    assert p.equations[0].rhs == sp.Symbol("x", real=True)
    p = symop.parse(line("-" * 501 + "x"))
    assert p.equations[0].rhs == -sp.Symbol("x", real=True)
    p = symop.parse(line(" - ".join(["x"] * 501)))
    assert p.equations[0].rhs == -499 * sp.Symbol("x", real=True)


def test_nesting_at_the_limit_is_read():
    depth = limits.MAX_NESTING - 5
    p = symop.parse(line("sin(" * depth + "x" + ")" * depth))
    assert p.equations[0].rhs.has(sp.sin)


def test_derivatives_up_to_the_limit_are_read():
    two = "boundary all: dn(u) = 0\n"  # an equation of order 8 takes a second condition per side
    p = symop.parse(line("d(u, x, 8)") + two)
    assert p.equations[0].rhs == sp.Derivative(p.fields[0].applied, (sp.Symbol("x", real=True), 8))
    p = symop.parse(SQUARE.format(lhs="biharm(biharm(u))") + two)
    assert p.equations[0].lhs.has(sp.Derivative)
    # a let with fourth derivatives, differentiated four more times: order 8, allowed
    text = line("d(f, x, 4)").replace("field u\n", "field u\nlet f = d(u, x, 4)\n") + two
    assert symop.parse(text).equations[0].rhs.has(sp.Derivative)


def test_keywords_still_read_next_to_brackets_and_operators():
    text = ("space x,y\ndomain box(x:[0,1],y:[0,1])minus disk(center:(0.5,0.5),radius:0.1)as hole\n"
            "field u\nequation -lap(u) = if(x<0.5 and(y>0.2)or(x>0.9),1,0)\nboundary all: u = 0\n")
    p = symop.parse(text)
    assert "hole" in p.domain.sides


def test_file_size_limit():
    text = line("1") + "# " + "c" * limits.MAX_FILE_CHARS + "\n"
    with pytest.raises(SourceError, match="equation files are limited to 50,000"):
        symop.parse(text)


def test_sum_in_an_indexed_space_stays_unexpanded_at_large_dimension():
    text = ("param d = 10000\nspace x[1..d]\ndomain ball(dim: d, radius: 1)\nfield u\n"
            "equation -lap(u) = sum(i, 1, d, x[i]^2)\nboundary all: u = 0\n")
    p = symop.parse(text)
    assert p.equations[0].rhs.has(sp.Sum)


def test_constants_are_evaluated_accurately():
    p = symop.parse(line("k", "param k = sin(10^90) + 2*pi\n"))
    assert abs(p.params["k"] - float(sp.N(sp.sin(sp.Integer(10) ** 90) + 2 * sp.pi))) < 1e-12


def test_an_unexpected_exception_becomes_a_positioned_error(monkeypatch):
    from symop.lang.builder import Builder

    def broken(self, node):
        raise RuntimeError("boom")

    monkeypatch.setattr(Builder, "exact_stmt", broken)
    err = first_error(line("1") + "exact u = x\n")
    assert err.line == 6
    assert "internal error RuntimeError: boom" in err.message
    assert isinstance(err.__cause__, RuntimeError)


def test_statement_count_limit():
    text = line("1") + "".join(f"param p{k} = {k}\n" for k in range(limits.MAX_STATEMENTS))
    err = first_error(text)
    assert "limited to 500" in err.message or "more than 500 statements" in err.message
    assert err.line == limits.MAX_STATEMENTS + 1


def test_a_long_line_is_shown_as_a_window_around_the_caret():
    text = line("+".join(["x"] * 2000) + "+q")
    err = first_error(text)
    assert "undefined name `q`" in err.message
    rendered = str(err).splitlines()
    shown, caret = rendered[1], rendered[2]
    assert len(shown) < 140 and "…" in shown
    assert shown[caret.index("^")] == "q"


def test_reading_stops_after_twenty_errors_and_a_report_shows_twenty():
    text = line("1") + "".join(f"param p{k} = q{k}\n" for k in range(40))
    with pytest.raises(SourceErrors) as info:
        symop.parse(text, "many.pde")
    errors = info.value.errors
    assert len(errors) == limits.MAX_ERRORS + 1
    assert "stops reading after 20 errors" in errors[-1].message
    assert str(info.value).count("error: ") == 20
    assert "the first 20 are shown" in str(info.value)


def test_the_work_of_a_whole_file_is_bounded():
    text = line("1") + "".join(f"let a{k} = sum(i, 1, 200, sin(i*x + {k}))\n" for k in range(30))
    start = time.perf_counter()
    err = first_error(text)
    assert "this file builds more than 6,000 terms and operations in all" in err.message
    assert time.perf_counter() - start < 10


def test_symop_check_reports_a_limit_without_a_traceback(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "tower.pde"
    path.write_text(line("a", "param a = 2^2^2^2^2^2\n"))
    proc = subprocess.run([sys.executable, "-m", "symop.cli", "check", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{path}:1:15: error: the exponent `2^2^2^2` is about 6.6e+04: exponents are limited to 1000" in proc.stderr
