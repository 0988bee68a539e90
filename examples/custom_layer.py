"""A custom layer written the house way: ``Bulkhead(max_in_flight)``.

A bulkhead caps how many calls may be in flight through a stack at once and refuses the
next one at once (``BulkheadFull``) instead of letting it pile onto a struggling server —
a local Ollama on one GPU, a shared endpoint with a concurrency quota. It is small, but it
has every part a layer has (see docs/writing-a-layer.md):

* **the layer** — :class:`Bulkhead`, attrs-frozen configuration that validates its options
  when built, a :class:`~insightforge.kit.FlowLayer`;
* **the policy** — :class:`Slots`, a pure value: ``take()`` and ``give()`` return new
  values, so the decision is testable without threads or I/O;
* **the state** — :class:`InFlight`, made once per wrapped handler by ``open(inner)``;
* **the flow** — ``Bulkhead.flow``: take a slot, ``yield Call(request)``, give the slot back
  in a ``finally``. The kit's two drivers run it sync and async, so there is no driver code
  here at all, and parity holds by construction;
* **streams** — a stream holds its slot until it ends, fails *or is abandoned*: the kit
  resumes the flow at the stream's ending (an abandoned stream throws
  :class:`~insightforge.kit.Abandoned` in), so the same ``finally`` gives the slot back;
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
from typing import Any

import attrs

from insightforge import ChatRequest, ChatResponse, from_config, registry, stack
from insightforge.errors import ConfigError, InsightForgeError, RateLimited
from insightforge.kit import Call, Flow, FlowHandler, FlowLayer, add_trace, with_trace
from insightforge.stack import Handler, Request
from insightforge.streams import ChatStream
from insightforge.types import TraceEvent

__all__ = ["Bulkhead", "BulkheadFull", "InFlight", "Slots", "main", "register"]


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


# -- the per-handler state: the slots, under a lock ---------------------------------------
class InFlight:
    """One handler's slots, shared by its threads and tasks (the lock is held for a few
    instructions: safe on an event loop)."""

    def __init__(self, slots: Slots) -> None:
        self.slots, self.lock = slots, threading.Lock()

    @property
    def in_flight(self) -> int:
        return self.slots.used

    def take(self) -> Slots | None:
        with self.lock:
            taken = self.slots.take()
            self.slots = taken or self.slots
            return taken

    def give(self) -> None:
        with self.lock:
            self.slots = self.slots.give()


# -- the layer: configuration, validated once, and the flow --------------------------------
def _check_limit(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"Bulkhead max_in_flight must be a whole number >= 1 "
                          f"(e.g. max_in_flight=4), got {value!r}", path=attribute.name)


def _check_name(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"Bulkhead name must be a non-empty string, got {value!r}",
                          path=attribute.name)


@attrs.frozen(slots=True)
class Bulkhead(FlowLayer):
    """At most ``max_in_flight`` calls at once through the stack below; refuse the rest.

    Attributes:
        max_in_flight: the most calls (streams count until they end) at once.
        name: shown in errors and trace events.
    """

    max_in_flight: int = attrs.field(validator=_check_limit)
    name: str = attrs.field(default="bulkhead", validator=_check_name)

    def open(self, inner: Handler) -> InFlight:
        return InFlight(Slots(self.max_in_flight))

    def flow(self, request: Request, handler: FlowHandler) -> Flow:
        """Take a slot or refuse; call; give the slot back however the call ends (an
        answer, an error, or a stream that ends, fails or is abandoned — the kit resumes
        this flow then)."""
        taken = handler.state.take()
        if taken is None:
            error = BulkheadFull(self.name, self.max_in_flight)
            error.add_trace(TraceEvent("bulkhead", "refused", error.message,
                                       {"name": self.name, "limit": error.limit}))
            raise error
        event = admitted_event(self.name, taken)
        try:
            response = yield Call(request)
        except BaseException as error:
            add_trace(error, [event])
            raise
        finally:
            handler.state.give()
        return with_trace(response, [event])


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
    gate: Any = llm.handler
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
    response = await stream.acollect()
    await llm.aclose()
    return response.text, refused


if __name__ == "__main__":
    from insightforge.testing.emulator import Emulator

    with Emulator(api_keys=None) as emulator:
        main(emulator)
