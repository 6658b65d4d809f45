"""Parse equation text into a Lark syntax tree, with readable syntax errors.

The grammar lives in ``grammars/symop.lark`` (installed as ``symop.grammars``).
Text is parsed by the grammar alone: nothing in a file ever reaches Python's
``eval``, ``exec`` or ``sympify``.

Newlines end statements, except inside brackets: :class:`BracketPostLexer`
drops them there and reports unbalanced brackets with the position of the
bracket at fault.  It also keeps keywords whole words: ``spacex`` is not
``space x``.

Before the grammar runs, the text is measured against the size limits of
:mod:`symop.lang.limits` (file and statement length); after it, the depth of
the syntax tree, without recursion, so that no later pass recurses deeper
than the limit.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Iterator

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from symop.errors import Position, Source, SourceError
from symop.lang import limits

OPENERS = {"(": ")", "[": "]"}
CLOSERS = {")": "(", "]": "["}
STATEMENT_KEYWORDS = (
    "problem", "space", "time", "domain", "param", "let", "field",
    "equation", "boundary", "initial", "exact", "solve",
)


class BracketPostLexer:
    """Drops newlines inside brackets and checks that brackets balance."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        stack: list[Token] = []
        previous: Token | None = None
        for tok in stream:
            check_word_boundary(previous, tok)
            previous = tok
            if tok.type == "_NL":
                if stack:
                    continue
                yield tok
                continue
            if tok.value in OPENERS and tok.type not in ("STRING", "NAME", "NUMBER"):
                stack.append(tok)
            elif tok.value in CLOSERS and tok.type not in ("STRING", "NAME", "NUMBER"):
                if not stack:
                    raise SourceError(
                        f"unbalanced `{tok.value}`: there is no `{CLOSERS[tok.value]}` to close",
                        Position(tok.line, tok.column),
                        hint=f"remove this `{tok.value}` or add the missing `{CLOSERS[tok.value]}` before it",
                    )
                opener = stack.pop()
                if OPENERS[opener.value] != tok.value:
                    raise SourceError(
                        f"`{tok.value}` closes the `{opener.value}` opened at line {opener.line}, column {opener.column}",
                        Position(tok.line, tok.column),
                        hint=f"close it with `{OPENERS[opener.value]}` instead",
                    )
            yield tok
        if stack:
            opener = stack[-1]
            raise SourceError(
                f"unbalanced `{opener.value}`: it is never closed",
                Position(opener.line, opener.column),
                hint=f"add the missing `{OPENERS[opener.value]}`",
            )


def _is_keyword(tok: Token) -> bool:
    return tok.type not in ("NAME", "NUMBER", "STRING") and str(tok).isalpha()


def _is_word(tok: Token) -> bool:
    return tok.type in ("NAME", "NUMBER") or _is_keyword(tok)


def check_word_boundary(previous: Token | None, tok: Token) -> None:
    """A keyword is a whole word: ``spacex`` or ``fieldu`` is an error, not ``space x``.

    The lexer matches the keyword ``space`` at the start of ``spacex`` when
    only keywords may start a statement; here two word tokens that touch,
    one of them a keyword, are refused.
    """
    if previous is None or not (_is_word(previous) and _is_word(tok)):
        return
    if not (_is_keyword(previous) or _is_keyword(tok)):
        return
    if previous.end_pos != tok.start_pos or previous.end_pos is None:
        return
    word = str(previous) + str(tok)
    keyword = str(previous) if _is_keyword(previous) else str(tok)
    pieces = f"{previous} {tok}"
    raise SourceError(
        f"unexpected `{limits.abbreviate(word)}`: `{keyword}` is a keyword and must stand apart from the word beside it",
        Position(previous.line, previous.column, max(1, len(word))),
        hint=f"did you mean `{limits.abbreviate(pieces)}`?",
    )


def grammar_text() -> str:
    """The Lark grammar of the language."""
    return resources.files("symop.grammars").joinpath("symop.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        postlex=BracketPostLexer(),
        propagate_positions=True,
        maybe_placeholders=False,
    )


