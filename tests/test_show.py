"""`symop show` prints a problem in the equation language, and what it prints reads back to the same problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy as sp

import symop
from symop.cli import main
from symop.display import describe, show_expr
from symop.writer import language_text, same_problem, write_problem

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.pde"))

#: what SymPy's own printer writes and the language does not read
SYMPY = re.compile(r"Derivative|Piecewise|Heaviside|\bAbs\(|\bMax\(|\bMin\(|\bEq\(|\bNe\(|\*\*|\bE\b|[&|~]")


def sympy_notation(text: str, problem) -> bool:
    """Whether ``text`` holds SymPy's notation: its names, ``**``, ``&``, or a field applied (``u(x, y)``)."""
    fields = "|".join(map(re.escape, problem.field_names))
    return bool(SYMPY.search(text) or re.search(rf"\b({fields})\(", text))


def shown_file(problem) -> str:
    """An equation file made of what ``symop show`` prints: the declarations (``write_problem``), then each
    equation, boundary, initial and exact line exactly as ``describe`` shows it."""
    head = [line for line in write_problem(problem).splitlines()
            if not line.startswith(("equation ", "initial ", "exact "))
            and not (line.startswith("boundary ") and "periodic(" not in line)]
    out, section = list(head), None
    for line in describe(problem).splitlines():
        if line and not line.startswith(" "):
            section = line
            continue
        body = line.strip()
        if not body:
            continue
        if section == "equations":
            out.append("equation " + body.split("]  ", 1)[1])
        elif section == "boundary conditions" and not body.startswith("periodic in"):
            out.append("boundary " + body.rsplit("  (", 1)[0])
        elif section == "initial conditions":
            out.append("initial " + body)
        elif section == "exact solutions":
            out.append("exact " + body)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_show_of_every_example_reads_back_to_the_same_problem(path):
    problem = symop.load(path)
    text = shown_file(problem)
    assert not sympy_notation(text.split("\nfield ", 1)[1], problem), text
    assert same_problem(problem, symop.parse(text)) == []


BOX = "space x, y\ntime t in [0, 1]\ndomain box(x: [0, 1], y: [0, 1])\nparam k = 2\nfield u\n"
FIRST = "boundary all: u = 0\ninitial u = 0\n"
SECOND = FIRST + "initial dt(u) = 0\n"
FOURTH = FIRST + "boundary all: dn(u) = 0\n"

#: every form of LANGUAGE.md in an equation `dt(u) = FORM` (or the equation given), the lines the equation needs,
#: and what show prints for the form (None: not checked, only read back)
FORMS = [
    ("2 + 1e-4 + 0.5", FIRST, None),
    ("x^2 + y**3 - x/y", FIRST, None),
    ("k*(x - 0.5)", FIRST, None),
    ("pi + e", FIRST, "e + pi"),
    ("exp(1)", FIRST, "e"),
    ("sin(x) + cos(x) + tan(x) + exp(x) + log(1 + x) + sqrt(1 + y) + tanh(x) + sinh(x) + cosh(y)", FIRST, None),
    ("abs(x - 0.5)", FIRST, "abs(x - 0.5)"),
    ("sign(x - 0.5)", FIRST, "sign(x - 0.5)"),
    ("min(x, y)", FIRST, "min(x, y)"),
    ("max(x, y, 0.25)", FIRST, None),
    ("if(x < 0.5, 1, 0)", FIRST, "if(x < 0.5, 1, 0)"),
    ("if(x <= 0.5 and y >= 0.25 or x == 0.3, x, y^2)", FIRST, None),
    ("if(x > 0.5, 1, if(y != 0.5, 2, 3))", FIRST, None),
    ("dx(u) + dy(u)", FIRST, None),
    ("d(u, x)", FIRST, "dx(u)"),
    ("d(u, x, 2)", FIRST, "d(u, x, 2)"),
    ("d(u, x, y)", FIRST, "d(u, x, y)"),
    ("lap(u)", FIRST, "lap(u)"),
    ("-lap(u)", FIRST, "-lap(u)"),
    ("k*lap(u)", FIRST, "k*lap(u)"),
    ("div((1 + x)*grad(u))", FIRST, None),
    ("dot(grad(u), (1, 2))", FIRST, None),
    ("norm(grad(u))^2", FIRST, None),
    ("sum(i, 1, 3, i*x^i)", FIRST, None),
    ("u*dx(u) + u^3", FIRST, "u*dx(u) + u^3"),
    ("d(u, x, 3, y)", FOURTH, "d(u, x, 3, y)"),
    ("-biharm(u)", FOURTH, "-biharm(u)"),
    ("dt(u, 2) = lap(u) - dt(u)", SECOND, "-dt(u) + lap(u)"),
    ("dt(u, 2) = lap(u) + dt(d(u, x))", SECOND, "dt(dx(u)) + lap(u)"),
]


