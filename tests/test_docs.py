"""The documentation builds with warnings as errors, and every example in it runs.

``sphinx-build -W`` turns a broken cross-reference, a docstring that is not
valid reST or a page left out of the table of contents into a failure; the
doctest builder runs every example of the tutorial, the language reference and
the docstrings (on the CPU, in seconds).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

pytest.importorskip("sphinx", reason="the documentation needs sphinx: pip install -e \".[docs]\"")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """One output folder for the module: the doctest build reuses the html build's doctrees."""
    return tmp_path_factory.mktemp("docs")


def build(builder: str, out: Path) -> subprocess.CompletedProcess:
    """Run ``sphinx-build -W --keep-going -b BUILDER docs OUT/BUILDER`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder,
         "-d", str(out / "doctrees"), str(DOCS), str(out / builder)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )


def test_html_builds_without_warnings(out):
    result = build("html", out)
    assert result.returncode == 0, result.stdout + result.stderr
    html = out / "html"
    for page in ("index", "language", "cli", "solutions", "tutorial/first", "tutorial/plugin", "api/symop.api"):
        assert (html / f"{page}.html").is_file(), page
    # the command reference is generated from the parser: every core command has its section
    cli = (html / "cli.html").read_text(encoding="utf-8")
    for command in ("check", "show", "plugins", "run", "train", "mms", "converge", "compare", "bench"):
        assert f'id="symop-{command}"' in cli, command
    # the API reference is generated from the docstrings
    api = (html / "api" / "symop.api.html").read_text(encoding="utf-8")
    assert 'id="symop.api.solve"' in api


def test_examples_run(out):
    result = build("doctest", out)
    assert result.returncode == 0, result.stdout + result.stderr
    report = (out / "doctest" / "output.txt").read_text(encoding="utf-8")
    assert "0 failures in tests" in report
    ran = re.search(r"^\s*(\d+) tests$", report, re.MULTILINE)
    assert ran and int(ran.group(1)) > 0, report