EXPECTED_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a quoted string",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "EQUAL": "`=`",
    "COLON": "`:`",
    "COMMA": "`,`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "POW": "`^`",
    "COMPARE": "a comparison",
}


def _describe_expected(expected: set[str]) -> str:
    names = []
    for e in sorted(expected):
        if e in EXPECTED_NAMES:
            names.append(EXPECTED_NAMES[e])
        elif e.isupper() and e.lower() in STATEMENT_KEYWORDS:
            names.append(f"`{e.lower()}`")
    names = sorted(set(names))
    if not names:
        return ""
    if len(names) > 4:
        return "a statement or expression"
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1]


#: characters that look like the language's own, and what to write instead
LOOKALIKES = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*", "\u2217": "*",
    "\u00f7": "/", "\u2215": "/", "\u00b2": "^2", "\u00b3": "^3", "\u03c0": "pi", "\u2264": "<=", "\u2265": ">=",
    "\u2260": "!=", "\u201c": '"', "\u201d": '"', "\u00a0": "a plain space", "\u2009": "a plain space",
    "\uff08": "(", "\uff09": ")", "\uff1d": "=", "\uff0c": ",", "\uff1a": ":",
}


def _unexpected_character(char: str, text: str, line: int, column: int, source: Source) -> SourceError:
    """The error for a character no token starts with, with the fix where one is likely."""
    import unicodedata

    pos = Position(line, column)
    if char == '"':
        if '"' not in text[column:]:
            return SourceError("this string is not closed: a title ends with `\"` on the same line", pos,
                               'add the closing `"`', source)
        return SourceError("a quoted string can stand only as the title on the `problem` line", pos,
                           'write `problem name "title"`', source)
    hint = None
    name = ""
    if not char.isascii():
        name = f" ({unicodedata.name(char, f'U+{ord(char):04X}')})"
        if char in LOOKALIKES:
            fix = LOOKALIKES[char]
            hint = f"use {fix}" if fix.startswith("a ") else f"use `{fix}`"
        elif unicodedata.category(char) == "Nd":
            hint = "write numbers with the digits 0-9"
        else:
            hint = "equation files are written in ASCII, apart from comments and titles"
    elif char == "'":
        hint = ('titles are double-quoted: `problem name "title"`' if text.lstrip().startswith("problem")
                else 'the language has no single-quoted strings; a title is double-quoted: `problem name "title"`')
    elif char in "`;{}$@!|&":
        hint = "the language has no strings, attributes or statements of other languages; see the README for its forms"
    if char == "=" and text[column - 2 : column] == "!=":
        hint = "write `if(a == b, 0, 1)` and swap the branches instead of `!=`"
    return SourceError(f"unexpected character `{char}`{name}", pos, hint, source)


def _juxtaposed(tok: Token, prev: Token | None, source: Source) -> tuple[str, str] | None:
    """The message and hint for two operands side by side (``2x``, ``2(x)``, ``sin x``, ``1e``), or None."""
    from symop.lang.names import FUNCTIONS, OPERATORS

    if prev is None or tok.type not in ("NAME", "NUMBER", "LPAR"):
        return None
    touching = prev.end_pos is not None and prev.end_pos == tok.start_pos
    if prev.type == "NUMBER" and tok.type == "NAME" and touching and str(tok) in ("e", "E"):
        return (f"unexpected `{tok}` after the number `{prev}`: an exponent needs digits",
                f"write e.g. `{prev}e3` or `{prev}e-3`; for {prev} times the constant e, write `{prev}*e`")
    if prev.type == "NAME" and str(prev) in {**FUNCTIONS, **OPERATORS} and tok.type != "LPAR":
        return (f"unexpected `{tok}` after the function `{prev}`", f"call with parentheses: write `{prev}({tok})`")
    if prev.type in ("NUMBER", "RPAR"):
        left = "(...)" if prev.type == "RPAR" else str(prev)
        right = "(...)" if tok.type == "LPAR" else str(tok)
        hint = f"multiply explicitly with `*`: write `{left}*{right}`"
        first = source.line(tok.line).split("#")[0].split()
        if first and first[0] in ("space", "time", "domain", "field", "problem", "solve"):
            return None  # no products on these lines: the grammar's own message is the better one
        if not touching and first and first[0] == "param":
            hint += ", or separate two parameters with `,`"
        return (f"unexpected `{tok}` right after `{left if prev.type == 'NUMBER' else ')'}`", hint)
    return None


