"""Client life shared by every built-in provider: one async client per event loop.

An async HTTP client's connections belong to the loop that opened them. Code that calls
``asyncio.run(provider.acall(...))`` more than once must get a working provider each time,
and ``close``/``aclose`` must release every client (the leak checker would see sockets).
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest

from insightforge import ChatRequest, EmbedRequest
from tests import kit_factories

LABELS = ["openai", "azure", "anthropic", "ollama", "huggingface", "compatible"]


# Loops closed without ``aclose`` leave their sockets to the GC (documented); collect them
# here so the ResourceWarnings are this test's, not a later one's.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("label", LABELS)
def test_each_asyncio_run_gets_a_working_client(label: str, emulator: Any) -> None:
    provider = kit_factories.BUILTIN[label][1](emulator, timeout=5)
    try:
        for _ in range(3):
            answer = asyncio.run(provider.acall(ChatRequest("hello loop")))
            assert answer.text == "Echo: hello loop"
        if label != "anthropic":
            vectors = asyncio.run(provider.acall(EmbedRequest(["a b"]))).vectors
            assert asyncio.run(provider.acall(EmbedRequest(["a b"]))).vectors == vectors
    finally:
        provider.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


@pytest.mark.parametrize("label", LABELS)
def test_aclose_in_the_loop_then_close_leaves_nothing_open(label: str, emulator: Any) -> None:
    provider = kit_factories.BUILTIN[label][1](emulator, timeout=5)

    async def use() -> None:
        await provider.acall(ChatRequest("one"))
        await provider.aclose()

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        asyncio.run(use())
        provider(ChatRequest("two"))
        provider.close()
