"""``insightforge prices MODEL``: rates, source, the cost of given counts, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import invoke


def test_rates_source_and_cost(clean_env: Path) -> None:
    code, out, err = invoke(["prices", "gpt-4o-mini", "--input", "10000", "--cache-read", "9000",
                             "--output", "100"])
    assert code == 0, err
    assert "gpt-4o-mini at openai: from genai-prices " in out
    assert "cache read      0.075" in out
    assert "costs $0.000885\n" in out  # 1000 x 0.15 + 9000 x 0.075 + 100 x 0.60 per million
    assert "can cost: $0.00156\n" in out  # every prompt token at the dearest input rate
    assert "'service_tier' changes the rates" in out


def test_json_with_a_service_tier_and_a_long_context(clean_env: Path) -> None:
    code, out, _ = invoke(["prices", "gpt-5", "--service-tier", "flex", "--input", "1000",
                           "--output", "1000", "--json"])
    doc = json.loads(out)
    assert code == 0 and doc["source"].startswith("genai-prices ")
    assert doc["rates"]["input"] == "0.625" and doc["cost_usd"] == "0.005625"
    assert "flex" in doc["billing_fields"]["service_tier"]
    code, out, _ = invoke(["prices", "claude-sonnet-4-5", "-p", "anthropic", "--input", "300000",
                           "--cache-write-1h", "100000", "--output", "10", "--json"])
    doc = json.loads(out)
    assert code == 0 and doc["tier_above"] == 200000 and doc["rates"]["input"] == "6"
    assert doc["cost_usd"] == "2.400225"  # 200000 x 6 + 100000 x 12 + 10 x 22.5 per million


def test_dated_snapshot_shows_its_own_price(clean_env: Path) -> None:
    code, out, _ = invoke(["prices", "gpt-4o-2024-05-13", "--input", "2000", "--output",
                           "1000"])
    assert code == 0 and "costs $0.025\n" in out


def test_unknown_model_is_one_line_and_exit_2(clean_env: Path) -> None:
    code, out, err = invoke(["prices", "gpt-4o-2099-01-01"])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "tried openai, anthropic" in err and "set_price" in err and "prices:" in err
    code, _, err = invoke(["prices", "my-model", "--provider", "compatible"])
    assert code == 2 and "compatible serves whatever models" in err


def test_parts_larger_than_the_whole_are_a_usage_error(clean_env: Path) -> None:
    code, _, err = invoke(["prices", "gpt-4o", "--input", "5", "--cache-read", "6"])
    assert code == 2 and "parts of --input" in err and "Traceback" not in err


def test_config_prices_override_and_are_named(clean_env: Path) -> None:
    (clean_env / "insightforge.yaml").write_text(
        "providers: {o: {type: openai, model: gpt-4o}}\n"
        "prices: {openai: {gpt-4o: {input: 1, output: 2, cache_read: '0.5'}},"
        " compatible: {local-llm: {input: 0}}}\n")
    code, out, err = invoke(["prices", "gpt-4o", "--input", "1000", "--cache-read", "1000",
                             "--json"])
    doc = json.loads(out)
    assert code == 0, err
    assert doc["source"] == "config" and doc["cost_usd"] == "0.0005"
    code, out, _ = invoke(["prices", "local-llm", "-p", "compatible"])
    assert code == 0 and "from config" in out


def test_ollama_is_free(clean_env: Path) -> None:
    code, out, _ = invoke(["prices", "llama3.1:8b", "-p", "ollama", "--input", "100"])
    assert code == 0 and "from local" in out and "costs $0\n" in out
