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


# -- a large pool is split into small ones (httpcore polls every idle connection) ----------
def test_shard_sizes_split_large_pools_and_keep_the_total() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from providers._base import SHARD, shard_sizes

    assert shard_sizes(1) == [1] and shard_sizes(20) == [20]  # the default: one pool
    assert shard_sizes(2 * SHARD) == [SHARD, SHARD]

    @given(st.integers(1, 5000))
    def holds(connections: int) -> None:
        sizes = shard_sizes(connections)
        assert sum(sizes) == connections  # never more connections than asked for
        assert max(sizes) - min(sizes) <= 1  # even
        assert len(sizes) == 1 or min(sizes) >= SHARD  # no pool smaller than needed
        assert max(sizes) < 2 * SHARD or len(sizes) == 1

    holds()


@pytest.mark.parametrize("label", ["openai", "anthropic"])
def test_a_large_pool_is_used_in_turn_and_closed_whole(label: str, emulator: Any) -> None:
    """max_connections=64: four async pools of 16, each used in turn, each closed."""
    provider = kit_factories.BUILTIN[label][1](emulator, timeout=5, max_connections=64)

    async def use() -> list[Any]:
        seen = [provider._async.get() for _ in range(8)]
        answers = await asyncio.gather(*(provider.acall(ChatRequest(f"pool {i}"))
                                         for i in range(12)))
        assert [a.text for a in answers] == [f"Echo: pool {i}" for i in range(12)]
        await provider.aclose()
        return seen

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        seen = asyncio.run(use())
        provider.close()
    pools = {id(client) for client in seen}
    assert len(pools) == 4  # every shard taken in turn
    limits = [getattr(client, "_client", client)._transport._pool._max_connections
              for client in {id(c): c for c in seen}.values()]
    assert sorted(limits) == [16, 16, 16, 16]
