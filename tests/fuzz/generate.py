"""Inputs for fuzzing the equation language: mutation, random bytes, grammar-aware programs.

Every generator takes a :class:`random.Random` and returns bytes, so the long
runner (``run.py``) and the hypothesis test in the fast suite draw from the
same code.  Seeds are the example files and the snippets the tests parse.
"""

from __future__ import annotations

import ast
import random
from functools import lru_cache
from pathlib import Path

from symop.lang.names import FUNCTIONS, OPERATORS

try:
    from symop.model.domains import registry as _domains

    DOMAIN_KINDS = _domains.names()
except ImportError:  # an older symop, fuzzed for comparison
    DOMAIN_KINDS = ("interval", "box", "disk", "polygon", "ball")

ROOT = Path(__file__).resolve().parents[2]

STATEMENTS = ("problem", "space", "time", "domain", "param", "let", "field", "equation",
              "boundary", "initial", "exact", "solve")
WORDS = ("in", "as", "minus", "periodic", "and", "or", "all", "pi", "e", "t", "x", "y", "z", "u", "v")
NUMBERS = ("0", "1", "2", "0.5", "1e-4", "3.14159", "10", "100", "1e308", "1e-400", "1e999999999",
           "99999999999999999999999", "0.000000001", ".5", "1.", "7e+2", "2^2^2^2^2^2", "10^10^10",
           "10^5000", "1/0", "log(0)", "-1", "1e30", "1000")
PUNCT = ("(", ")", "[", "]", ",", ":", "=", "+", "-", "*", "/", "^", "**", "<", "<=", ">", ">=", "==", "!=",
         "..", "~", "\n", " ", "#", '"', "\\\n")
METHODS = ("fd", "fem", "pinn", "pino", "hypino", "insr")


