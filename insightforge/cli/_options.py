"""Options ``chat`` and ``embed`` share: ``--trace``/``--usage``/``-v``, ``-q``, ``--tag
k=v`` and ``-o key=value``, and how their values are read.

``-o`` values are read as JSON when they parse (``-o seed=42``, ``-o logprobs=true``,
``-o stop='["END"]'``), else taken as text (``-o service_tier=flex``); they become the
request's ``options`` (provider parameters passed through). ``--tag`` values are always
text; they become the request's ``tags`` (who and why: budgets, rate limits and audit
records key on them; never sent upstream).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from insightforge.cli._errors import CommandError

__all__ = ["option_values", "pairs", "report_options", "request_options", "tag_values"]

F = TypeVar("F", bound=Callable[..., Any])


def report_options(fn: F) -> F:
    """``--trace``, ``--usage``, ``-v`` and ``-q``: the stderr extras of chat and embed."""
    fn = click.option("-q", "--quiet", is_flag=True,
                      help="No live status line on stderr while a call waits (retries, "
                      "fallbacks, rate limits); as the group's -q.")(fn)
    fn = click.option("-v", "--verbose", is_flag=True,
                      help="Same as --trace --usage, plus tracebacks on errors (as the "
                      "group's -v).")(fn)
    fn = click.option("--usage", "show_usage", is_flag=True,
                      help="After the answer, print one line on stderr: provider, model, "
                      "tokens, cost.")(fn)
    fn = click.option("--trace", "show_trace", is_flag=True,
                      help="After the answer, print what the layers did (retries, "
                      "fallbacks, cache, budget) on stderr, one event per line; on an "
                      "error, the error's trace before the error line.")(fn)
    return fn


def request_options(fn: F) -> F:
    """``-o key=value`` (repeatable) and ``--tag key=value`` (repeatable)."""
    fn = click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
                      help="Tag the request (repeatable): budgets, rate limits and the "
                      "audit log key on tags; they are never sent to the provider.")(fn)
    fn = click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
                      help="A provider option (repeatable), e.g. -o seed=42 -o "
                      "service_tier=flex; values are read as JSON when they parse.")(fn)
    return fn


def pairs(values: Iterable[str], flag: str) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict; anything else is a usage error naming ``flag``."""
    found: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"{flag} {item!r}: expected KEY=VALUE, e.g. {flag} "
                                   f"{'seed=42' if flag == '-o' else 'team=search'}")
        found[key.strip()] = value
    return found


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def option_values(values: Iterable[str]) -> dict[str, Any]:
    """``-o`` values: JSON when they parse, else text."""
    return {key: _value(value) for key, value in pairs(values, "-o").items()}


def tag_values(values: Iterable[str]) -> dict[str, str]:
    """``--tag`` values, with the CLI's own ``source=cli`` unless given."""
    return {"source": "cli", **pairs(values, "--tag")}
