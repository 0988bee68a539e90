"""One conversation of ``insightforge chat``: the turns so far, one request per prompt,
the answer printed, the exchange recorded in the history.

A one-shot ``chat "prompt"`` is a conversation of one turn (or one more turn of an earlier
conversation with ``-c``/``--cid``); the interactive chat (:mod:`insightforge.cli._repl`)
is the same object asked again and again. Printing rules live in
:mod:`insightforge.cli._answer`, the stderr extras in :mod:`insightforge.cli._report`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import attrs
import click

from insightforge.cli._answer import ending, print_stream
from insightforge.cli._history import Exchange, History, now, redact
from insightforge.cli._report import Extras
from insightforge.cli._status import StatusLine
from insightforge.secrets import scrub
from insightforge.types import Message

__all__ = ["Conversation", "Template"]


@attrs.frozen
class Template:
    """What every request of a conversation carries.

    Attributes:
        system: the system prompt. model: the model (``None``: the instance's).
        temperature, max_tokens: sampling settings. options: provider options (``-o``).
        tags: request tags (``--tag``, with ``source=cli``).
    """

    system: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    tags: Mapping[str, str] = attrs.field(factory=dict)


class Conversation:
    """The turns of one conversation and how to ask the next."""

    def __init__(self, llm: Any, template: Template, *, cid: str, earlier: list[Message],
                 history: History | None, report: Extras, status: StatusLine | None,
                 out: TextIO | None = None) -> None:
        self.llm = llm
        self.template = template
        self.cid = cid
        self.earlier = earlier
        self.history = history
        self.report = report
        self.status = status
        self.out = out or sys.stdout

    def _clear(self) -> None:
        if self.status is not None:
            self.status.clear()

    def _request(self, prompt: str, streaming: bool) -> Any:
        from insightforge.types import ChatRequest

        t = self.template
        messages = [Message("system", t.system)] if t.system else []
        messages += [*self.earlier, Message("user", prompt)]
        return ChatRequest(messages=messages, model=t.model, temperature=t.temperature,
                           max_tokens=t.max_tokens, stream=streaming, options=dict(t.options),
                           tags=dict(t.tags))

    def turn(self, prompt: str, *, streaming: bool, as_json: bool = False) -> int:
        """Ask ``prompt`` after the earlier turns; print, report, record. The exit code:
        0, or the code of an answer that did not end normally (docs/cli.md)."""
        from insightforge.serialize import to_dict

        streaming = streaming and not as_json
        with self.report.errors():
            result = self.llm(self._request(prompt, streaming))
            if streaming:
                response = print_stream(result, self.out, before=self._clear)
            else:
                response = result
                self._clear()
                if as_json:
                    click.echo(json.dumps(to_dict(response), indent=2, default=str),
                               file=self.out)
                elif response.text:
                    click.echo(response.text, file=self.out)
        self.report.response(response)
        self._record(prompt, response)
        self.earlier += [Message("user", prompt), Message("assistant", response.text)]
        end = ending(response.finish_reason)
        if end is None:
            return 0
        click.echo(f"Error: {end.message}", err=True)
        return end.code

    def _record(self, prompt: str, response: Any) -> None:
        if self.history is None:
            return
        cost = response.cost_usd
        exchange = Exchange(
            self.cid, now(), response.provider, response.model,
            None if self.template.system is None else redact(self.template.system),
            redact(prompt), redact(response.text), response.finish_reason,
            response.usage.input_tokens, response.usage.output_tokens,
            None if cost is None else format(cost, "f"),
            json.dumps(dict(self.template.tags), sort_keys=True))
        try:
            self.history.add(exchange)
        except Exception as exc:  # the answer is printed: a history failure only warns
            click.echo(f"Warning: the exchange was not saved in {self.history.path} "
                       f"({type(exc).__name__}: {scrub(str(exc))}); chat -c will not see "
                       "it", err=True)