@lru_cache(maxsize=1)
def seeds() -> tuple[str, ...]:
    """The example files and the equation snippets the language tests parse."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").rglob("*.pde"))]
    for name in ("test_language.py", "test_errors.py", "test_family.py", "test_limits.py"):
        path = ROOT / "tests" / name
        if path.exists():
            texts.extend(_snippets(path.read_text(encoding="utf-8")))
    unique = []
    for t in texts:
        if t not in unique:
            unique.append(t)
    return tuple(unique)


def _snippets(code: str) -> list[str]:
    """String constants of a test module that look like equation files (``A + "..."`` folded)."""
    env: dict[str, str] = {}

    def fold(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            a, b = fold(node.left), fold(node.right)
            return a + b if a is not None and b is not None else None
        return None

    tree = ast.parse(code)
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            value = fold(stmt.value)
            if value is not None:
                env[stmt.targets[0].id] = value
    out = []
    for node in ast.walk(tree):
        value = fold(node) if isinstance(node, (ast.Constant, ast.BinOp, ast.Name)) else None
        if value and "\n" in value and ("equation" in value or "space" in value):
            out.append(value)
    return out


# ------------------------------------------------------------------ mutation
def mutate(rng: random.Random, text: str | None = None, rounds: int | None = None) -> bytes:
    """A seed (or ``text``) changed by a few character, token and line edits."""
    pool = seeds()
    text = text if text is not None else rng.choice(pool)
    for _ in range(rounds if rounds is not None else rng.randint(1, 6)):
        text = _mutation(rng, text, pool)
    return text.encode("utf-8", "surrogatepass")


def _mutation(rng: random.Random, text: str, pool: tuple[str, ...]) -> str:
    i = rng.randint(0, len(text))
    j = min(len(text), i + rng.randint(0, 30))
    lines = text.split("\n")
    kind = rng.randrange(14)
    if kind == 0:  # delete a span
        return text[:i] + text[j:]
    if kind == 1:  # insert a token
        token = rng.choice(PUNCT + WORDS + NUMBERS + STATEMENTS + tuple(FUNCTIONS) + tuple(OPERATORS))
        return text[:i] + token + text[i:]
    if kind == 2:  # replace a character
        return text[:i] + rng.choice("()[],:=+-*/^<>#\n xyzu0123456789.elapdt\"'\\~") + text[i + 1:]
    if kind == 3:  # duplicate a line
        k = rng.randrange(len(lines))
        lines.insert(k, lines[k])
        return "\n".join(lines)
    if kind == 4:  # drop a line
        if len(lines) > 1:
            del lines[rng.randrange(len(lines))]
        return "\n".join(lines)
    if kind == 5:  # swap two lines
        a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]
        return "\n".join(lines)
    if kind == 6:  # a line from another seed
        other = rng.choice(pool).split("\n")
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(other))
        return "\n".join(lines)
    if kind == 7:  # replace a number by an extreme one
        digits = [k for k, c in enumerate(text) if c.isdigit()]
        if digits:
            k = rng.choice(digits)
            end = k
            while end < len(text) and (text[end].isalnum() or text[end] in ".+-") and end - k < 12:
                end += 1
            return text[:k] + rng.choice(NUMBERS) + text[end:]
        return text
    if kind == 8:  # wrap a span in many calls
        name = rng.choice(("sin", "exp", "lap", "biharm", "d", "abs", "dt", "grad", "div", "if", "sqrt", "-"))
        depth = rng.choice((2, 5, 20, 60, 300))
        span = text[i:j] or "x"
        if name == "-":
            return text[:i] + "-" * depth + span + text[j:]
        if name == "d":
            return text[:i] + "d(" * depth + span + ", x)" * depth + text[j:]
        if name == "if":
            return text[:i] + "if(x < 0.5, " * depth + span + ", 1)" * depth + text[j:]
        return text[:i] + f"{name}(" * depth + span + ")" * depth + text[j:]
    if kind == 9:  # a long chain
        op = rng.choice(("+", "*", "-", "^", "/", " and x < 1 or ", "+-"))
        return text[:i] + op.join([text[i:j] or "x"] * rng.choice((3, 50, 500, 2000))) + text[j:]
    if kind == 10:  # splice two seeds
        other = rng.choice(pool)
        k = rng.randint(0, len(other))
        return text[:i] + other[k:]
    if kind == 11:  # repeat a span
        return text[:i] + text[i:j] * rng.choice((2, 10, 100)) + text[j:]
    if kind == 12:  # a hostile line
        return text + "\n" + hostile_line(rng) + "\n"
    # kind 13: a random unicode character
    return text[:i] + chr(rng.choice((0x00A0, 0x2212, 0x00B2, 0x03C0, 0xFEFF, 0x200B, 0x0301, 0xD7FF,
                                       0x1F600, 0x0007, 0x000B, 0x000C, 0x0085, 0x2028))) + text[i:]


def hostile_line(rng: random.Random) -> str:
    """One statement built to cost: huge numbers, deep nesting, long sums, doubling names."""
    kind = rng.randrange(9)
    if kind == 0:
        return f"param q{rng.randrange(99)} = {rng.choice(NUMBERS)}"
    if kind == 1:
        return "let w = " + "+".join(["x"] * rng.choice((100, 500, 3000)))
    if kind == 2:
        return "let w = " + "sin(" * rng.choice((30, 60, 300)) + "x" + ")" * 300
    if kind == 3:
        return f"let w = sum(i, 1, {rng.choice(('10^7', '1000', '10^5000', '50', 'd'))}, i*x)"
    if kind == 4:
        return f"let w = d(u, x, {rng.choice(('1000', '1e30', '9', '8', '-1', '0.5', 'x'))})"
    if kind == 5:
        return "\n".join(f"let w{k + 1} = w{k}*w{k} + w{k}" for k in range(rng.choice((5, 20, 40))))
    if kind == 6:
        return "let w = " + "if(" * 3 + "x < 0.5, 1, 0) < 1, 2, 3) > 1, x, 1 - x)"
    if kind == 7:
        return "let w = " + "-" * rng.choice((10, 500, 5000)) + "x"
    return "let w = " + "x^" * rng.choice((3, 10, 80)) + "2"


# --------------------------------------------------------------- random bytes
def random_bytes(rng: random.Random) -> bytes:
    """Bytes: uniform noise, printable noise, or noise after a valid prefix."""
    kind = rng.randrange(4)
    n = rng.choice((0, 1, 5, 40, 200, 1000))
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(n))
    alphabet = "abcdefghijklmnopqrstuvwxyz()[],:=+-*/^<>#\n 0123456789.\"_~"
    if kind == 1:
        return "".join(rng.choice(alphabet) for _ in range(n)).encode()
    if kind == 2:
        prefix = rng.choice(seeds())
        return prefix[: rng.randint(0, len(prefix))].encode() + bytes(rng.randrange(256) for _ in range(n))
    return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(n)).encode("utf-8", "surrogatepass")


# ---------------------------------------------------------- grammar-aware
class _Program:
    """Random but mostly well-formed equation files, following the grammar."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.indexed = rng.random() < 0.15
        self.coords = ["x"] if self.indexed else rng.sample(["x", "y", "z"], rng.choice((1, 1, 2, 2, 3)))
        self.time = rng.random() < 0.5
        self.params: list[str] = []
        self.lets: list[str] = []
        self.fields: list[str] = []
        self.dim = rng.choice((2, 3, 5, 100))
        self.constant = False

    def number(self) -> str:
        r = self.rng
        if r.random() < 0.03:
            return r.choice(NUMBERS)
        return r.choice(("0", "1", "2", "3", "0.5", "0.1", "1e-3", "4", "10", str(r.randint(0, 99)),
                         f"{r.uniform(-5, 5):.3g}".lstrip("-")))

    def coord(self) -> str:
        if self.indexed:
            return f"x[{self.rng.randint(1, self.dim)}]"
        return self.rng.choice(self.coords)

    def leaf(self, fields: bool) -> str:
        r = self.rng
        choices = [self.number(), "pi", "e"]
        if self.params:
            choices.append(r.choice(self.params))
        if self.constant:
            return r.choice(choices)
        choices.append(self.coord())
        if self.lets:
            choices.append(r.choice(self.lets))
        if self.time:
            choices.append("t")
        if fields and self.fields:
            choices += [r.choice(self.fields)] * 2
        if r.random() < 0.03:
            choices.append(r.choice(("q", "lapl", "k2", "xx")))
        return r.choice(choices)

    def expr(self, depth: int, fields: bool = True) -> str:
        r = self.rng
        if depth <= 0 or r.random() < 0.25:
            return self.leaf(fields)
        kind = r.randrange(16)
        sub = lambda: self.expr(depth - 1, fields)  # noqa: E731
        if kind <= 3:
            return f"{sub()} {r.choice('+-*/')} {sub()}"
        if kind == 4:
            return f"{sub()}^{r.choice(('2', '3', '0.5', '-1', sub()))}"
        if kind == 5:
            return f"-{sub()}"
        if kind == 6:
            name = r.choice([n for n, (_, a) in FUNCTIONS.items() if a == 1])
            return f"{name}({sub()})"
        if kind == 7:
            return f"{r.choice(('min', 'max'))}({sub()}, {sub()})"
        if kind == 8:
            return f"if({self.cond(depth - 1, fields)}, {sub()}, {sub()})"
        if kind == 9 and fields and self.fields and not self.constant:
            u = r.choice(self.fields)
            arg = u if r.random() < 0.6 else sub()
            form = r.randrange(6)
            if form == 0:
                return f"d({arg}, {self.coord()}, {r.choice(('1', '2', '3', '4'))})"
            if form == 1:
                return f"d({arg}, {self.coord()}, {self.coord()})"
            if form == 2 and not self.indexed:
                return f"d{r.choice(self.coords)}({arg})"
            if form == 3 and self.time:
                return f"dt({arg}{r.choice(('', ', 2'))})"
            if form == 4:
                return f"lap({arg})"
            return f"div(grad({arg}))" if not self.indexed else f"biharm({arg})"
        if kind == 10 and not self.indexed and len(self.coords) > 1:
            vec = "(" + ", ".join(sub() for _ in self.coords) + ("," if len(self.coords) == 1 else "") + ")"
            return r.choice((f"div({vec})", f"norm({vec})", f"dot({vec}, {vec})"))
        if kind == 11 and not self.constant:
            top = r.choice(("3", "d", "5", str(self.dim)))
            body = "x[i]^2" if self.indexed else f"i*{sub()}"
            return f"sum(i, 1, {top}, {body})"
        if kind == 12:
            return f"({sub()})"
        if kind == 13 and self.fields and fields and r.random() < 0.3:
            return f"exact({r.choice(self.fields)})"
        return f"{sub()} {r.choice('+*')} {sub()}"

    def cond(self, depth: int, fields: bool) -> str:
        r = self.rng
        c = f"{self.expr(depth, fields)} {r.choice(('<', '<=', '>', '>=', '=='))} {self.expr(depth, fields)}"
        if r.random() < 0.3:
            c += f" {r.choice(('and', 'or'))} {self.cond(depth - 1, fields)}"
        return c

    def domain(self) -> str:
        r = self.rng
        if self.indexed:
            return f"ball(dim: {r.choice(('d', str(self.dim)))}, radius: {self.number()})"
        n = len(self.coords)
        kind = r.choice(DOMAIN_KINDS)
        if n == 1 or kind in ("interval", "box") or (n == 3 and kind in ("disk", "polygon")):
            word = "interval" if n == 1 and r.random() < 0.7 else "box"
            parts = ", ".join(f"{c}: [{r.choice(('0', '-1', '0.5', self.number()))}, {r.choice(('1', '2', '5', self.number()))}]"
                              for c in self.coords)
            text = f"{word}({parts})"
        elif kind == "disk":
            text = f"disk(center: ({self.number()}, {self.number()}), radius: {self.number()})"
        elif kind == "polygon":
            count = r.choice((3, 4, 6))
            text = "polygon(" + ", ".join(f"({self.number()}, {self.number()})" for _ in range(count)) + ")"
        else:
            text = f"ball(dim: {n}, radius: {self.number()})"
        if r.random() < 0.15 and n == 2:
            text += f" minus disk(center: (0.5, 0.5), radius: 0.{r.randint(1, 4)})" + r.choice(("", " as hole"))
        return text

    def text(self) -> str:
        r = self.rng
        out = []
        if r.random() < 0.5:
            out.append(f"problem p{r.randrange(99)} \"fuzzed\"")
        if self.indexed:
            out.append(f"param d = {self.dim}")
            self.params.append("d")
            out.append("space x[1..d]")
        else:
            out.append("space " + ", ".join(self.coords))
        if self.time:
            out.append(f"time t in [0, {r.choice(('1', '0.5', self.number()))}]")
        out.append("domain " + self.domain())
        for k in range(r.choice((0, 1, 2, 3))):
            name = f"k{k}"
            self.constant = r.random() < 0.95
            value = self.expr(2, fields=False) if r.random() < 0.7 else f"{self.number()}"
            self.constant = False
            if r.random() < 0.08 and not self.indexed:
                out.append(f"param {name} ~ field(modes: {r.choice(('1', '3', '0', '2.5'))}, "
                           f"amplitude: {self.number()}{r.choice(('', ', kinds: fourier', ', mean: 1', ', nope: 2'))})")
            elif r.random() < 0.15:
                out.append(f"param {name} in [{self.number()}, {self.number()}]")
            elif r.random() < 0.1:
                out.append(f"param {name} ~ {r.choice(('uniform(1, 2)', 'normal(0, 1)', 'loguniform(1, 10)'))}")
            else:
                out.append(f"param {name} = {value}")
            self.params.append(name)
        for k in range(r.choice((0, 0, 1, 2))):
            out.append(f"let f{k} = {self.expr(r.choice((2, 3, 6)), fields=False)}")
            self.lets.append(f"f{k}")
        self.fields = ["u"] if r.random() < 0.8 else ["u", "v"]
        out.append("field " + ", ".join(self.fields))
        if r.random() < 0.2:
            out.append(f"let g = {self.expr(3)}")
            self.lets.append("g")
        if r.random() < 0.1 and not self.indexed:
            out.append(f"boundary periodic({', '.join(r.sample(self.coords, 1))})")
        if r.random() < 0.3:
            u = self.fields[0]
            out.append(f"exact {u} = {self.expr(3, fields=False)}")
        for u in self.fields:
            lhs = f"dt({u})" if self.time else r.choice((f"-lap({u})", f"-d({u}, {self.coord()}, 2)"))
            out.append(f"equation {lhs} = {self.expr(r.choice((1, 2, 3, 4, 7)))}")
        for _ in range(r.choice((0, 1, 1, 2))):
            side = r.choice(("all", "all", "all", "left", "right", "top", "boundary", "side1", "hole", "nope"))
            u = r.choice(self.fields)
            lhs = r.choice((u, f"dn({u})", f"dn({u}) + 2*{u}"))
            out.append(f"boundary {side}: {lhs} = {self.expr(2, fields=False)}")
        if self.time:
            for u in self.fields:
                out.append(f"initial {u} = {self.expr(2, fields=False)}")
        if r.random() < 0.4:
            opts = ", ".join(f"{k}: {v}" for k, v in r.sample(
                [("n", "16"), ("dt", "1e-3"), ("split", "strang"), ("steps", "10"), ("order", "2")], r.randint(0, 3)))
            out.append(f"solve {r.choice(METHODS)}({opts})")
        if r.random() < 0.1:
            out.insert(r.randrange(len(out) + 1), hostile_line(r))
        return "\n".join(out) + "\n"


def program(rng: random.Random) -> bytes:
    """A grammar-aware random equation file."""
    return _Program(rng).text().encode("utf-8")


GENERATORS = {"mutation": mutate, "bytes": random_bytes, "grammar": program}


def draw(rng: random.Random, weights: dict[str, float] | None = None) -> tuple[str, bytes]:
    """(generator name, input) with the generators in proportion ``weights``."""
    weights = weights or {"mutation": 0.45, "bytes": 0.1, "grammar": 0.45}
    name = rng.choices(list(weights), list(weights.values()))[0]
    return name, GENERATORS[name](rng)
