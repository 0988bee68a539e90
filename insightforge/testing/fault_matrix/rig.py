"""The rig of the fault matrix: its scale, two emulators, the stack around them, and a way
to ask it sync, async or through the gateway (the openai SDK as the client).

What lives here: :class:`Scale` (every duration from one factor), :class:`FaultOutcome` (what one
request got back), :class:`Rig`. The faults themselves: :mod:`.cases`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Literal

import attrs

from insightforge.stack import Stack, stack
from insightforge.testing.emulator import Emulator
from insightforge.types import ChatRequest, TraceEvent

__all__ = ["ALTERNATE_MODEL", "CI", "FULL", "GATEWAY_KEY", "PRIMARY_MODEL", "Mode", "FaultOutcome",
           "Rig", "Scale", "answer_to", "long_prompt"]

PRIMARY_MODEL = "gpt-4o-mini"          # context window 128k (genai-prices)
ALTERNATE_MODEL = "claude-sonnet-4-5"  # context window 200k, continues a prefill
GATEWAY_KEY = "gw-fault-matrix-key-0123456789"
_OPENAI_KEY = "sk-proj-MATRIXabcdefghijklmnopqrstuvwxyz0123456789"
_ANTHROPIC_KEY = "sk-ant-api03-MATRIXabcdefghijklmnopqrstuvwxyz0123456789"
Mode = Literal["sync", "async", "gateway"]


class _Scaled:
    """A duration of the matrix: ``full`` seconds at full scale, times the scale's factor."""

    def __init__(self, full: float, what: str) -> None:
        self.full = full
        self.__doc__ = f"{what} (full scale {full:g} s)"

    def __get__(self, scale: Scale | None, owner: type | None = None) -> float:
        return self.full if scale is None else self.full * scale.factor


@attrs.frozen
class Scale:
    """Every duration of the matrix, from one factor (full scale: ``factor=1``).

    Attributes:
        factor: multiplies every latency: limits, delays, Retry-After, backoff, deadline.
        outage: seconds the primary is down in the outage case.
    """

    factor: float
    outage: float

    # Each duration at full scale, times ``factor`` (read as attributes: ``scale.timeout``).
    timeout = _Scaled(10, "the providers' read timeout")
    first_token_limit = _Scaled(3, "``first_token_timeout``")
    stall_limit = _Scaled(3, "``stall_timeout``")
    slow_first_token = _Scaled(20, "when the slow primary's first token comes")
    stall = _Scaled(30, "how long the stalling primary goes silent")
    retry_after = _Scaled(2, "the ``Retry-After`` the throttled primary sends")
    backoff = _Scaled(0.5, "``Retry``'s backoff base")
    recovery = _Scaled(30, "how soon after the outage ends the primary must serve again")
    deadline = _Scaled(20, "the caller's deadline for a complete answer")


FULL = Scale(1.0, outage=60.0)
CI = Scale(0.1, outage=2.0)


def long_prompt(words: int = 59) -> str:
    """A prompt whose answer (``"Echo: " + prompt``) is ``words + 1`` tokens long."""
    return " ".join(f"w{i}" for i in range(words))


def answer_to(prompt: str) -> str:
    """The emulator's complete answer."""
    return "Echo: " + prompt


@attrs.frozen
class FaultOutcome:
    """What one request got back.

    Attributes:
        text: the whole text the caller received (chunks joined, for a stream).
        provider, model: who the answer names (gateway: the model field and header).
        usage: ``(input, output)`` tokens the answer reports. cost: its ``cost_usd``.
        seconds: from sending to the last byte. error: the exception, if it failed.
        trace: the layers' events (Python API only).
    """

    text: str = ""
    provider: str = ""
    model: str = ""
    usage: tuple[int, int] = (0, 0)
    cost: Decimal | None = None
    seconds: float = 0.0
    error: BaseException | None = None
    trace: tuple[TraceEvent, ...] = ()

    def events(self) -> list[str]:
        return [f"{e.layer}.{e.event}" for e in self.trace]


