"""A response's trace and ``cached`` replaced as ``attrs.evolve`` would replace them.

``middleware.cache.entry.retraced`` copies a ``ChatResponse`` field by field instead of
calling ``attrs.evolve`` (the generic loop costs as much again; a miss pays it for its
``cache.miss`` event and again to store an answer that carries trace). Held equal here for
any chat and embeddings response (the copy is only taken while ``ChatResponse``'s fields
are the ones it names; otherwise ``evolve`` runs).
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from insightforge.testing import strategies as ist
from insightforge.types import TraceEvent
from middleware.cache.entry import make_entry, retraced

events = st.lists(ist.trace_events, max_size=2).map(tuple)


@given(ist.chat_responses() | ist.embed_responses(), events, events, st.booleans())
def test_retraced_is_evolve(response: Any, before: tuple[TraceEvent, ...],
                            after: tuple[TraceEvent, ...], cached: bool) -> None:
    response = attrs.evolve(response, trace=before)
    got = retraced(response, after, cached)
    assert type(got) is type(response)
    assert got == attrs.evolve(response, trace=after, cached=cached)


@given(ist.chat_responses() | ist.embed_responses(), events, st.booleans())
def test_an_entry_holds_the_answer_without_trace(response: Any, trace: tuple[TraceEvent, ...],
                                                 cached: bool) -> None:
    response = attrs.evolve(response, trace=trace, cached=cached)
    assert make_entry(response).response == attrs.evolve(response, trace=(), cached=False)
