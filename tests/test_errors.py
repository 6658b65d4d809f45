"""Every documented mistake gets a message, a position, a caret line and a hint."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symop
from symop.errors import SourceError, SourceErrors, SymopError

BOX2 = "space x, y\ndomain box(x: [0, 1], y: [0, 1])\n"
STEADY = BOX2 + "field u\n"


def error_of(text: str, filename: str = "bad.pde") -> SourceError:
    with pytest.raises(SymopError) as info:
        symop.parse(text, filename)
    err = info.value
    if isinstance(err, SourceErrors):
        return err.errors[0]
    assert isinstance(err, SourceError)
    return err


def where(text: str, line: int, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the n-th ``needle`` on ``line`` of ``text``."""
    row = text.splitlines()[line - 1]
    col = -1
    for _ in range(occurrence):
        col = row.index(needle, col + 1)
    return line, col + 1


CASES = [
    # (name, text, expected message fragment, (line, needle), hint fragment)
    ("unknown operator", STEADY + "equation -lapl(u) = 1\nboundary all: u = 0\n",
     "unknown operator `lapl`", (4, "lapl"), "did you mean `lap`?"),
    ("undefined symbol", STEADY + "param kappa = 1\nequation -kapa*lap(u) = 1\nboundary all: u = 0\n",
     "undefined name `kapa`", (5, "kapa"), "did you mean `kappa`?"),
    ("unbalanced bracket", STEADY + "equation -lap(u = 1\nboundary all: u = 0\n",
     "unbalanced `(`", (4, "("), "add the missing `)`"),
    ("extra closing bracket", STEADY + "equation -lap(u)) = 1\nboundary all: u = 0\n",
     "unbalanced `)`", (4, ")", 2), "remove this"),
    ("unknown coordinate", STEADY + "equation -dz(u) = 1\nboundary all: u = 0\n",
     "unknown coordinate `z`", (4, "dz"), "add `z` to the `space` line"),
    ("unknown boundary side", STEADY + "equation -lap(u) = 1\nboundary lft: u = 0\n",
     "unknown boundary side `lft`", (5, "lft"), "did you mean `left`?"),
    ("field without equation", BOX2 + "field u, v\nequation -lap(u) = 1\nboundary all: u = 0\n",
     "the field `v` has no equation", (3, "v"), "add an `equation` line"),
    ("more equations than fields", STEADY + "equation -lap(u) = 1\nequation u = 2\nboundary all: u = 0\n",
     "more equations (2) than fields (1)", (5, "equation"), "remove this equation"),
    ("missing initial condition", BOX2 + "time t in [0, 1]\nfield u\nequation dt(u) = lap(u)\nboundary all: u = 0\n",
     "missing initial condition `initial u = ...`", (4, "u"), "initial u ="),
    ("second initial condition missing", "space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\n"
     "equation dt(u, 2) = d(u, x, 2)\nboundary all: u = 0\ninitial u = 0\n",
     "missing initial condition `initial dt(u) = ...`", (4, "u"), "initial dt(u)"),
    ("dt in steady problem", STEADY + "equation dt(u) = lap(u)\nboundary all: u = 0\n",
     "`dt` in a steady problem", (4, "dt"), "add a `time"),
    ("domain dimension", "space x, y, z\ndomain disk(center: (0, 0), radius: 1)\nfield u\nequation -lap(u) = 1\n",
     "the domain is 2-dimensional but the space has 3 coordinates", (2, "domain"), "agree"),
    ("empty interval", "space x, y\ndomain box(x: [1, 0], y: [0, 1])\nfield u\nequation -lap(u) = 1\n",
     "the interval [1, 0] for `x` is empty", (2, "[1, 0]"), None),
    ("duplicate name", STEADY + "param k = 1, k = 2\nequation -lap(u) = k\nboundary all: u = 0\n",
     "duplicate name `k`", (4, "k", 2), "choose another name"),
    ("constant is infinite", STEADY + "param k = log(0)\nequation -lap(u) = k\nboundary all: u = 0\n",
     "evaluates to infinity", (4, "log"), "division by zero"),
    ("division by zero", STEADY + "param k = 1/0\nequation -lap(u) = k\nboundary all: u = 0\n",
     "division by zero", (4, "0"), None),
    ("misspelt statement", STEADY + "equaton -lap(u) = 1\n",
     "unexpected `equaton`", (4, "equaton"), "did you mean `equation`?"),
    ("dn outside boundary", STEADY + "equation dn(u) = 1\nboundary all: u = 0\n",
     "`dn` (the normal derivative) can only appear in a boundary condition", (4, "dn"), None),
    ("unknown domain", "space x, y\ndomain dsk(center: (0, 0), radius: 1)\nfield u\nequation -lap(u) = 1\n",
     "unknown domain `dsk`", (2, "dsk"), "did you mean `disk`?"),
    ("second condition for a side", STEADY + "equation -lap(u) = 1\nboundary all: u = 0\nboundary left: u = 1\n",
     "side `left` already has a condition for `u` (line 5); a field of second order in space takes one condition "
     "per side", (6, "boundary"), "remove one of the lines"),
    ("summed index out of range", "param d = 3\nspace x[1..d]\ndomain ball(dim: d, radius: 1)\nfield u\n"
     "equation -lap(u) = sum(i, 1, d, x[i+1])\nboundary all: u = 0\n",
     "`x[i+1]` is out of range for i = 3: it is x[4]", (5, "i+1"), "change the bounds"),
    ("equation without its field", STEADY + "equation 0 = x\nboundary all: u = 0\n",
     "the equation does not involve any field", (4, "equation"), "equation -lap(u) = 1"),
    ("extra initial condition", BOX2 + "time t in [0, 1]\nfield u\nequation dt(u) = lap(u)\nboundary all: u = 0\n"
     "initial u = 0\ninitial dt(u) = 0\n", "`u` is first order in time; it takes one initial condition",
     (8, "initial"), "remove this line"),
    ("name declared later", STEADY + "let g = a\nparam a = 1\nequation -lap(u) = g\nboundary all: u = 0\n",
     "`a` is declared later, at line 5", (4, "a"), "move the declaration up"),
    ("number times a name", STEADY + "equation -lap(u) = 2x\nboundary all: u = 0\n",
     "unexpected `x` right after `2`", (4, "x"), "multiply explicitly with `*`: write `2*x`"),
]


