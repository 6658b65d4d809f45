"""A Sphinx directive that writes the ``symop`` command reference from its argparse parsers.

``.. symop-cli::`` builds the parser with :func:`symop.cli.build_parser`, the one the ``symop``
command itself uses, and writes one section per sub-command: its help line, its usage, and each
argument with its help, default and choices. The reference therefore lists exactly the commands
and options of the installed version, including those a plugin adds.
"""

from __future__ import annotations

import argparse
import re
import textwrap

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


def _subparsers(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of every sub-command, in the order ``symop --help`` lists them."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                out.append((name, helps.get(name, ""), sub))
    return out


def _escape(text: str) -> str:
    """Help text as reST: `quoted` words become literals, other markup characters stay plain."""
    text = text.replace("\\", "\\\\").replace("*", "\\*").replace("|", "\\|").replace("_", "\\_")
    text = re.sub(r"`([^`]+)`", lambda m: "``" + m.group(1).replace("\\", "") + "``", text)
    return text.replace("`", "\\`") if text.count("`") % 2 else text


def _argument_lines(action: argparse.Action) -> list[str]:
    """One definition-list entry (reST lines) for an argparse argument."""
    if action.option_strings:
        names = ", ".join(action.option_strings)
        if action.nargs != 0:
            metavar = action.metavar or (action.dest.upper() if not action.choices else "{" + ",".join(map(str, action.choices)) + "}")
            names += f" {metavar}"
    else:
        names = str(action.metavar or action.dest)
    text = action.help or ""
    if text == argparse.SUPPRESS:
        return []
    text = text % {"default": action.default, "prog": "symop"} if "%(" in text else text
    extra = []
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        extra.append("one of " + ", ".join(f"``{c}``" for c in action.choices))
    if (action.option_strings and action.nargs != 0 and action.default not in (None, argparse.SUPPRESS)
            and "default" not in text):
        extra.append(f"default ``{action.default}``")
    if action.required and action.option_strings:
        extra.append("required")
    if isinstance(action, argparse._AppendAction) and "repeatable" not in text:
        extra.append("repeatable")
    if not text and action.metavar == "FILE":
        text = "an equation file (see the language reference)"
    body = _escape(" ".join(text.split()))
    if extra:
        body = (body + " " if body else "") + "(" + "; ".join(extra) + ")"
    return [f"``{names}``", f"   {body or 'positional argument'}", ""]


UNDERLINES = "-~^"


def reference_lines(parser: argparse.ArgumentParser, width: int = 88) -> list[str]:
    """The whole command reference as reST lines: the top-level options, then one section per command."""
    lines = ["Usage::", "", "   " + _usage(parser, width).replace("\n", "\n   "), ""]
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            lines += _argument_lines(action)
    for name, help_text, sub in _subparsers(parser):
        lines += _command_lines(f"symop {name}", help_text, sub, 0, width)
    return lines


def _command_lines(title: str, help_text: str, sub: argparse.ArgumentParser, depth: int, width: int) -> list[str]:
    """One section for a (sub-)command: help, usage, arguments, then its own sub-commands one level down."""
    lines = [title, UNDERLINES[depth] * len(title), ""]
    if help_text:
        lines += [_escape(help_text[:1].upper() + help_text[1:]).rstrip(".") + ".", ""]
    if sub.description and sub.description != help_text:
        lines += _text_lines(sub.description, sub)
    lines += ["::", "", "   " + _usage(sub, width).replace("\n", "\n   "), ""]
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            lines += [f"``{action.metavar or action.dest}``", "   a sub-command, one of: "
                      + ", ".join(f"``{n}``" for n in action.choices), ""]
            continue
        lines += _argument_lines(action)
    if sub.epilog:
        lines += _text_lines(sub.epilog, sub)
    for name, child_help, child in _subparsers(sub):
        lines += _command_lines(f"{title} {name}", child_help, child, min(depth + 1, len(UNDERLINES) - 1), width)
    return lines


def _text_lines(text: str, parser: argparse.ArgumentParser) -> list[str]:
    """A description or epilog as reST: preformatted (a literal block) when the parser keeps its
    layout (a ``Raw*HelpFormatter``), else one paragraph per blank-line-separated block, its
    whitespace collapsed as argparse collapses it."""
    if issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter):
        body = textwrap.dedent(text).strip("\n")
        return ["::", ""] + ["   " + line if line.strip() else "" for line in body.splitlines()] + [""]
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        out += [_escape(" ".join(block.split())), ""]
    return out


def _usage(parser: argparse.ArgumentParser, width: int) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=width)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return formatter.format_help().strip()


class SymopCli(SphinxDirective):
    """``.. symop-cli::``: the reference of every ``symop`` sub-command, generated from the parser."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from symop.cli import build_parser

        parser = build_parser()
        parser.prog = "symop"
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(reference_lines(parser), source="symop.cli"), container)
        return container.children


def setup(app):
    app.add_directive("symop-cli", SymopCli)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
