"""The bounds that keep reading any equation file fast and finite.

Every limit is checked before SymPy sees the value it guards, and an input
past one gets a positioned error that names the limit.  The numbers are
generous for real problems (the examples stay far inside them) and small
enough that the slowest file allowed is read in seconds:

==========================  ===========  ==========================================
what                        limit        counted as
==========================  ===========  ==========================================
file size                   50,000       characters
statements                  500          per file
statement size              10,000       characters (a statement spans its bracketed lines)
nesting depth               50           brackets, calls and powers inside one another
expression depth            150          SymPy levels, ``let`` names included
derivative order            8            per variable, through operators and ``let`` names
number magnitude            1e±100       literals, powers of numbers, every constant value
number literal              100          characters
exponent                    1000         a number as an exponent, ``x^1000`` at most
``sum`` written out         200          terms (named coordinates)
``sum`` bounds              100,000      in magnitude (kept unexpanded in an indexed space)
indexed-space dimension     100,000      ``space x[1..d]``
random field                1000         ``modes`` and ``frequency`` of ``field(...)``
expression size             3,000        SymPy nodes, a shared part counted at every use
built in one file           6,000        distinct SymPy nodes, all statements together
errors                      20           reading stops there
==========================  ===========  ==========================================
"""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

MAX_FILE_CHARS = 50_000
MAX_STATEMENTS = 500
MAX_FILE_NODES = 6_000
MAX_ERRORS = 20
MAX_STATEMENT_CHARS = 10_000
MAX_NESTING = 50
MAX_EXPRESSION_DEPTH = 150
MAX_LITERAL_CHARS = 100
MAX_DERIVATIVE_ORDER = 8
MAX_MAGNITUDE_EXP = 100
MAX_MAGNITUDE = 10.0**MAX_MAGNITUDE_EXP
MAX_EXPONENT = 1000
MAX_SUM_TERMS = 200
MAX_SUM_BOUND = 100_000
MAX_DIMENSION = 100_000
MAX_FIELD_OPTION = 1000
MAX_NODES = 3_000


def count(n: int) -> str:
    """``20000`` as ``20,000``: a limit as it reads in a message."""
    return f"{n:,}"


def abbreviate(value: Any, width: int = 40) -> str:
    """A value as it reads in a message: huge numbers as ``about 1e+5000``, long text cut with ``…``.

    Never calls ``str`` on an integer of more than a few hundred digits (which
    Python refuses beyond 4300 digits).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return _abbreviate_int(value)
    if isinstance(value, sp.Integer):
        return _abbreviate_int(int(value.p))
    if isinstance(value, sp.Rational):
        if max(abs(value.p), value.q).bit_length() > 200:
            return "about " + _log_form(_log10_abs(value.p) - _log10_abs(value.q), value.p < 0)
    if isinstance(value, sp.Basic) and any(
        isinstance(a, sp.Rational) and max(abs(a.p), a.q).bit_length() > 200 for a in value.atoms(sp.Rational)
    ):
        return "an expression with numbers of hundreds of digits"
    text = str(value)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text


def _abbreviate_int(n: int) -> str:
    if n.bit_length() <= 200:
        text = str(n)
        return text if len(text) <= 20 else f"{float(n):.3g}"
    return "about " + _log_form(_log10_abs(n), n < 0)


def _log10_abs(n: int) -> float:
    n = abs(n)
    if n == 0:
        return -math.inf
    shift = max(0, n.bit_length() - 60)
    return math.log10(n >> shift) + shift * math.log10(2)


def _log_form(log10: float, negative: bool = False) -> str:
    exponent = math.floor(log10)
    mantissa = 10 ** (log10 - exponent)
    return f"{'-' if negative else ''}{mantissa:.1f}e{exponent:+d}"


def literal_log10(text: str) -> float | None:
    """log10 of the magnitude of a number literal (``1e999999999`` -> 999999999), None for zero.

    Read from the digits alone, so a literal that would take minutes to build
    as an exact number is measured in microseconds.
    """
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    if not digits:
        return None
    exp_text = exponent.lstrip("+-").lstrip("0") or "0"
    if len(exp_text) > 12:
        power = math.inf
    else:
        power = int(exp_text)
    if exponent.startswith("-"):
        power = -power
    # value = 0.digits * 10^(len(whole digits after stripping) ...): place of the leading digit
    lead = len(whole.lstrip("0")) - 1 if whole.lstrip("0") else -(len(frac) - len(frac.lstrip("0")) + 1)
    head = digits[:15]
    return lead + power + math.log10(int(head) / 10 ** (len(head) - 1))
