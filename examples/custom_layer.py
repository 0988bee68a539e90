"""A custom layer written the house way: ``Bulkhead(max_in_flight)``.

A bulkhead caps how many calls may be in flight through a stack at once and refuses the
next one at once (``BulkheadFull``) instead of letting it pile onto a struggling server —
a local Ollama on one GPU, a shared endpoint with a concurrency quota. It is small, but it
has every part a layer has (see docs/writing-a-layer.md):

* **the layer** — :class:`Bulkhead`, attrs-frozen configuration that validates its options
  when built, and ``__call__(inner)`` returning the handler;
* **the policy** — :class:`Slots`, a pure value: ``take()`` and ``give()`` return new
  values, so the decision is testable without threads or I/O;
* **the handler** — :class:`BulkheadHandler`, a ``Middleware`` whose sync ``__call__`` and
  async ``acall`` drivers are the same few lines around the same policy;
* **streams** — a stream holds its slot until it ends, fails *or is abandoned*: the slot
  goes back in whichever of ``on_end``/``on_error``/``on_close`` fires (``stream.wrap``
  passes ``close`` through to the provider). Forgetting ``on_close`` would leak a slot per
  abandoned stream until the bulkhead refused everything;
* **trace** — a ``bulkhead.admitted`` event on every answer, ``bulkhead.refused`` on the
  refusal, and the admission event on errors that pass through;
* **errors** — ours, from the core family: ``BulkheadFull`` is a ``RateLimited``, so code
  (and the gateway) that handles local limits handles it too; bad options are
  ``ConfigError`` naming the option and the fix;
* **registration** — :func:`register` makes ``- bulkhead: {max_in_flight: 4}`` work in a
  config file; a package would declare an entry point instead (see :func:`register`).

The slot count lives in the handler, so it is shared by every thread and task using one
stack, in one process. To cap calls across processes you would keep the count in a store
(docs/writing-a-store.md). Run it offline against the emulator:

    .venv/bin/python examples/custom_layer.py
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from insightforge import ChatRequest, ChatResponse, from_config, registry, stack
from insightforge.errors import ConfigError, InsightForgeError, RateLimited
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import EmbedResponse, TraceEvent

__all__ = ["Bulkhead", "BulkheadFull", "BulkheadHandler", "Slots", "main", "register"]

Answer = TypeVar("Answer", bound=ChatResponse | EmbedResponse)


# -- the policy: pure ----------------------------------------------------------------------
@attrs.frozen(slots=True)
class Slots:
    """How many calls are in flight under a limit. Pure: every change is a new value.

    Attributes:
        limit: the most calls in flight at once (>= 1).
        used: calls in flight now (0 <= used <= limit).
    """

    limit: int
    used: int = 0

    def take(self) -> Slots | None:
        """One more call in flight, or ``None`` when the bulkhead is full."""
        return None if self.used >= self.limit else Slots(self.limit, self.used + 1)

    def give(self) -> Slots:
        """One call fewer in flight (a release without a take is a bug, so it raises)."""
        if self.used <= 0:
            raise RuntimeError("Bulkhead: a slot was released that was never taken")
        return Slots(self.limit, self.used - 1)


def admitted_event(name: str, slots: Slots) -> TraceEvent:
    return TraceEvent("bulkhead", "admitted", f"{name}: {slots.used} of {slots.limit} in flight",
                      {"name": name, "in_flight": slots.used, "limit": slots.limit})


# -- the error: ours, in the core family ---------------------------------------------------
class BulkheadFull(RateLimited):
    """Too many calls in flight through one bulkhead; raised before any network call.

    Attributes:
        key: the bulkhead's name; limit: its ``max_in_flight``.
    """

    def __init__(self, name: str, limit: int) -> None:
        InsightForgeError.__init__(
            self, f"Bulkhead {name!r} is full: {limit} call(s) already in flight; wait for "
                  "one to finish (close streams you stop reading), or raise max_in_flight.")
        self.key, self.limit, self.wait, self.max_wait = name, limit, None, 0.0


# -- the layer: configuration, validated once ----------------------------------------------
def _check_limit(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"Bulkhead max_in_flight must be a whole number >= 1 "
                          f"(e.g. max_in_flight=4), got {value!r}", path=attribute.name)


def _check_name(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"Bulkhead name must be a non-empty string, got {value!r}",
                          path=attribute.name)


@attrs.frozen(slots=True)
class Bulkhead:
    """At most ``max_in_flight`` calls at once through the stack below; refuse the rest.

    Attributes:
        max_in_flight: the most calls (streams count until they end) at once.
        name: shown in errors and trace events.
    """

    max_in_flight: int = attrs.field(validator=_check_limit)
    name: str = attrs.field(default="bulkhead", validator=_check_name)

    def __call__(self, inner: Handler) -> BulkheadHandler:
        return BulkheadHandler(self, inner)


# -- the handler: two thin drivers ---------------------------------------------------------
def _add_trace(error: BaseException, event: TraceEvent) -> None:
    if isinstance(error, InsightForgeError):
        error.add_trace(event)


class _Hold:
    """One call's slot, given back exactly once: by the answer, the error, or the stream's
    end, failure or abandonment — whichever comes first."""

    __slots__ = ("event", "give", "held")

    def __init__(self, give: Callable[[], None], event: TraceEvent) -> None:
        self.give, self.event, self.held = give, event, True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.give()

    def answer(self, response: Answer) -> Answer:
        self.release()
        return attrs.evolve(response, trace=(self.event, *response.trace))

    def error(self, error: BaseException) -> None:
        self.release()
        _add_trace(error, self.event)


class BulkheadHandler(Middleware):
    """The handler a :class:`Bulkhead` wraps around ``inner``; ``in_flight`` for tests."""

    __slots__ = ("_lock", "_slots")
    layer: Bulkhead

    def __init__(self, layer: Bulkhead, inner: Handler) -> None:
        super().__init__(layer, inner)
        self._lock = threading.Lock()  # held for a few instructions: safe on an event loop
        self._slots = Slots(layer.max_in_flight)

    @property
    def in_flight(self) -> int:
        return self._slots.used

    def _take(self) -> _Hold:
        with self._lock:
            taken = self._slots.take()
            if taken is not None:
                self._slots = taken
        if taken is None:
            error = BulkheadFull(self.layer.name, self.layer.max_in_flight)
            error.add_trace(TraceEvent("bulkhead", "refused", error.message,
                                       {"name": self.layer.name, "limit": error.limit}))
            raise error
        return _Hold(self._give, admitted_event(self.layer.name, taken))

    def _give(self) -> None:
        with self._lock:
            self._slots = self._slots.give()

    def __call__(self, request: Request, /) -> Response:
        hold = self._take()
        try:
            result = self.inner(request)
        except BaseException as error:
            hold.error(error)
            raise
        if isinstance(result, ChatStream):
            return result.wrap(on_end=hold.answer, on_error=hold.error, on_close=hold.release)
        return hold.answer(result)

    async def acall(self, request: Request, /) -> AsyncResponse:
        hold = self._take()
        try:
            result = await self.inner.acall(request)
        except BaseException as error:
            hold.error(error)
            raise
        if isinstance(result, AsyncChatStream):
            return result.wrap(on_end=hold.answer, on_error=hold.error, on_close=hold.release)
        return hold.answer(result)


# -- registration --------------------------------------------------------------------------
def register() -> None:
    """Make ``bulkhead`` a layer name config files can use: ``- bulkhead: {max_in_flight: 4}``.

    A package registers through an entry point instead, with no code run at import::

        [project.entry-points."insightforge.layers"]
        bulkhead = "my_package.bulkhead:Bulkhead"
    """
    registry.register_layer("bulkhead", Bulkhead)


# -- the demo: offline, against the emulator -----------------------------------------------
KEY = "sk-example-not-a-real-key-000000000000"


def main(emu: Any, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Show the bulkhead admitting, refusing, releasing an abandoned stream, async and from
    a config file; returns what happened (the tests read it)."""
    from providers import OpenAI

    facts: dict[str, Any] = {}
    llm = stack(Bulkhead(max_in_flight=1),
                provider=OpenAI(model="gpt-4o-mini", base_url=emu.openai_url, api_key=KEY))
    gate: BulkheadHandler = llm.handler  # type: ignore[assignment]
    answer = llm(ChatRequest("Hello through a bulkhead"))
    assert isinstance(answer, ChatResponse)
    facts["answer"] = answer
    report(f"answer: {answer.text!r}  trace: {[str(e) for e in answer.trace]}")

    stream = llm(ChatRequest("one two three four five six", stream=True))
    assert isinstance(stream, ChatStream)
    first = next(iter(stream))
    report(f"stream open, first chunk {first.text!r}; in flight: {gate.in_flight}")
    try:
        llm(ChatRequest("Am I let in?"))
    except BulkheadFull as exc:
        facts["refused"] = exc
        report(f"refused: {exc}")
    stream.close()  # abandoned half way: on_close gives the slot back
    facts["after_abandon"] = gate.in_flight
    report(f"stream abandoned; in flight: {gate.in_flight}")

    facts["async"] = asyncio.run(_async_demo(llm))
    report(f"async: {facts['async'][0]!r}, then refused: {facts['async'][1]}")

    register()
    config = {"providers": {"emu": {"type": "openai", "model": "gpt-4o-mini",
                                    "base_url": emu.openai_url, "api_key": KEY}},
              "stack": [{"bulkhead": {"max_in_flight": 2, "name": "emu"}}]}
    with from_config(config) as configured:
        facts["configured"] = configured(ChatRequest("Hello from a config file"))
        facts["onion"] = repr(configured)
    report("from a config file:\n" + facts["onion"])
    return facts


async def _async_demo(llm: Any) -> tuple[str, bool]:
    """An async stream holds the slot until it is read to the end; meanwhile acall is refused."""
    stream = await llm.acall(ChatRequest("streamed asynchronously", stream=True))
    try:
        await llm.acall(ChatRequest("Am I let in?"))
        refused = False
    except BulkheadFull:
        refused = True
    response = await stream.collect()
    await llm.aclose()
    return response.text, refused


if __name__ == "__main__":
    from insightforge.testing.emulator import Emulator

    with Emulator(api_keys=None) as emulator:
        main(emulator)