@pytest.mark.parametrize("form, needs, printed", FORMS, ids=[f for f, _, _ in FORMS])
def test_every_language_form_prints_in_the_language_and_reads_back(form, needs, printed):
    equation = form if " = " in form else f"dt(u) = {form}"
    problem = symop.parse(BOX + f"equation {equation}\n" + needs)
    eq = problem.equations[0]
    lhs, rhs = show_expr(eq.lhs, problem), show_expr(eq.rhs, problem)
    assert not sympy_notation(lhs + " = " + rhs, problem), (lhs, rhs)
    if printed is not None:
        assert rhs == printed
    again = symop.parse(BOX + f"equation {lhs} = {rhs}\n" + needs).equations[0]
    assert again.residual == eq.residual or sp.expand(again.residual - eq.residual) == 0, (lhs, rhs)


def test_indexed_forms_read_back():
    text = "param d = 4\nspace x[1..d]\ndomain ball(dim: d, radius: 1)\nfield u\n"
    problem = symop.parse(text + "equation -lap(u) + d(u, x[1], 2, x[3]) = sum(i, 1, d, x[i]^2)\n"
                                 "boundary all: u = 0\n")
    eq = problem.equations[0]
    shown = f"{show_expr(eq.lhs, problem)} = {show_expr(eq.rhs, problem)}"
    assert shown == "d(u, x[1], 2, x[3]) - lap(u) = x[1]^2 + x[2]^2 + x[3]^2 + x[4]^2"
    back = symop.parse(text + f"equation {shown}\nboundary all: u = 0\n").equations[0]
    assert back.residual == eq.residual


def test_a_field_named_like_a_derivative_is_not_confused_with_one(capsys):
    """With fields `u` and `u_xx`, the old `u_xx` notation for derivatives printed `-u_xx - u_yy = u_xx`."""
    problem = symop.parse("space x, y\ndomain box(x: [0, 1], y: [0, 1])\nfield u, u_xx\n"
                          "equation -lap(u) = u_xx\nequation u_xx - d(u, x, 2) = 0\nboundary all: u = 0\n"
                          "boundary all: u_xx = 0\n")
    text = describe(problem)
    assert "[u]  -lap(u) = u_xx" in text
    assert "[u_xx]  -d(u, x, 2) + u_xx = 0" in text


def test_show_prints_the_sympy_forms_of_the_audit_in_the_language(tmp_path, capsys):
    path = tmp_path / "exprs.pde"
    path.write_text("space x, y\ndomain box(x: [0, 1], y: [0, 1])\nparam p2 = 1e-4\nfield u\n"
                    "equation -lap(u) = e + abs(x - 0.5) + max(x, y) + if(x == 0.3 or y >= 0.9, 1, 0) + p2\n"
                    "boundary all: u = 0\n")
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "params  p2 = 0.0001" in out
    assert "[u]  -lap(u) = p2 + if(x == 0.3 or y >= 0.9, 1, 0) + abs(x - 0.5) + max(x, y) + e" in out
    for sympy_form in ("E ", "Abs(", "Max(", "Piecewise", "Eq(", "u_xx", "Derivative"):
        assert sympy_form not in out


def test_show_prints_parameters_as_written_and_a_ball_in_one_dimension(tmp_path, capsys):
    assert main(["show", str(ROOT / "examples" / "gray_scott.pde")]) == 0
    assert "params  Du = 2e-05, Dv = 1e-05, F = 0.04, k = 0.06" in capsys.readouterr().out
    path = tmp_path / "ball.pde"
    path.write_text("space x[1..1]\ndomain ball(dim: 1, radius: 1)\nfield u\nequation -lap(u) = 1\n"
                    "boundary all: u = 0\n")
    assert main(["show", str(path)]) == 0
    assert "ball in 1 dimension centred" in capsys.readouterr().out


def test_language_text_never_fails_and_names_fields_without_a_problem():
    x, y, t = sp.symbols("x y t")
    u = sp.Function("u")(x, y, t)
    assert language_text(sp.Derivative(u, (x, 4))) == "d(u, x, 4)"
    assert language_text(sp.Derivative(u, t, x)) == "dt(dx(u))"
    assert language_text(sp.Max(x, y) + sp.E) == "max(x, y) + e"
    assert language_text(sp.oo) == "oo"  # no form in the language: SymPy's text, not an exception


def test_a_decimal_parameter_keeps_its_decimal_value():
    # the value was rounded to 15 digits before its conversion to a double: 2e-5 became 1.9999999999999998e-05
    problem = symop.parse("space x\ndomain interval(x: [0, 1])\nfield u\nparam Du = 2e-5\n"
                          "equation -Du*lap(u) = 1\nboundary all: u = 0\n")
    assert problem.params["Du"] == 2e-5
