"""What ``chat`` and ``embed`` print on stderr beside the answer: the trace and the usage line.

``--trace`` prints the response's trace events (what the layers did: attempts, fallbacks,
cache hits, budget reservations), one per line, after the answer — or, when the request
fails, the error's trace before the one-line error. ``--usage`` prints one ``key=value``
line: provider, model, tokens, cost. ``-v``/``--verbose`` turns both on. Everything here
goes to stderr, so stdout stays the answer alone (or the JSON) and pipes are unaffected.

This module only formats and prints; it never builds a stack or sends a request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import attrs
import click

from insightforge.errors import InsightForgeError
from insightforge.secrets import scrub
from insightforge.types import TraceEvent

__all__ = ["Extras", "trace_lines", "usage_line"]


def trace_lines(events: Iterable[TraceEvent]) -> list[str]:
    """One ``trace: layer.event: detail`` line per event, oldest first (secrets scrubbed)."""
    return [f"trace: {scrub(str(event))}" for event in events]


def usage_line(*, provider: str, model: str, input_tokens: int, output_tokens: int,
               cost_usd: Decimal | None, cached: bool = False) -> str:
    """``usage: provider=P model=M input_tokens=N output_tokens=N cost_usd=X [cached]``.

    The cost is written in plain decimal notation, or ``unknown`` when the price is not.
    """
    cost = "unknown" if cost_usd is None else format(cost_usd, "f")
    return (f"usage: provider={provider} model={model} input_tokens={input_tokens} "
            f"output_tokens={output_tokens} cost_usd={cost}" + (" cached" if cached else ""))


@attrs.frozen
class Extras:
    """Which extras a command prints on stderr.

    Attributes:
        trace: print the trace events (``--trace``, or ``-v``).
        usage: print the usage line (``--usage``, or ``-v``).
    """

    trace: bool = False
    usage: bool = False

    @classmethod
    def from_flags(cls, ctx: click.Context, *, trace: bool, usage: bool,
                   verbose: bool) -> Extras:
        """The flags of one command, with the group's ``-v`` (``ctx.obj["verbose"]``)."""
        root = ctx.find_root().obj
        verbose = verbose or bool(isinstance(root, dict) and root.get("verbose"))
        return cls(trace=trace or verbose, usage=usage or verbose)

    def response(self, response: Any, *, trace: Iterable[TraceEvent] | None = None) -> None:
        """After the answer: the trace lines, then the usage line (as asked)."""
        if self.trace:
            for line in trace_lines(response.trace if trace is None else trace):
                click.echo(line, err=True)
        if self.usage:
            click.echo(usage_line(provider=response.provider, model=response.model,
                                  input_tokens=response.usage.input_tokens,
                                  output_tokens=response.usage.output_tokens,
                                  cost_usd=response.cost_usd,
                                  cached=bool(getattr(response, "cached", False))), err=True)

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """On a failure, print the error's trace (if asked) and let the error go on."""
        try:
            yield
        except InsightForgeError as exc:
            if self.trace:
                for line in trace_lines(getattr(exc, "trace", ())):
                    click.echo(line, err=True)
            raise