@pytest.mark.parametrize("name,text,message,at,hint", CASES, ids=[c[0] for c in CASES])
def test_error_message_position_and_hint(name, text, message, at, hint):
    err = error_of(text)
    assert message in err.message
    line, col = where(text, *at)
    assert (err.line, err.column) == (line, col)
    rendered = str(err)
    assert rendered.startswith(f"bad.pde:{line}:{col}: error: ")
    assert text.splitlines()[line - 1].strip() in rendered
    caret_line = rendered.splitlines()[2]
    assert caret_line.index("^") == rendered.splitlines()[1].index("|") + 2 + col - 1
    if hint:
        assert hint in (err.hint or "")


def test_golden_rendering():
    text = STEADY + "param kappa = 0.1\nequation -kappa*lapl(u) = 1\n"
    with pytest.raises(SymopError) as info:
        symop.parse(text, "heat.pde")
    assert str(info.value).split("\n\n")[0] == (
        "heat.pde:5:17: error: unknown operator `lapl`\n"
        "    5 | equation -kappa*lapl(u) = 1\n"
        "      |                 ^^^^\n"
        "  hint: did you mean `lap`?"
    )


def test_semantic_errors_are_collected_and_sorted():
    text = STEADY + "equation -lap(u) = kapa + dz(u)\nboundary lft: u = 0\nparam q = 1, q = 2\n"
    with pytest.raises(SourceErrors) as info:
        symop.parse(text, "many.pde")
    errors = info.value.errors
    assert len(errors) >= 3
    positions = [(e.line, e.column) for e in errors]
    assert positions == sorted(positions)
    assert "errors found" in str(info.value)


def test_empty_and_binary_files(tmp_path):
    empty = tmp_path / "empty.pde"
    empty.write_text("# only a comment\n\n")
    with pytest.raises(SourceError, match="the file is empty"):
        symop.load(empty)
    binary = tmp_path / "bin.pde"
    binary.write_bytes(b"\x00\x01\x02space x\n")
    with pytest.raises(SourceError, match="binary"):
        symop.load(binary)


def test_code_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = STEADY + f"equation __import__('os').system('touch {marker}') = 1\n"
    err = error_of(text)
    assert err.line == 4
    assert "unexpected character" in err.message
    assert not marker.exists()


def test_check_command_exits_nonzero_without_traceback(tmp_path):
    bad = tmp_path / "bad.pde"
    bad.write_text(STEADY + "equation -lapl(u) = 1\n")
    proc = subprocess.run([sys.executable, "-m", "symop.cli", "check", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{bad}:4:11: error: unknown operator `lapl`" in proc.stderr
    missing = subprocess.run([sys.executable, "-m", "symop.cli", "check", str(tmp_path / "nope.pde")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "no such equation file" in missing.stderr


VALID = (STEADY + "param kappa = 0.1\nequation -kappa*lap(u) + dx(u) = sin(pi*x)*exp(y)\n"
         "boundary left, right: u = 0\nboundary top: dn(u) + 2*u = 1\nboundary bottom: dn(u) = 0\n")


def outcome_is_clean(text: str) -> None:
    try:
        symop.parse(text, "fuzz.pde")
    except SourceErrors as errs:
        assert all(e.line is not None for e in errs)
    except SourceError as err:
        assert err.line is not None or "empty" in err.message or "binary" in err.message
    except SymopError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_source_gives_problem_or_positioned_error(data):
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "swap"]))
        char = data.draw(st.sampled_from(list("()[],:=+-*/^<>#\n xyzu0123456789.elap")))
        if action == "delete" and text:
            text = text[:i] + text[i + 1:]
        elif action == "insert":
            text = text[:i] + char + text[i:]
        elif text:
            text = text[:i] + char + text[i + 1:]
    outcome_is_clean(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_random_text_gives_problem_or_positioned_error(text):
    outcome_is_clean(text)