class Rig:
    """Two emulators, the stack around them, and a way to ask it in each mode."""

    def __init__(self, scale: Scale, primary: Emulator, alternate: Emulator) -> None:
        self.scale = scale
        self.primary = primary
        self.alternate = alternate
        self.llm: Stack | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # one loop, as an async app has

    def close(self) -> None:
        """Close the stack's clients and the async mode's event loop."""
        if self.llm is not None:
            if self._loop is not None:
                self._loop.run_until_complete(self.llm.aclose())
            self.llm.close()
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def reset(self) -> None:
        self.primary.reset()
        self.alternate.reset()

    def build(self) -> Stack:
        """A fresh stack (its budget ledger empty)."""
        from middleware import Budget, Fallback, Retry
        from middleware.retry import Backoff
        from providers import Anthropic, OpenAI

        s = self.scale
        primary = OpenAI(PRIMARY_MODEL, base_url=self.primary.openai_url,
                         api_key=_OPENAI_KEY, timeout=s.timeout,
                         first_token_timeout=s.first_token_limit, stall_timeout=s.stall_limit)
        claude = Anthropic(ALTERNATE_MODEL, base_url=self.alternate.anthropic_url,
                           api_key=_ANTHROPIC_KEY, timeout=s.timeout,
                           first_token_timeout=s.first_token_limit,
                           stall_timeout=s.stall_limit)
        backoff = Backoff(base=s.backoff, cap=4 * s.backoff)
        alternate = stack(Retry(attempts=2, backoff=backoff), provider=claude)
        self.llm = stack(Budget(limit_usd=100), Fallback(alternate),
                         Retry(attempts=3, backoff=backoff, deadline=s.deadline),
                         provider=primary)
        return self.llm

    def spent(self) -> Decimal:
        """Dollars the stack's budget has settled."""
        from middleware.budget.policy import from_units

        assert self.llm is not None
        ledger = self.llm.layers[0].store  # type: ignore[attr-defined]
        return sum((from_units(e.spent) for e in ledger.entries()), Decimal(0))

    @contextmanager
    def serving(self) -> Iterator[Any]:
        """The gateway over the stack, with an openai SDK client (no SDK retries)."""
        import openai

        from insightforge.gateway import start

        assert self.llm is not None
        with start(self.llm, api_keys=[GATEWAY_KEY]) as server:
            client = openai.OpenAI(base_url=server.url, api_key=GATEWAY_KEY, max_retries=0,
                                   timeout=4 * self.scale.deadline)
            try:
                yield client
            finally:
                client.close()

    def ask(self, mode: Mode, prompt: str, *, stream: bool, client: Any = None) -> FaultOutcome:
        """Send one request in ``mode`` (``gateway`` needs ``client`` from :meth:`serving`)."""
        started = time.monotonic()
        try:
            if mode == "gateway":
                got = _through_gateway(client, prompt, stream)
            elif mode == "async":
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                got = self._loop.run_until_complete(_python_async(self._stack(), prompt,
                                                                  stream))
            else:
                got = _python_sync(self._stack(), prompt, stream)
        except Exception as error:
            return FaultOutcome(seconds=time.monotonic() - started, error=error)
        return attrs.evolve(got, seconds=time.monotonic() - started)

    def _stack(self) -> Stack:
        assert self.llm is not None
        return self.llm


def _from_response(text: str, response: Any) -> FaultOutcome:
    usage = (response.usage.input_tokens, response.usage.output_tokens)
    return FaultOutcome(text, response.provider, response.model, usage, response.cost_usd,
                   trace=response.trace)


def _python_sync(llm: Stack, prompt: str, stream: bool) -> FaultOutcome:
    if not stream:
        response: Any = llm(ChatRequest(prompt))
        return _from_response(response.text, response)
    result = llm.stream(ChatRequest(prompt))
    with result:
        text = "".join(chunk.text for chunk in result)
    return _from_response(text, result.response)


async def _python_async(llm: Stack, prompt: str, stream: bool) -> FaultOutcome:
    if not stream:
        response: Any = await llm.acall(ChatRequest(prompt))
        return _from_response(response.text, response)
    result = await llm.astream(ChatRequest(prompt))
    async with result:
        text = "".join([chunk.text async for chunk in result])
    return _from_response(text, result.response)


def _through_gateway(client: Any, prompt: str, stream: bool) -> FaultOutcome:
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        raw = client.chat.completions.with_raw_response.create(model="default",
                                                               messages=messages)
        reply = raw.parse()
        usage = (reply.usage.prompt_tokens, reply.usage.completion_tokens)
        cost = raw.headers.get("x-insightforge-cost-usd")
        return FaultOutcome(reply.choices[0].message.content or "",
                       raw.headers.get("x-insightforge-provider", ""), reply.model, usage,
                       Decimal(cost) if cost else None)
    pieces, model, usage = [], "", (0, 0)
    events = client.chat.completions.create(model="default", messages=messages, stream=True,
                                            stream_options={"include_usage": True})
    with events:
        for chunk in events:
            model = chunk.model or model
            if chunk.choices:
                pieces.append(chunk.choices[0].delta.content or "")
            if chunk.usage is not None:
                usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
    provider = "anthropic" if model == ALTERNATE_MODEL else "openai"
    return FaultOutcome("".join(pieces), provider, model, usage)
