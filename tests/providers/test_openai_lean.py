"""The lean path for plain OpenAI chat answers (providers._openai_lean) behaves as the SDK path
did: for every scripted fault of the emulator, sync and async, both paths give the same
answer or the same error (type, status, retryable, retry_after, and the same message for an
HTTP error answer); they share one connection pool; Azure keeps the SDK path."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from insightforge import ChatRequest
from insightforge.errors import InsightForgeError
from insightforge.testing.emulator import Emulator, Fault
from providers import AzureOpenAI, OpenAI
from tests.conftest import TEST_OPENAI_KEY

FAULTS = [
    None,
    Fault.status(429, retry_after=2),
    Fault.status(429, retry_after_ms=1500),
    Fault.status(500),
    Fault.status(503, message="overloaded, try later"),
    Fault.status(401),
    Fault.status(400, message="This model's maximum context length is 128000 tokens"),
    Fault.status(400, message="The response was filtered due to the content management policy"),
    Fault.status(404),
    Fault.malformed(),
    Fault.wrong_shape(),
    Fault.content_filter(),
    Fault.truncate(),
    Fault.drop(),
]
TRANSPORT = ("truncate", "drop")  # below HTTP: the message names the transport's exception


def _outcome(provider: OpenAI, emulator: Emulator, fault: Fault | None, use_async: bool,
             ) -> tuple[Any, ...]:
    if fault is not None:
        emulator.script(fault)
    request = ChatRequest("lean or not", max_tokens=20)
    try:
        if use_async:
            response: Any = asyncio.run(provider.acall(request))
        else:
            response = provider(request)
    except InsightForgeError as exc:
        assert exc.__cause__ is None and exc.__context__ is None
        message = "" if fault is not None and fault.kind in TRANSPORT else str(exc)
        return (type(exc).__name__, getattr(exc, "status", None),
                getattr(exc, "retryable", None), getattr(exc, "retry_after", None), message)
    return ("ok", response.text, response.finish_reason, response.usage, response.cost_usd,
            response.model)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: "none" if f is None else
                         f"{f.kind}-{f.code or ''}{f.retry_after_ms or f.retry_after or ''}")
def test_the_lean_path_answers_and_fails_as_the_sdk_path(
        emulator: Emulator, fault: Fault | None, use_async: bool) -> None:
    outcomes = []
    for lean in (False, True):
        provider = OpenAI(base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY, timeout=5)
        provider.lean_chat = lean
        try:
            outcomes.append(_outcome(provider, emulator, fault, use_async))
        finally:
            provider.close()
    assert outcomes[0] == outcomes[1]


def test_both_paths_share_one_pool_and_send_the_sdks_headers(emulator: Emulator) -> None:
    provider = OpenAI(base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY, organization="org-7")
    try:
        emulator.reset()
        provider(ChatRequest("plain"))
        pool = provider._sync.get()._client._transport._pool  # the SDK client's own pool
        assert len(pool.connections) == 1  # the plain answer's connection, kept alive there
        assert "".join(c.text for c in provider(ChatRequest("streamed", stream=True))) == (
            "Echo: streamed")
        plain, streamed = emulator.requests
        for name in ("authorization", "user-agent", "openai-organization", "x-stainless-lang"):
            assert plain.headers[name] == streamed.headers[name], name
        assert plain.headers["authorization"] == f"Bearer {TEST_OPENAI_KEY}"
    finally:
        provider.close()


def test_azure_keeps_the_sdk_path() -> None:
    assert OpenAI.lean_chat and not AzureOpenAI.lean_chat
