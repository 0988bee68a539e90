"""DESIGN.md invariant 7, as a property: retries and fallbacks never bill or log a request
twice, and a chunk that reached the caller is never delivered again.

Hypothesis generates fault scripts for a primary and an alternate provider (retryable
outages, throttles, unretryable errors, streams that fail before or after their first
chunk) and drives them through the usual onion — AuditLog, Budget, Fallback, Retry — sync
and async, with stream continuation on (the default, issue 13) or off. For every request:
exactly one audit record; the ledger's spend equals the sum of the answered requests' costs
(a failed attempt bills nothing, a success bills once). A continued stream's text is exactly
its final response's text (or, when it could not be completed, the ``StreamInterrupted``'s
partial text); with continuation off, a stream that failed after a chunk reached the caller
was neither retried nor re-routed.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightforge import (
    AuthenticationError,
    ChatRequest,
    ChatResponse,
    InsightForgeError,
    ProviderUnavailable,
    RateLimitError,
    StreamInterrupted,
    stack,
)
from insightforge.testing.scripted import ScriptedProvider, Step, StreamStep
from middleware.audit import AuditLog, FileSink, flush_all
from middleware.budget import Budget
from middleware.budget.policy import from_units
from middleware.fallback import Fallback
from middleware.retry import Retry


def _fault(kind: str) -> BaseException:
    if kind == "outage":
        return ProviderUnavailable("down", provider="p", status=503)
    if kind == "throttle":
        return RateLimitError("slow", provider="p", status=429, retry_after=0)
    return AuthenticationError("bad key", provider="p", status=401)


step_kinds = st.sampled_from(["ok", "outage", "throttle", "auth"])
scripts = st.lists(step_kinds, min_size=0, max_size=6)


def _steps(kinds: list[str], stream: bool, fail_after: int | None) -> list[Step]:
    steps: list[Step] = []
    for kind in kinds:
        if kind == "ok":
            steps.append(StreamStep("all good here", ProviderUnavailable(
                "cut", provider="p"), fail_after) if stream and fail_after else "all good here")
        else:
            steps.append(_fault(kind))
    return steps


def _no_sleep(_: float) -> None:
    return None


async def _ano_sleep(_: float) -> None:
    return None


def _build(path: Path, primary: ScriptedProvider, alternate: ScriptedProvider,
           resume: bool = True) -> Any:
    return stack(
        AuditLog(FileSink(path, fsync="never")),
        Budget(limit_usd=1000),
        Fallback(alternate, resume=resume),
        Retry(attempts=3, sleep=_no_sleep, asleep=_ano_sleep, resume=resume),
        provider=primary,
    )


def _spent(llm: Any) -> Decimal:
    budget = llm.handler.inner.layer  # the Budget layer, just inside the AuditLog
    return sum((from_units(e.spent) for e in budget.ledger.entries()), Decimal(0))


def _records(path: Path) -> list[dict[str, Any]]:
    flush_all()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in rows if "outcome" in r]


Outcome = tuple[ChatResponse | None, int | None, str, BaseException | None]


def _drive(llm: Any, request: ChatRequest, use_async: bool, calls: Any) -> Outcome:
    """Send one request; returns the response (None on error), the upstream call count at
    the moment the first chunk reached the caller (None if none did), the text delivered,
    and the error."""
    async def arun() -> Outcome:
        at_first, text = None, []
        try:
            result = await llm.acall(request)
            if not request.stream:
                return result, None, result.text, None
            async for chunk in result:
                at_first = calls() if at_first is None else at_first
                text.append(chunk.text)
            return result.response, at_first, "".join(text), None
        except InsightForgeError as error:
            return None, at_first, "".join(text), error

    def run() -> Outcome:
        at_first, text = None, []
        try:
            result = llm(request)
            if not request.stream:
                return result, None, result.text, None
            for chunk in result:
                at_first = calls() if at_first is None else at_first
                text.append(chunk.text)
            return result.response, at_first, "".join(text), None
        except InsightForgeError as error:
            return None, at_first, "".join(text), error

    return asyncio.run(arun()) if use_async else run()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(primary_kinds=scripts, alternate_kinds=scripts, stream=st.booleans(),
       fail_after=st.sampled_from([None, 0, 1, 2]), use_async=st.booleans(),
       requests=st.integers(min_value=1, max_value=4), resume=st.booleans())
def test_never_billed_or_logged_twice(tmp_path_factory: Any, primary_kinds: list[str],
                                      alternate_kinds: list[str], stream: bool,
                                      fail_after: int | None, use_async: bool,
                                      requests: int, resume: bool) -> None:
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    primary = ScriptedProvider(_steps(primary_kinds, stream, fail_after), name="primary")
    alternate = ScriptedProvider(_steps(alternate_kinds, stream, fail_after), name="alternate")
    llm = _build(path, primary, alternate, resume)
    answered: list[ChatResponse] = []

    def calls() -> int:
        return len(primary.calls) + len(alternate.calls)

    for i in range(requests):
        request = ChatRequest(f"question {i}", max_tokens=20, stream=stream)
        response, at_first, text, error = _drive(llm, request, use_async, calls)
        if response is not None:
            answered.append(response)
            assert text == response.text, "the delivered text is the answer, nothing twice"
        if isinstance(error, StreamInterrupted):
            assert resume and text == error.partial
        if at_first is not None and not resume:  # no continuation: no retry, no fallback
            assert calls() == at_first, "a stream was tried again after its first chunk"
    records = _records(path)
    assert len(records) == requests, "one audit record per request"
    assert sum(1 for r in records if r["outcome"] == "ok") == len(answered)
    billed = sum((r.cost_usd or Decimal(0) for r in answered), Decimal(0))
    if not (stream and fail_after):  # a stream cut after a chunk keeps its reservation
        assert _spent(llm) == billed, "spend equals the answered requests' costs, once each"
    else:
        assert _spent(llm) >= billed
