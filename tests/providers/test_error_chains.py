"""No SDK or httpx exception rides along on our errors.

An httpx or openai exception holds the request, and the request holds the headers — the
API key among them. A mapped error is therefore raised with no ``__cause__`` and no
``__context__``, for every built-in provider, on every path (sync, async, streamed).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from insightforge import ChatRequest
from insightforge.errors import ProviderError
from insightforge.testing.conformance import spec_of
from insightforge.testing.emulator import Fault
from tests import kit_factories

LABELS = ["openai", "azure", "anthropic", "ollama", "huggingface", "compatible"]
FAULTS = {"401": Fault.status(401), "429": Fault.status(429, retry_after=1),
          "drop": Fault.drop(), "truncate": Fault.truncate(1), "malformed": Fault.malformed(),
          "stream_error": Fault.stream_error(1)}


def _sync(provider: Any, stream: bool) -> None:
    result = provider(ChatRequest("hello chain", stream=stream))
    if stream:
        with result:
            list(result)


def _async(provider: Any, stream: bool) -> None:
    async def go() -> None:
        try:
            result = await provider.acall(ChatRequest("hello chain", stream=stream))
            if stream:
                async with result:
                    async for _ in result:
                        pass
        finally:
            await provider.aclose()
    asyncio.run(go())


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("label", LABELS)
def test_mapped_errors_carry_no_chain(label: str, fault: str, emulator: Any) -> None:
    factory = kit_factories.BUILTIN[label][1]
    provider = factory(emulator, timeout=3)
    try:
        for call in (_sync, _async):
            for stream in (False, True):
                emulator.reset()
                emulator.script(FAULTS[fault], api=spec_of(factory).api)
                try:
                    call(provider, stream)
                except ProviderError as err:
                    assert err.__cause__ is None and err.__context__ is None, (
                        call.__name__, stream, repr(err.__cause__), repr(err.__context__))
    finally:
        provider.close()
