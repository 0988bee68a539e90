"""Issue 13's must-show: sixteen faults on the primary, a healthy alternate, and the caller
gets the complete answer within the deadline — through the Python API (sync and async) and
through the gateway with the real openai SDK as the client — except the content filter,
which ends in ``ContentFiltered`` without a retry.

Scaled for CI: every duration of the full-scale run (``bench/sixteen_faults.py``,
``insightforge.testing.fault_matrix.FULL``) times ``CI.factor`` = 0.1 — a first token after
2 s against a 0.3 s ``first_token_timeout``, a 3 s stall against a 0.3 s ``stall_timeout``,
a 1 s read timeout, Retry-After 0.2 s — and the 60 s outage is 2 s. Real components only:
two emulators on loopback, the real providers, layers, gateway and SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest

from insightforge.errors import ContentFiltered
from insightforge.pricing import price_for
from insightforge.testing.emulator import Emulator
from insightforge.testing.fault_matrix import (
    ALTERNATE_MODEL,
    CASES,
    CI,
    PRIMARY_MODEL,
    Case,
    FaultOutcome,
    Rig,
    answer_to,
    long_prompt,
    outage,
)
from insightforge.types import Usage

SCALE = CI  # factor 0.1, outage 2 s: see the module docstring
MODES = ("sync", "async", "gateway")


@pytest.fixture(scope="module")
def emulators() -> Iterator[tuple[Emulator, Emulator]]:
    with Emulator() as primary, Emulator() as alternate:
        yield primary, alternate


@pytest.fixture
def rig(emulators: tuple[Emulator, Emulator]) -> Iterator[Rig]:
    rig = Rig(SCALE, *emulators)
    rig.reset()
    rig.build()
    yield rig
    rig.close()


def _run(rig: Rig, case: Case, mode: str, client: Any = None) -> None:
    """Each request kind of ``case``: scripted afresh, asked once (after one fault-free
    request, so the clients' first-use setup is not what the deadline measures)."""
    for stream in case.streams:
        assert rig.ask(mode, "warm up", stream=stream,  # type: ignore[arg-type]
                       client=client).error is None
        rig.reset()
        case.script(rig)
        spent = rig.spent()
        out = rig.ask(mode, case.prompt, stream=stream, client=client)  # type: ignore[arg-type]
        _check(rig, case, mode, stream, out, rig.spent() - spent)


def _answered(case: Case, out: FaultOutcome, mode: str) -> None:
    assert out.error is None, f"{case.name} ({mode}): {out.error!r}"
    assert out.text == answer_to(case.prompt), f"{case.name} ({mode}): incomplete answer"
    want = ("openai", PRIMARY_MODEL) if case.served == "primary" else ("anthropic",
                                                                       ALTERNATE_MODEL)
    assert (out.provider, out.model) == want, case.name
    assert out.seconds < SCALE.deadline, f"{case.name} ({mode}): {out.seconds:.2f}s"


def _check(rig: Rig, case: Case, mode: str, stream: bool, out: FaultOutcome,
           spent: Decimal) -> None:
    """What each fault must show, beyond the complete answer from the right route."""
    primary, alternate = rig.primary.count(), rig.alternate.count()
    python = mode != "gateway"
    if case.served == "filtered":
        if python:
            assert isinstance(out.error, ContentFiltered), repr(out.error)
        else:
            assert isinstance(out.error, openai.BadRequestError), repr(out.error)
            assert out.error.code == "content_filter"
        assert (primary, alternate) == (1, 0), "a content filter is neither retried nor moved"
        return
    _answered(case, out, mode)
    name = case.name
    if name == "429 with Retry-After":
        first, second = rig.primary.requests
        assert second.at - first.at >= SCALE.retry_after  # the server's wait, honoured
    elif name == "429 without Retry-After, persistent" or name.startswith("503"):
        assert (primary, alternate) == (3, 1)  # backoff on the primary, then the fallback
        if python and name.startswith("429"):
            reasons = [e.data.get("reason") for e in out.trace if e.event == "attempt"]
            assert reasons == ["backoff", "backoff"]
    elif name in ("500 once", "TCP reset before headers", "stream cut after 40 of 60 tokens"):
        assert (primary, alternate) == (2, 0)
    elif name == "no response at all":
        limit = SCALE.first_token_limit if stream else SCALE.timeout
        assert primary == 1, "a silent route is not retried while an alternate waits"
        if python:  # the fallback came after one timeout (budget.reserved opens the trace)
            at = {e.event: e.at for e in out.trace}
            waited = at["fallback"] - at["reserved"]
            assert limit <= waited + 0.05 and waited < 1.5 * limit, f"fell back after {waited}"
        else:
            assert out.seconds < limit + 1.0  # plus the alternate's answer, over HTTP
    elif name == "first token after 20 s":
        assert primary == 1 and out.seconds < SCALE.slow_first_token
    elif name == "stream stalled 30 s after 20 tokens":
        assert out.seconds < SCALE.stall
        if python:
            assert "stream.interrupted" in out.events() and "stream.resumed" in out.events()
    elif name == "one malformed event" and python:
        assert "stream.skipped" in out.events()
    elif name == "no [DONE]":
        assert out.seconds < SCALE.timeout / 2 and out.usage == (62, 60)
    elif name == "context length exceeded":
        assert (primary, alternate) == (1, 1)  # no same-size resend
    elif name == "alternate rejects prefill after a cut":
        assert alternate == 2  # the refused prefill, then a clean restart
        if python:
            assert "stream.prefill_rejected" in out.events()
    elif name == "fallback accounting":
        usage = Usage(*out.usage)
        assert usage == Usage(62, 60)  # the alternate's own count (59 words + 3; 60)
        if out.cost is not None or python:
            price = price_for("anthropic", ALTERNATE_MODEL)
            assert price is not None and out.cost == price.cost(usage)
        if python:
            assert spent == out.cost  # billed once, at the alternate's price


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", [c for c in CASES if not c.name.startswith("down")],
                         ids=lambda c: c.name)
def test_the_caller_gets_the_complete_answer(rig: Rig, case: Case, mode: str) -> None:
    if mode == "gateway":
        with rig.serving() as client:
            _run(rig, case, mode, client)
    else:
        _run(rig, case, mode)


@pytest.mark.parametrize("mode", MODES)
def test_an_outage_is_served_by_the_alternate_and_the_primary_takes_over_again(
        rig: Rig, mode: str) -> None:
    def run(client: Any = None) -> tuple[list[FaultOutcome], float]:
        return outage(rig, mode, client=client, stream=mode == "async")  # type: ignore[arg-type]

    if mode == "gateway":
        with rig.serving() as client:
            outcomes, back_after = run(client)
    else:
        outcomes, back_after = run()
    assert back_after <= SCALE.recovery, f"back on the primary {back_after:.2f}s after"
    assert len(outcomes) >= 3
    for out in outcomes:
        assert out.error is None and out.text == answer_to(long_prompt())
        assert out.seconds < SCALE.deadline
    assert outcomes[0].provider == "anthropic" and outcomes[-1].provider == "openai"