def _syntax_error(err: UnexpectedInput, source: Source) -> SourceError:
    line = getattr(err, "line", None) or 1
    column = getattr(err, "column", None) or 1
    if isinstance(err, UnexpectedCharacters):
        text = source.line(line)
        char = text[column - 1] if 0 < column <= len(text) else "?"
        return _unexpected_character(char, text, line, column, source)
    if isinstance(err, UnexpectedEOF):
        return SourceError(
            "the file ends in the middle of a statement",
            Position(max(1, len(source.text.splitlines())), 1),
            "finish the last statement",
            source,
        )
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    expected = _describe_expected(set(err.expected))
    if tok.type == "$END":
        return SourceError("the file ends in the middle of a statement", Position(line, column), "finish the last statement", source)
    if tok.type == "_NL":
        msg = "the statement ends too early"
        if expected:
            msg += f"; expected {expected}"
        return SourceError(msg, Position(tok.line, tok.column), None, source)
    value = str(tok.value)
    msg = f"unexpected `{value}`"
    if expected:
        msg += f"; expected {expected}"
    hint = None
    first = source.line(tok.line).split("#")[0].strip().split(" ")[0] if tok.line else ""
    if tok.line and tok.column == _first_column(source.line(tok.line)):
        import difflib

        close = difflib.get_close_matches(value, STATEMENT_KEYWORDS, n=1)
        hint = (
            f"did you mean `{close[0]}`?"
            if close
            else "a statement starts with one of: " + ", ".join(STATEMENT_KEYWORDS)
        )
    elif first == "space" and value == "..":
        hint = "write an indexed coordinate as `x[1..d]`"
    else:
        history = getattr(err, "token_history", None) or []
        side_by_side = _juxtaposed(tok, history[-1] if history else None, source)
        if side_by_side is not None:
            msg, hint = side_by_side
    return SourceError(msg, Position(tok.line, tok.column, max(1, len(value))), hint, source)


def _first_column(text: str) -> int:
    return len(text) - len(text.lstrip()) + 1


def parse_tree(text: str, filename: str = "<string>") -> Tree:
    """Parse ``text`` into a syntax tree; raise :class:`SourceError` on bad syntax."""
    source = Source(text, filename)
    check_text(source)
    if not text.endswith("\n"):
        text = text + "\n"
    try:
        tree = _parser().parse(text)
    except SourceError as err:
        raise err.with_source(source) from None
    except UnexpectedInput as err:
        raise _syntax_error(err, source) from None
    check_nesting(tree, source)
    statements = [c for c in tree.children if isinstance(c, Tree)]
    if len(statements) > limits.MAX_STATEMENTS:
        extra = statements[limits.MAX_STATEMENTS]
        raise SourceError(
            f"the file has {limits.count(len(statements))} statements; equation files are limited to "
            f"{limits.count(limits.MAX_STATEMENTS)}", Position(extra.meta.line, extra.meta.column),
            "an equation file states one problem", source)
    return tree


def _chain(parent: Tree, child: Tree | Token) -> bool:
    """Whether ``child`` continues ``parent``'s chain (``a + b + c``, ``- - x``): no deeper for the limit."""
    if not isinstance(child, Tree) or child.data != parent.data:
        return False
    if parent.data == "signed":
        return True
    if parent.data == "binop" and child is parent.children[0]:
        return (str(parent.children[1]) in "+-") == (str(child.children[1]) in "+-")
    return False


