"""The price conformance table: for each provider and usage shape, the cost a provider
reports equals the vendor's published price, exactly.

Every expected amount is a literal, worked out by hand from the vendor's published rates in
USD per million tokens (the arithmetic is in the comment beside it) — never computed with
the code under test. Sources:

* OpenAI: https://platform.openai.com/docs/pricing (standard, flex and priority tables,
  cached input; GPT-5.4 prompts over 272K input tokens bill 2x input and 1.5x output).
* Azure OpenAI: https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/
  (global deployments: the OpenAI list prices).
* Anthropic: https://docs.anthropic.com/en/docs/about-claude/pricing (Claude Sonnet 4.5:
  $3 input, $15 output, 5-minute cache write 1.25x input, 1-hour cache write 2x input,
  cache read 0.1x input; prompts over 200K tokens: $6 input, $22.50 output, the cache
  multipliers on top).
* Ollama runs models locally: free.

The four cases of issue 11's table are the ``MUST_SHOW`` rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from insightforge import ChatRequest, ChatResponse, Message, Usage
from insightforge.pricing import _table
from insightforge.testing.emulator import Emulator
from providers.anthropic import Anthropic
from providers.azure import AzureOpenAI
from providers.compatible import OpenAICompatible
from providers.huggingface import HuggingFace
from providers.ollama import Ollama
from providers.openai import OpenAI
from tests.conftest import TEST_OPENAI_KEY

D = Decimal


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_table, "_OVERRIDES", {})
    yield


def _openai(model: str) -> OpenAI:
    return OpenAI(model, api_key="sk-test", base_url="http://127.0.0.1:9/v1")


def _azure(model: str) -> AzureOpenAI:
    return AzureOpenAI("prod-deployment", model=model, endpoint="https://x.openai.azure.com",
                       api_version="2024-10-21", api_key="azure-test")


def _anthropic(model: str) -> Anthropic:
    return Anthropic(model, api_key="sk-ant-test", base_url="http://127.0.0.1:9")


def _reported(provider: Any, model: str, usage: Usage, options: dict[str, Any]) -> Any:
    """The cost the provider puts on a response with ``usage`` (its own cost path)."""
    if hasattr(provider, "_cost"):  # the OpenAI family: what _finish/_answer call
        response = ChatResponse(Message("assistant", "ok"), model, provider.name, usage)
        return provider._cost(model, response, options)
    return provider.cost(model, usage, options=options)


# (id, provider factory, model, usage, request options, published cost)
TABLE: list[tuple[str, Any, str, Usage, dict[str, Any], Decimal]] = [
    # -- OpenAI ---------------------------------------------------------------------------
    ("openai-plain", _openai, "gpt-4o-mini", Usage(1000, 500), {},
     D("0.00045")),  # 1000 x 0.15 + 500 x 0.60
    ("openai-cached", _openai, "gpt-4o-mini", Usage(10_000, 100, cache_read_tokens=9000), {},
     D("0.000885")),  # 1000 x 0.15 + 9000 x 0.075 + 100 x 0.60  (MUST_SHOW)
    ("openai-dated-snapshot", _openai, "gpt-4o-2024-05-13", Usage(2000, 1000), {},
     D("0.025")),  # 2000 x 5 + 1000 x 15, not gpt-4o's 2.50/10  (MUST_SHOW)
    ("openai-dated-alias", _openai, "gpt-4o-2024-08-06", Usage(2000, 1000), {},
     D("0.015")),  # 2000 x 2.50 + 1000 x 10
    ("openai-reasoning", _openai, "o4-mini", Usage(2000, 3000, reasoning_tokens=2500), {},
     D("0.0154")),  # 2000 x 1.10 + 3000 x 4.40 (reasoning is output)
    ("openai-long-context", _openai, "gpt-5.4",
     Usage(300_000, 1000, cache_read_tokens=100_000), {},
     D("1.0725")),  # > 272K: 200000 x 5 + 100000 x 0.50 + 1000 x 22.50
    ("openai-short-context", _openai, "gpt-5.4", Usage(272_000, 1000), {},
     D("0.695")),  # <= 272K: 272000 x 2.50 + 1000 x 15
    ("openai-flex", _openai, "gpt-5", Usage(10_000, 2000), {"service_tier": "flex"},
     D("0.01625")),  # 10000 x 0.625 + 2000 x 5
    ("openai-priority", _openai, "gpt-5",
     Usage(10_000, 2000, cache_read_tokens=4000), {"service_tier": "priority"},
     D("0.056")),  # 6000 x 2.50 + 4000 x 0.25 + 2000 x 20
    ("openai-default-tier", _openai, "gpt-5", Usage(10_000, 2000), {"service_tier": "default"},
     D("0.0325")),  # 10000 x 1.25 + 2000 x 10
    ("openai-embedding", _openai, "text-embedding-3-small", Usage(50_000, 0), {},
     D("0.001")),  # 50000 x 0.02
    # -- Azure OpenAI (priced as the deployed model) --------------------------------------
    ("azure-plain", _azure, "gpt-4o", Usage(1000, 1000), {},
     D("0.0125")),  # 1000 x 2.50 + 1000 x 10
    ("azure-cached", _azure, "gpt-4o", Usage(10_000, 100, cache_read_tokens=8000), {},
     D("0.016")),  # 2000 x 2.50 + 8000 x 1.25 + 100 x 10
    ("azure-reasoning", _azure, "o3-mini", Usage(1000, 2000, reasoning_tokens=1500), {},
     D("0.0099")),  # 1000 x 1.10 + 2000 x 4.40
    # -- Anthropic ------------------------------------------------------------------------
    ("anthropic-plain", _anthropic, "claude-sonnet-4-5", Usage(1000, 500), {},
     D("0.0105")),  # 1000 x 3 + 500 x 15
    ("anthropic-cache-read", _anthropic, "claude-sonnet-4-5",
     Usage(100_000, 210, cache_read_tokens=100_000), {},
     D("0.03315")),  # 100000 x 0.30 + 210 x 15  (MUST_SHOW)
    ("anthropic-cache-write-5m", _anthropic, "claude-sonnet-4-5",
     Usage(100_000, 210, cache_write_tokens=100_000), {},
     D("0.37815")),  # 100000 x 3.75 + 210 x 15
    ("anthropic-cache-write-1h", _anthropic, "claude-sonnet-4-5",
     Usage(100_000, 210, cache_write_tokens=100_000, cache_write_1h_tokens=100_000), {},
     D("0.60315")),  # 100000 x 6 + 210 x 15  (MUST_SHOW)
    ("anthropic-mixed", _anthropic, "claude-sonnet-4-5-20250929",
     Usage(50_000, 1000, cache_read_tokens=10_000, cache_write_tokens=30_000,
           cache_write_1h_tokens=10_000), {},
     D("0.183")),  # 10000 x 3 + 10000 x 0.30 + 20000 x 3.75 + 10000 x 6 + 1000 x 15
    ("anthropic-thinking", _anthropic, "claude-sonnet-4-5",
     Usage(1000, 4000, reasoning_tokens=3000), {},
     D("0.063")),  # 1000 x 3 + 4000 x 15 (thinking is output)
    ("anthropic-long-context", _anthropic, "claude-sonnet-4-5",
     Usage(250_000, 1000, cache_read_tokens=50_000), {},
     D("1.2525")),  # > 200K: 200000 x 6 + 50000 x 0.60 + 1000 x 22.50
    ("anthropic-long-context-1h", _anthropic, "claude-sonnet-4-5",
     Usage(300_000, 10, cache_write_tokens=100_000, cache_write_1h_tokens=100_000), {},
     D("2.400225")),  # > 200K: 200000 x 6 + 100000 x 12 + 10 x 22.50
    # -- Ollama: local, free ----------------------------------------------------------------
    ("ollama-plain", lambda m: Ollama(model=m, base_url="http://127.0.0.1:9"), "llama3.1",
     Usage(1000, 500), {}, D(0)),
    ("ollama-cached", lambda m: Ollama(model=m, base_url="http://127.0.0.1:9"), "qwen3:8b",
     Usage(1000, 500, cache_read_tokens=900, reasoning_tokens=100), {}, D(0)),
]
MUST_SHOW = ("openai-cached", "anthropic-cache-write-1h", "anthropic-cache-read",
             "openai-dated-snapshot")


@pytest.mark.parametrize(("make", "model", "usage", "options", "published"),
                         [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_reported_cost_is_the_published_price(make: Any, model: str, usage: Usage,
                                              options: dict[str, Any],
                                              published: Decimal) -> None:
    provider = make(model)
    reported = _reported(provider, model, usage, options)
    assert isinstance(reported, Decimal) and reported == published, (reported, published)


def test_must_show_cases_are_in_the_table() -> None:
    rows = {row[0]: row for row in TABLE}
    assert [rows[name][-1] for name in MUST_SHOW] == [
        D("0.000885"), D("0.60315"), D("0.03315"), D("0.025")]


def test_servers_without_a_known_price_report_none() -> None:
    compat = OpenAICompatible("gpt-4o", base_url="http://127.0.0.1:9/v1")
    hf = HuggingFace("tgi", base_url="http://127.0.0.1:9")
    usage = Usage(1000, 500)
    assert _reported(compat, "gpt-4o", usage, {}) is None
    assert _reported(hf, "tgi", usage, {}) is None


def test_a_price_given_to_the_provider_prices_every_part() -> None:
    compat = OpenAICompatible("m", base_url="http://127.0.0.1:9/v1",
                              price={"input": 1, "output": 2, "cache_read": "0.5"})
    usage = Usage(1000, 100, cache_read_tokens=400)
    assert _reported(compat, "m", usage, {}) == D("0.0010")  # 600 x 1 + 400 x 0.5 + 100 x 2


def test_the_request_service_tier_reaches_the_reported_cost(emulator: Emulator) -> None:
    """End to end: the emulator bills 6 prompt and 9 completion tokens for this prompt (gpt-5
    reasons: 5 of the 9 are reasoning, billed as output)."""
    with OpenAI("gpt-5", base_url=emulator.openai_url, api_key=TEST_OPENAI_KEY,
                timeout=5) as p:
        plain = p(ChatRequest("hello there world"))
        priority = p(ChatRequest("hello there world", options={"service_tier": "priority"}))
        stream = p(ChatRequest("hello there world", stream=True,
                               options={"service_tier": "flex"}))
        for _ in stream:
            pass
    assert (plain.usage.input_tokens, plain.usage.output_tokens) == (6, 9)
    assert plain.usage.reasoning_tokens == 5
    assert plain.cost_usd == D("0.0000975")  # 6 x 1.25 + 9 x 10
    assert priority.cost_usd == D("0.000195")  # 6 x 2.50 + 9 x 20
    assert stream.response.cost_usd == D("0.00004875")  # 6 x 0.625 + 9 x 5
