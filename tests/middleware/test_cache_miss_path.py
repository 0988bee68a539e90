"""The miss path's shortcuts change nothing a caller sees.

* An entry holds the answer without its trace (``restamp``, the field-by-field copy, is
  held equal to ``attrs.evolve`` in tests/test_restamp.py).
* A leader looks the store up a second time only when something was stored since its
  first lookup — and then it does, so a stale miss never calls upstream again.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from insightforge.testing import strategies as ist
from insightforge.types import ChatResponse, TraceEvent
from middleware.cache.entry import make_entry

events = st.lists(ist.trace_events, max_size=2).map(tuple)


@given(ist.chat_responses() | ist.embed_responses(), events, st.booleans())
def test_an_entry_holds_the_answer_without_trace(response: Any, trace: tuple[TraceEvent, ...],
                                                 cached: bool) -> None:
    response = attrs.evolve(response, trace=trace, cached=cached)
    assert make_entry(response).response == attrs.evolve(response, trace=(), cached=False)


def test_a_leader_whose_lookup_went_stale_looks_again() -> None:
    """One lookup per miss, but never a stale one: a caller whose lookup missed while
    another caller stored the same answer (and ended its flight) before it joined finds
    that answer instead of calling upstream again."""
    import threading

    from insightforge import ChatRequest, stack
    from insightforge.testing.scripted import ScriptedProvider
    from middleware.cache import Cache, CacheEntry, MemoryCache

    missed, go_on = threading.Event(), threading.Event()

    class Slow(MemoryCache):
        def get(self, key: str, *, count: bool = True) -> CacheEntry | None:
            entry = super().get(key, count=count)
            if threading.current_thread().name == "late" and count:
                missed.set()
                go_on.wait(5)  # the other caller answers and stores meanwhile
            return entry

    p = ScriptedProvider()
    llm = stack(Cache(store=Slow()), provider=p)
    out: list[Any] = []
    late = threading.Thread(target=lambda: out.append(llm(ChatRequest("q"))), name="late")
    late.start()
    assert missed.wait(5)
    first = llm(ChatRequest("q"))
    go_on.set()
    late.join(5)
    assert isinstance(first, ChatResponse) and not first.cached
    assert len(p.calls) == 1 and out[0].cached and str(out[0].trace[0]) == "cache.hit: stored"
