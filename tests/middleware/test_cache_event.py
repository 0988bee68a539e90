"""A miss's response gets its ``cache.miss`` event as ``attrs.evolve`` would give it.

``middleware.cache.layer._with_event`` copies a ``ChatResponse`` field by field instead of
calling ``attrs.evolve`` (the generic loop costs as much again); held equal here for any
chat and embeddings response (the copy is only taken while ``ChatResponse``'s fields are
the ones it names; otherwise ``evolve`` runs).
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from insightforge.testing import strategies as ist
from insightforge.types import TraceEvent
from middleware.cache.layer import _with_event


@given(ist.chat_responses() | ist.embed_responses(), st.lists(ist.trace_events, max_size=2))
def test_with_event_is_evolve(response: Any, trace: list[TraceEvent]) -> None:
    response = attrs.evolve(response, trace=tuple(trace))
    event = TraceEvent("cache", "miss", "answered upstream and stored")
    got = _with_event(response, event)
    assert type(got) is type(response)
    assert got == attrs.evolve(response, trace=(event, *response.trace))
    assert got.trace[0] is event and got.trace[1:] == response.trace