def check_nesting(tree: Tree, source: Source) -> None:
    """Refuse a syntax tree nested deeper than :data:`~symop.lang.limits.MAX_NESTING`.

    Brackets, calls and powers count one level each; a long sum, product or
    run of signs counts as one (the converter folds those without recursion).
    Walked with an explicit stack, so the check itself cannot overflow.
    """
    stack: list[tuple[Tree, int]] = [(c, 1) for c in tree.children if isinstance(c, Tree)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_NESTING:
            meta = node.meta
            pos = Position(getattr(meta, "line", 1), getattr(meta, "column", 1))
            raise SourceError(
                f"the expression is nested more than {limits.MAX_NESTING} deep (brackets, calls and powers "
                "inside one another)",
                pos, "write it with fewer levels, e.g. by naming inner parts with `let`", source)
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, depth if _chain(node, child) else depth + 1))


def check_brackets(source: Source) -> None:
    """Report the first unbalanced bracket, before the grammar sees the text.

    A bracket left open swallows the following lines, so the grammar would
    complain far from the cause; this scan points at the bracket itself.
    """
    stack: list[tuple[str, int, int]] = []
    for number, line in enumerate(source.text.splitlines(), start=1):
        in_string = False
        for column, char in enumerate(line, start=1):
            if char == '"':
                in_string = not in_string
            if in_string:
                continue
            if char == "#":
                break
            if char in OPENERS:
                stack.append((char, number, column))
            elif char in CLOSERS:
                if not stack:
                    raise SourceError(
                        f"unbalanced `{char}`: there is no `{CLOSERS[char]}` to close",
                        Position(number, column),
                        f"remove this `{char}` or add the missing `{CLOSERS[char]}` before it",
                        source,
                    )
                opener, oline, ocol = stack.pop()
                if OPENERS[opener] != char:
                    raise SourceError(
                        f"`{char}` closes the `{opener}` opened at line {oline}, column {ocol}",
                        Position(number, column),
                        f"close it with `{OPENERS[opener]}` instead",
                        source,
                    )
    if stack:
        opener, oline, ocol = stack[-1]
        raise SourceError(f"unbalanced `{opener}`: it is never closed", Position(oline, ocol),
                          f"add the missing `{OPENERS[opener]}`", source)


def check_sizes(source: Source) -> None:
    """Refuse a file or a statement longer than the limits, before anything parses it.

    A statement runs from its first line to the line where its brackets close.
    """
    if len(source.text) > limits.MAX_FILE_CHARS:
        raise SourceError(
            f"the file has {limits.count(len(source.text))} characters; equation files are limited to "
            f"{limits.count(limits.MAX_FILE_CHARS)}", None, "an equation file states one problem", source)
    depth = 0
    start, length = 1, 0
    statements = 0
    for number, line in enumerate(source.text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        if depth == 0:
            start, length = number, 0
            if code.strip():
                statements += 1
                if statements > limits.MAX_STATEMENTS:
                    raise SourceError(
                        f"the file has more than {limits.count(limits.MAX_STATEMENTS)} statements, the limit on "
                        "an equation file", Position(number, 1), "an equation file states one problem", source)
        length += len(code)
        depth = max(0, depth + sum(code.count(c) for c in "([") - sum(code.count(c) for c in ")]"))
        if length > limits.MAX_STATEMENT_CHARS:
            raise SourceError(
                f"this statement has more than {limits.count(limits.MAX_STATEMENT_CHARS)} characters, the limit "
                "on one statement", Position(start, 1), "split it with `let` names", source)


def check_text(source: Source) -> None:
    """Reject empty and binary input, oversized files and statements, unbalanced brackets."""
    if "\x00" in source.text:
        raise SourceError("the file is binary, not an equation file", None, "pass a .pde text file", source)
    check_sizes(source)
    stripped = [ln.split("#")[0].strip() for ln in source.text.splitlines()]
    if not any(stripped):
        raise SourceError(
            "the file is empty: it declares no equation",
            None,
            "an equation file needs at least `space`, `domain`, `field` and `equation` lines",
            source,
        )
    check_brackets(source)
