"""Continuing a stream that was cut: the pure half — what to ask, and what to pass on.

When a stream fails after some of its text reached the caller, a layer that tries again
(``Retry`` on the same route, ``Fallback`` on the next) asks for the rest in one of two ways:

* **prefill** — where every route of the target declares ``Route.prefill``: the same
  conversation plus the delivered text as a final assistant message, so the model continues
  it (trailing whitespace is left off the prefill, since Anthropic rejects it, and is
  expected back at the start of the continuation);
* **restart** — elsewhere: the original request again, whose answer must *begin with* what
  was delivered; only the part beyond it is passed on.

Either way :class:`Splice` watches the continuation's text: it passes on exactly the part
that extends what the caller already has, and says so when the continuation does not
extend it (the stream then ends with :class:`~insightforge.errors.StreamInterrupted`, never
with a wrong answer). No I/O here.
"""

from __future__ import annotations

import attrs

from insightforge.types import ChatRequest, Chunk, Message, Route

__all__ = ["Splice", "continuation", "prefill_ok", "text_only"]


class Splice:
    """Pure: which part of a continuation's text extends what was delivered.

    Attributes:
        delivered: the text the caller already has.
        seen: the continuation's answer so far, ``base`` (the prefill it was given) first.
    """

    __slots__ = ("delivered", "seen")

    def __init__(self, delivered: str, base: str = "") -> None:
        self.delivered = delivered
        self.seen = base

    def feed(self, text: str) -> str | None:
        """The part of the continuation's next ``text`` to pass on ("" while it is still
        repeating what was delivered), or ``None`` when it departs from it."""
        start = len(self.seen)
        self.seen += text
        end, limit = len(self.seen), len(self.delivered)
        if start < limit and self.seen[start:min(end, limit)] != self.delivered[start:end]:
            return None
        return self.seen[limit:] if start <= limit else text

    @property
    def caught_up(self) -> bool:
        """The continuation has repeated everything that was delivered."""
        return len(self.seen) >= len(self.delivered)


def text_only(chunk: Chunk) -> bool:
    """A chunk a cut stream can be continued after: text (or nothing), no tool-call or
    reasoning pieces, which a continuation could not line up."""
    return not chunk.tool_calls and not chunk.thinking


def prefill_ok(request: ChatRequest, routes: tuple[Route, ...], delivered: str) -> bool:
    """Whether to continue with the delivered text as a prefill: every route the target
    may reach declares it, there is text to continue, and the request asks for plain text
    (a JSON answer or a tool call is restarted whole instead)."""
    return (bool(routes) and all(route.prefill for route in routes)
            and bool(delivered.strip()) and request.response_format is None
            and not request.tools)


def continuation(request: ChatRequest, delivered: str,
                 prefill: bool) -> tuple[ChatRequest, str]:
    """``(the request to send, the text its answer continues)`` for a cut stream."""
    if not prefill:
        return (request if request.stream else attrs.evolve(request, stream=True)), ""
    base = delivered.rstrip()
    messages = (*request.messages, Message("assistant", base))
    return attrs.evolve(request, messages=messages, stream=True), base
