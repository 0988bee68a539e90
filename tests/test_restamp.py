"""``restamp`` — how layers stamp the answers they pass on (trace, cost, cached) — is
``attrs.evolve`` built directly from the fields: equal to it for every chat and embeddings
response and every combination of changes, so a field added to a response type without
``restamp`` learning it fails here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from insightforge.testing import strategies as ist
from insightforge.types import ChatResponse, EmbedResponse, TraceEvent
from insightforge.types.responses import restamp

events = st.lists(ist.trace_events, max_size=3).map(tuple)
costs = st.none() | st.decimals(min_value=0, max_value=10, places=9)


@given(ist.chat_responses() | ist.embed_responses(), events, events,
       st.none() | st.booleans(), st.none() | st.tuples(costs))
def test_restamp_is_evolve(response: Any, before: tuple[TraceEvent, ...],
                           after: tuple[TraceEvent, ...], cached: bool | None,
                           cost: tuple[Decimal | None] | None) -> None:
    response = attrs.evolve(response, trace=before)
    changes: dict[str, Any] = {"trace": after}
    if cached is not None:
        changes["cached"] = cached
    if cost is not None:
        changes["cost_usd"] = cost[0]
    got = restamp(response, **changes)
    assert type(got) is type(response)
    assert got == attrs.evolve(response, **changes)


def test_every_field_of_the_response_types_is_carried_over() -> None:
    """The copy names each field: a new field must be added to ``restamp`` as well."""
    assert [f.name for f in attrs.fields(ChatResponse)] == [
        "message", "model", "provider", "usage", "finish_reason", "id", "cost_usd", "cached",
        "trace", "parsed"]
    assert [f.name for f in attrs.fields(EmbedResponse)] == [
        "vectors", "model", "provider", "usage", "cost_usd", "cached", "trace"]
