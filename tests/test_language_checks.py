"""What the front end refuses that it once accepted, and the follow-on errors it no longer reports.

Each group is one defect of an audit of bad input: a second condition for a
side, coordinates indexed out of range inside ``sum``, equations whose
unknown cancels, initial lines a field does not take, duplicates that
silently overrode, a ``solve`` line that ``symop check`` did not look at, a
sum index named like a constant, syntax errors without their likely fix, and
errors that followed from an earlier one.  Each error is checked for its
message, its line and column, and its hint.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

import symop
from symop.errors import SourceError, SourceErrors, SymopError

BOX = "space x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield u\nequation -lap(u) = 1\n"
LINE = "space x\ndomain interval(x: [0, 1])\nfield u\n"
HEAT = "space x\ntime t in [0, 1]\ndomain interval(x: [0, 1])\nfield u\n"
BALL = "param d = 3\nspace x[1..d]\ndomain ball(dim: d, radius: 1)\nfield u\n"
EXAMPLES = Path(__file__).parent.parent / "examples"


def errors_of(text: str) -> list[SourceError]:
    with pytest.raises(SymopError) as info:
        symop.parse(text, "bad.pde")
    err = info.value
    return list(err.errors) if isinstance(err, SourceErrors) else [err]


def the_error(text: str, message: str, line: int, needle: str | None = None, hint: str | None = None,
              occurrence: int = 1, offset: int = 0) -> SourceError:
    """The one error of ``text``: it holds ``message``, stands ``offset`` characters after the ``occurrence``-th
    ``needle`` on ``line`` (at its start when ``needle`` is None)."""
    errs = errors_of(text)
    assert len(errs) == 1, [e.message for e in errs]
    err = errs[0]
    assert message in err.message, err.message
    row = text.splitlines()[line - 1]
    col = 1
    if needle is not None:
        col = -1
        for _ in range(occurrence):
            col = row.index(needle, col + 1)
        col += 1 + offset
    assert (err.line, err.column) == (line, col), str(err)
    if hint is not None:
        assert hint in (err.hint or ""), err.hint
    assert str(err).startswith(f"bad.pde:{line}:{col}: error: ")
    return err


# ------------------------------------------------------------ 1. conditions per side
@pytest.mark.parametrize("extra, message, line", [
    ("boundary all: u = 0\nboundary left: u = 1\n",
     "side `left` already has a condition for `u` (line 5); a field of second order in space takes one condition "
     "per side", 6),
    ("boundary all: u = 0\nboundary all: dn(u) = 0\n",
     "sides `left`, `right`, `bottom`, `top` already have a condition for `u` (line 5)", 6),
    ("boundary left: u = 0\nboundary right, top, bottom: u = 0\nboundary right: dn(u) = 1\n",
     "side `right` already has a condition for `u` (line 6)", 7),
])
def test_a_second_condition_for_a_side_is_refused_at_its_line(extra, message, line):
    err = the_error(BOX + extra, message, line, hint="remove one of the lines")
    assert err.position.length == len((BOX + extra).splitlines()[line - 1])


def test_a_side_listed_twice_on_one_line_is_refused():
    the_error(BOX + "boundary all, left: u = 0\n", "lists the side `left` after `all`, which includes it", 5, "left")
    the_error(BOX + "boundary left, right, left, top, bottom: u = 0\n", "lists the side `left` twice", 5, "left",
              occurrence=2)
    the_error(BOX + "boundary all, all: u = 0\n", "lists `all` twice", 5, "all", occurrence=2)


def test_a_coordinate_made_periodic_twice_is_refused():
    text = ("space x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield u\nequation -lap(u) + u = 1\n"
            "boundary periodic(x)\nboundary periodic(x)\nboundary bottom, top: u = 0\n")
    the_error(text, "`x` is already periodic (line 5)", 6, "x")
    the_error(text.replace("boundary periodic(x)\nboundary periodic(x)", "boundary periodic(x, x)"),
              "this line lists `x` twice", 5, "x", occurrence=2)


def test_fourth_order_fields_take_two_different_conditions_per_side():
    plate = symop.load(EXAMPLES / "plate.pde")
    assert sorted(bc.kind for bc in plate.boundary) == ["dirichlet", "neumann"]
    head = "space x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield w\nequation biharm(w) = 1\n"
    simply = symop.parse(head + "boundary all: w = 0\nboundary all: lap(w) = 0\n")
    assert len(simply.boundary) == 2
    the_error(head + "boundary all: w = 0\nboundary all: dn(w) = 0\nboundary left: w = 1\n",
              "side `left` already has two conditions for `w` (lines 5, 6); a field of fourth order in space takes "
              "two conditions per side", 7)
    the_error(head + "boundary all: w = 0\nboundary left: w = 1\nboundary all: dn(w) = 0\n",
              "side `left` already has a Dirichlet condition for `w` (line 5)", 6, hint="dn(w) = 0")


def test_a_third_order_field_shares_its_third_condition_between_the_sides():
    kdv = symop.parse(HEAT + "equation dt(u) + 6*u*dx(u) + d(u, x, 3) = 0\nboundary left, right: u = 0\n"
                             "boundary right: dn(u) = 0\ninitial u = 0\n")
    assert len(kdv.boundary) == 2
    the_error(HEAT + "equation dt(u) + d(u, x, 3) = 0\nboundary all: u = 0\nboundary right: dn(u) = 0\n"
                     "boundary right: dn(u) + u = 0\ninitial u = 0\n",
              "takes at most two conditions per side", 8)


def test_systems_count_conditions_per_field():
    p = symop.parse("space x\ndomain interval(x: [0, 1])\nfield u, v\nequation -d(u, x, 2) = v\n"
                    "equation -d(v, x, 2) = 1\nboundary all: u = 0\nboundary all: v = 0\n")
    assert [bc.field for bc in p.boundary] == ["u", "v"]


# ------------------------------------------------------------ 2. indexes inside sum
@pytest.mark.parametrize("body, message", [
    ("sum(i, 1, d, x[i+1])", "`x[i+1]` is out of range for i = 3: it is x[4], and the coordinates are x[1] … x[3]"),
    ("sum(i, 1, d, x[i-1])", "`x[i-1]` is out of range for i = 1: it is x[0]"),
    ("sum(i, 1, d, x[i/2])", "`x[i/2]` is not a coordinate for i = 1: the index is 1/2, not a whole number"),
    ("sum(i, 1, d+1, x[i])", "`x[i]` is out of range for i = 4: it is x[4]"),
    ("sum(i, 1, d, x[2*i])", "`x[2*i]` is out of range for i = 3: it is x[6]"),
    ("sum(i, 1, d, sum(j, 1, d, x[i*j]))", "`x[i*j]` is out of range for i = 2, j = 2: it is x[4]"),
])
def test_each_value_of_a_summed_index_is_checked_at_the_index(body, message):
    text = BALL + f"equation -lap(u) = {body}\nboundary all: u = 0\n"
    index = message[message.index("x[") + 2:message.index("]")]
    err = the_error(text, message, 5, f"x[{index}]", offset=2)
    assert err.position.length == len(index)


def test_indexes_that_stay_in_range_are_accepted_also_in_long_unexpanded_sums():
    p = symop.parse(BALL.replace("d = 3", "d = 1000")
                    + "equation -lap(u) = sum(i, 1, d-1, x[i+1]*x[d+1-i]) + sum(i, 2, 1, x[i+5000])\n"
                      "boundary all: u = 0\n")
    assert p.equations[0].rhs.has(sp.Sum)
    the_error(BALL.replace("d = 3", "d = 1000") + "equation -lap(u) = sum(i, 1, d, x[i+1])\nboundary all: u = 0\n",
              "out of range for i = 1000: it is x[1001]", 5, "i+1")


# ------------------------------------------------------------ 3. equations that lose their unknown
@pytest.mark.parametrize("head, equation, message, hint", [
    (LINE, "0 = x", "the equation does not involve any field", "equation -lap(u) = 1"),
    (LINE, "u - u = x", "after simplification the equation does not involve any field: the terms in `u` cancel",
     "check the signs"),
    (HEAT, "0*dt(u) = d(u, x, 2)", "`dt(u)` cancels: after simplification the equation has no time derivative of "
     "`u`", "leave it out for a steady equation"),
    (HEAT, "dt(u) = dt(u) + d(u, x, 2)", "`dt(u)` cancels", "one side only"),
    (HEAT, "dt(u, 2) - dt(u, 2) + dt(u) = d(u, x, 2)", "`dt(u, 2)` cancels: after simplification the equation has "
     "`dt(u)` at most", None),
])
def test_an_equation_whose_unknown_cancels_is_refused_at_its_line(head, equation, message, hint):
    text = head + f"equation {equation}\nboundary all: u = 0\n" + ("initial u = 0\n" if head is HEAT else "")
    line = head.count("\n") + 1
    the_error(text, message, line, hint=hint)


def test_time_derivatives_of_known_expressions_are_not_unknowns():
    p = symop.parse(HEAT + "exact u = exp(-t)*sin(x)\nequation dt(u) = d(u, x, 2) + dt(exact(u)) - dt(exact(u))\n"
                           "boundary all: u = exact(u)\ninitial u = exact(u)\n")
    assert p.equations[0].field == "u"


# ------------------------------------------------------------ 4. initial lines a field does not take
@pytest.mark.parametrize("line", ["initial dt(u) = 0", "initial dt(u, 2) = 0"])
def test_an_initial_line_beyond_the_fields_order_in_time_is_refused(line):
    text = HEAT + f"equation dt(u) = d(u, x, 2)\nboundary all: u = 0\ninitial u = 0\n{line}\n"
    the_error(text, "`u` is first order in time; it takes one initial condition (`initial u = ...`)", 8,
              hint="remove this line")


def test_a_second_order_field_takes_two_initial_lines_and_dt_of_known_data():
    text = (HEAT + "let ue = sin(x)*cos(2*t + 1)\nexact u = ue\nequation dt(u, 2) = d(u, x, 2) + dt(ue, 2) - "
            "d(ue, x, 2)\nboundary all: u = ue\ninitial u = ue\ninitial dt(u) = dt(ue)\n")
    p = symop.parse(text)
    x = sp.Symbol("x", real=True)
    assert sp.simplify(p.initial_for("u", 1).value + 2 * sp.sin(x) * sp.sin(1)) == 0
    the_error(text + "initial dt(u, 2) = 0\n", "`u` is second order in time; it takes two initial conditions "
                                                "(`initial u = ...` and `initial dt(u) = ...`)", 11)
    exact_dt = symop.parse(text.replace("exact u = ue", "exact u = dt(sin(x)*sin(2*t + 1))/2"))
    assert exact_dt.exact["u"].has(sp.cos)


def test_a_field_without_time_derivative_may_state_its_start_but_no_more():
    text = (HEAT.replace("field u", "field u, p") + "equation dt(u) = d(u, x, 2) + p\nequation -d(p, x, 2) = u\n"
            "boundary all: u = 0\nboundary all: p = 0\ninitial u = 0\ninitial p = 0\n")
    assert {(ic.field, ic.order) for ic in symop.parse(text).initial} == {("u", 0), ("p", 0)}  # as symop mms writes
    the_error(text + "initial dt(p) = 0\n", "`p` has no time derivative in the equations; it takes at most "
                                             "`initial p = ...`", 11)


def test_fields_stay_out_of_initial_data_also_through_a_let():
    text = HEAT + "let g = 2*u\nequation dt(u) = d(u, x, 2)\nboundary all: u = 0\ninitial u = g\n"
    the_error(text, "`g` holds the field `u`, which cannot appear here", 8, "g", occurrence=1)


# ------------------------------------------------------------ 5. duplicates that overrode
def test_a_second_problem_line_is_refused():
    the_error('problem a\nproblem b "again"\n' + BOX + "boundary all: u = 0\n",
              "a second `problem` line; the problem is already named `a` at line 1", 2)


def test_an_option_given_twice_on_the_solve_line_is_refused():
    the_error(BOX + "boundary all: u = 0\nsolve fd(n: 8, dt: 0.1, n: 16)\n",
              "the option `n` is given twice (first at column 10)", 6, "n", occurrence=2)


# ------------------------------------------------------------ 6. the solve line, checked
SOLVE = LINE + "param k = 1\nequation -d(u, x, 2) = k\nboundary all: u = 0\n"


@pytest.mark.parametrize("solve, message, needle, hint", [
    ("solve fdd(n: 8)", "there is no method `fdd`; the installed methods are ", "fdd", "did you mean `fd`?"),
    ("solve fd(nn: 8)", "the method `fd` has no option `nn`, and the problem has no parameter `nn`; its options are ",
     "nn: 8", "did you mean `n`?"),
    ("solve fd(n: -3)", "the option `n` of method `fd` must be at least 1, not -3", "n: -3", None),
    ("solve fd(n: 2.5)", "the option `n` of method `fd` takes int values, not `2.5`", "n: 2.5", None),
    ("solve fd(n: 8, dt: 0.1)", "`dt` acts only on a time-dependent problem", "dt: 0.1", None),
])
def test_check_validates_the_solve_line_at_the_option(tmp_path, capsys, solve, message, needle, hint):
    from symop.cli import main

    path = tmp_path / "s.pde"
    path.write_text(SOLVE + solve + "\n")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    col = solve.index(needle) + 1
    assert f"{path}:7:{col}: error: {message}" in err, err
    if hint:
        assert f"hint: {hint}" in err
    assert "Traceback" not in err


def test_the_solve_line_is_checked_when_a_run_uses_it_except_the_options_the_caller_replaces():
    from symop.api import method_and_options

    p = symop.parse(SOLVE + "solve fd(n: -3, k: 2)\n", "s.pde")
    with pytest.raises(SourceError) as info:
        method_and_options(p, None, {})
    assert str(info.value).startswith("s.pde:7:10: error: the option `n` of method `fd` must be at least 1, not -3")
    method, options = method_and_options(p, None, {"n": 8})
    assert method == "fd" and options == {"n": 8, "k": 2}
    assert method_and_options(p, "fem", {}) == ("fem", {})  # another method: the file's options are not its


def test_check_accepts_every_solve_line_of_the_examples(capsys):
    from symop.cli import main

    files = [str(p) for p in sorted(EXAMPLES.rglob("*.pde"))]
    assert main(["check", *files]) == 0, capsys.readouterr().err


def test_every_catalogue_class_is_read_and_its_solve_line_checked():
    from symop.api import check_solve_line
    from symop.catalogue import CLASSES

    for cls in CLASSES:
        check_solve_line(symop.parse(cls.text, f"{cls.name}.pde"))


# ------------------------------------------------------------ 7. a sum index named like a constant
@pytest.mark.parametrize("name", ["pi", "e"])
def test_a_sum_index_cannot_shadow_a_constant(name):
    the_error(BALL + f"equation -lap(u) = sum({name}, 1, d, {name}*x[1])\nboundary all: u = 0\n",
              f"`{name}` is a built-in constant and cannot be a sum index", 5, f"({name}", hint="such as `i`",
              offset=1)


# ------------------------------------------------------------ 11. syntax errors with their likely fix
@pytest.mark.parametrize("line, message, needle, hint", [
    ('problem p "hello', "this string is not closed", '"', 'add the closing `"`'),
    ("problem p 'single'", "unexpected character `'`", "'", "titles are double-quoted"),
    ("equation -d(u, x, 2) = 1e", "an exponent needs digits", "e\n", "`1e3` or `1e-3`"),
    ("equation -d(u, x, 2) = 2x", "unexpected `x` right after `2`", "x\n", "multiply explicitly with `*`: write `2*x`"),
    ("equation -d(u, x, 2) = 2(x)", "unexpected `(` right after `2`", "(x)", "multiply explicitly with `*`"),
    ("equation -d(u, x, 2) = sin x", "unexpected `x` after the function `sin`", "x\n", "call with parentheses"),
    ("equation -d(u, x, 2) = \u22121", "unexpected character `\u2212` (MINUS SIGN)", "\u2212", "use `-`"),
    ("equation -d(u, x, 2) = PI", "undefined name `PI`", "PI", "did you mean `pi`?"),
    ("equation -d(u, x, 2) = Sin(x)", "unknown operator `Sin`", "Sin", "did you mean `sin`?"),
    ("equation -d(u, x, 2) + d(u, x, -1) = 1", "the order of a derivative must be a positive integer", "-1",
     "d(u, x, 2)"),
])
def test_syntax_errors_carry_their_likely_fix(line, message, needle, hint):
    text = LINE + line + "\nboundary all: u = 0\n"
    if line.startswith("problem"):
        text = line + "\n" + LINE + "equation -d(u, x, 2) = 1\nboundary all: u = 0\n"
    row = 1 if line.startswith("problem") else 4
    target = line + "\n"
    col = target.index(needle) + 1
    errs = errors_of(text)
    err = errs[0]
    assert message in err.message, err.message
    assert (err.line, err.column) == (row, col), str(err)
    assert hint in (err.hint or ""), err.hint


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.pde"
    path.write_bytes(b"\xef\xbb\xbf" + (LINE + "equation -d(u, x, 2) = 1\nboundary all: u = 0\n").encode())
    assert symop.load(path).field_names == ("u",)
    assert symop.parse("\ufeff" + LINE + "equation -d(u, x, 2) = 1\nboundary all: u = 0\n").field_names == ("u",)


# ------------------------------------------------------------ 13. one error, not its consequences
@pytest.mark.parametrize("text, message, line", [
    ("space x[1..2.5]\ndomain ball(dim: 2, radius: 1)\nfield u\nequation -lap(u) = 1\nboundary all: u = 0\n",
     "the dimension must be a whole number", 1),
    ("space x\ntime t in [1, 0]\ndomain interval(x: [0, 1])\nfield u\nequation dt(u) = d(u, x, 2)\n"
     "boundary all: u = 0\ninitial u = 0\n", "the time interval [1, 0] is empty", 2),
    ("space x\ntime t in [0, T]\ndomain interval(x: [0, 1])\nfield u\nequation dt(u) = d(u, x, 2)\n"
     "boundary all: u = 0\ninitial u = 0\n", "undefined name `T`", 2),
    ("space x\ndomain interval(x: [0, 1])\nparam u = 1\nfield u\nequation -d(u, x, 2) = 1\nboundary all: u = 0\n",
     "duplicate name `u`", 4),
    ("space x\ndomain interval(x: [0, 1])\nlet g = q\nfield u\nequation -d(u, x, 2) = g\nboundary all: u = g\n",
     "undefined name `q`", 3),
    ("space x\ndomain interval(x: [0, 1])\nfield u\nexact u = sin(x)*kk\nequation -d(u, x, 2) = -d(exact(u), x, 2)\n"
     "boundary all: u = exact(u)\n", "undefined name `kk`", 4),
    ("field u\nspace x\ndomain interval(x: [0, 1])\nequation -d(u, x, 2) = 1\nboundary all: u = 0\n",
     "fields need coordinates", 1),
    ("param k = kk\nparam d = k\nspace x[1..d]\ndomain ball(dim: 2, radius: 1)\nfield u\nequation -lap(u) = 1\n"
     "boundary all: u = 0\n", "undefined name `kk`", 1),
])
def test_errors_that_follow_from_a_first_one_are_not_reported(text, message, line):
    errs = errors_of(text)
    assert [e.message for e in errs if message not in e.message] == [], [str(e) for e in errs]
    assert errs[0].line == line


def test_a_name_used_above_its_declaration_says_where_it_is_declared():
    text = LINE + "let g = a\nparam a = 1\nequation -d(u, x, 2) = g\nboundary all: u = 0\n"
    the_error(text, "`a` is declared later, at line 5", 4, "a", hint="move the declaration up")
    the_error(LINE + "param b = c, c = 2\nequation -d(u, x, 2) = b\nboundary all: u = 0\n",
              "`c` is declared later, further on this line, at column 14", 4, "c")
    the_error(LINE + "param a = a + 1\nequation -d(u, x, 2) = a\nboundary all: u = 0\n",
              "`a` is used in its own declaration", 4, "a +")


@pytest.mark.parametrize("value", ["1_0", "\uff11\uff10", "1 0"])
def test_set_takes_plain_ascii_numbers(value):
    from symop.cli import parse_settings

    assert parse_settings(["n=16", "split=strang", "k=-2.5e-1"]) == {"n": "16", "split": "strang", "k": "-2.5e-1"}
    if value == "1 0":  # not a number to Python either: refused later, by the option or parameter it sets
        assert parse_settings([f"n={value}"]) == {"n": value}
        return
    with pytest.raises(SymopError, match="write a number with the digits 0-9 only"):
        parse_settings([f"n={value}"])
