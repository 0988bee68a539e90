"""The stderr extras of ``chat``/``embed`` (insightforge.cli._report), as pure functions."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from insightforge.cli._report import trace_lines, usage_line
from insightforge.secrets import Secret
from insightforge.types import TraceEvent
from tests.conftest import TEST_OPENAI_KEY


@given(st.decimals(min_value=0, max_value=10**6, allow_nan=False, places=12),
       st.integers(0, 10**9), st.integers(0, 10**9), st.booleans())
def test_usage_line_round_trips(cost: Decimal, tokens_in: int, tokens_out: int,
                                cached: bool) -> None:
    line = usage_line(provider="openai", model="gpt-4o", input_tokens=tokens_in,
                      output_tokens=tokens_out, cost_usd=cost, cached=cached)
    head, *fields = line.split(" ")
    assert head == "usage:" and "\n" not in line
    pairs = dict(f.split("=", 1) for f in fields if "=" in f)
    assert pairs["input_tokens"] == str(tokens_in) and pairs["output_tokens"] == str(tokens_out)
    assert "E" not in pairs["cost_usd"] and Decimal(pairs["cost_usd"]) == cost
    assert (fields[-1] == "cached") is cached


def test_unknown_cost() -> None:
    line = usage_line(provider="x", model="m", input_tokens=1, output_tokens=2, cost_usd=None)
    assert line == "usage: provider=x model=m input_tokens=1 output_tokens=2 cost_usd=unknown"


def test_trace_lines_are_one_per_event_and_scrubbed() -> None:
    live = Secret(TEST_OPENAI_KEY)  # a key in use (held by a provider) is a known secret
    events = [TraceEvent("retry", "attempt", "attempt 2 after 0.50s: RateLimitError"),
              TraceEvent("cache", "hit"),
              TraceEvent("x", "y", f"sent {TEST_OPENAI_KEY}")]
    lines = trace_lines(events)
    assert lines[:2] == ["trace: retry.attempt: attempt 2 after 0.50s: RateLimitError",
                         "trace: cache.hit"]
    assert TEST_OPENAI_KEY not in lines[2] and live.masked in lines[2]
