"""``insightforge prices MODEL``: the rates that apply to a model, where they come from, and
what a call with given token counts costs (and the most such a call could cost).

Prices come from :mod:`insightforge.pricing` (genai-prices' bundled data, overrides on top);
the config file's ``prices:`` section and its providers' ``price:`` count as overrides here
too. Nothing is sent anywhere.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import click

from insightforge.errors import ConfigError

__all__ = ["prices"]

_GUESS = ("openai", "anthropic")  # tried in order when --provider is not given
_COUNTS = ("input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning")


def _config_table(ctx: click.Context) -> Any:
    """Overrides from the config file (``prices:``, providers' ``price:``) as a PriceTable."""
    from insightforge.cli._setup import config_file
    from insightforge.pricing import PriceTable

    path = config_file(ctx)
    if path is None:
        return PriceTable()
    from insightforge.config import load_config

    config = load_config(path)
    table = {ptype: dict(models) for ptype, models in config.prices.items()}
    for spec in config.providers.values():
        model = spec.model or spec.deployment
        if spec.price is not None and model:
            table.setdefault(spec.type, {}).setdefault(model, spec.price)
    return PriceTable(table)


def _usage(counts: dict[str, int | None]) -> Any:
    from insightforge.types import Usage

    n = {k: v or 0 for k, v in counts.items()}
    try:
        return Usage(n["input"], n["output"], cache_read_tokens=n["cache_read"],
                     cache_write_tokens=n["cache_write"] + n["cache_write_1h"],
                     cache_write_1h_tokens=n["cache_write_1h"], reasoning_tokens=n["reasoning"])
    except ValueError as exc:
        raise click.UsageError(f"{exc} (--cache-read, --cache-write and --cache-write-1h are "
                               "parts of --input; --reasoning is a part of --output)") from None


def _rate(value: Decimal | None, fallback: str) -> str:
    return f"(as {fallback})" if value is None else str(value)


def _rates(price: Any) -> dict[str, str]:
    return {"input": str(price.input), "output": str(price.output),
            "cache_read": _rate(price.cache_read, "input"),
            "cache_write": _rate(price.cache_write, "input"),
            "cache_write_1h": _rate(price.cache_write_1h, "cache write")}


def _money(value: Decimal) -> str:
    """Plain notation without trailing zeros: ``0.000885``, ``2.4``, ``0``."""
    return format(value.normalize(), "f")


def _not_found(model: str, tried: list[str], why: str) -> ConfigError:
    where = tried[0] if len(tried) == 1 else "openai"
    return ConfigError(
        f"no price known for {model!r} (tried {', '.join(tried)}): {why}. Give --provider, "
        f"or set a price: a config section `prices: {{{where}: {{{model}: {{input: ..., "
        f"output: ...}}}}}}` or insightforge.pricing.set_price({where!r}, {model!r}, "
        "{'input': ..., 'output': ...})")


@click.command()
@click.argument("model")
@click.option("--provider", "-p", default=None,
              help="Provider name (openai, azure, anthropic, ollama...); default: the first of "
              "openai, anthropic that knows MODEL.")
@click.option("--input", "input_", type=click.IntRange(0), default=None,
              help="Prompt tokens, all of them (cache reads and writes included).")
@click.option("--output", type=click.IntRange(0), default=None,
              help="Completion tokens, all of them (reasoning included).")
@click.option("--cache-read", type=click.IntRange(0), default=None,
              help="Part of --input read from the prompt cache.")
@click.option("--cache-write", type=click.IntRange(0), default=None,
              help="Part of --input written to the cache for five minutes.")
@click.option("--cache-write-1h", type=click.IntRange(0), default=None,
              help="Part of --input written to the cache for one hour.")
@click.option("--reasoning", type=click.IntRange(0), default=None,
              help="Part of --output spent on reasoning (billed as output).")
@click.option("--service-tier", default=None,
              help="The request's service_tier (flex, priority...): its rates apply.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def prices(ctx: click.Context, model: str, provider: str | None, input_: int | None,
           output: int | None, cache_read: int | None, cache_write: int | None,
           cache_write_1h: int | None, reasoning: int | None, service_tier: str | None,
           as_json: bool) -> None:
    """The price of MODEL: its rates (USD per million tokens), where they come from, and what a
    call with the given token counts costs, exactly, with the most such a call could cost
    (what a Budget reserves: every input token at the dearest input-side rate)."""
    from insightforge.pricing import why_unknown

    counts = dict(zip(_COUNTS, (input_, output, cache_read, cache_write, cache_write_1h,
                                reasoning), strict=True))
    usage = _usage(counts)
    table = _config_table(ctx)
    tried = [provider] if provider else list(_GUESS)
    info = next((i for p in tried if (i := table.info(p, model)) is not None), None)
    if info is None:
        raise _not_found(model, tried, why_unknown(tried[0], model))
    source = "config" if info.source == "table" else info.source
    applied = info.price.for_request(service_tier=service_tier)
    doc: dict[str, Any] = {
        "provider": info.provider, "model": model, "listed_as": info.matched,
        "source": source, "service_tier": service_tier,
        "tier_above": max((t.above for t in applied.tiers if usage.input_tokens > t.above),
                          default=None),
        "rates": _rates(applied.rates_at(usage.input_tokens)),
        "tiers": [{"above": t.above, **_rates(t.price)} for t in applied.tiers],
        "billing_fields": {f: [v.value for v in info.price.variants if v.field == f]
                           for f in sorted(info.price.billing_fields)},
    }
    if any(v is not None for v in counts.values()):
        doc["usage"] = {k: v or 0 for k, v in counts.items()}
        doc["cost_usd"] = _money(info.price.cost(usage, service_tier=service_tier))
        doc["upper_bound_usd"] = _money(info.price.upper_bound(
            usage.input_tokens, usage.output_tokens, service_tier=service_tier))
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    _print(doc, listed=service_tier is None or applied is not info.price)


def _print(doc: dict[str, Any], *, listed: bool) -> None:
    head = f"{doc['model']} at {doc['provider']}: from {doc['source']}"
    if doc["listed_as"] != doc["model"]:
        head += f", listed as {doc['listed_as']}"
    click.echo(head)
    tier = doc["service_tier"]
    if tier is not None and not listed:
        click.echo(f"  service_tier {tier!r} is not listed for this model: standard rates")
    where = [f"service_tier {tier}"] if tier and listed else []
    if doc["tier_above"] is not None:
        where.append(f"the tier above {doc['tier_above']} input tokens")
    click.echo(f"  rates (USD per million tokens{''.join(', ' + w for w in where)}):")
    for key, value in doc["rates"].items():
        click.echo(f"    {key.replace('_', ' '):<15} {value}")
    for t in doc["tiers"]:
        click.echo(f"  above {t['above']} input tokens: input {t['input']}, output "
                   f"{t['output']}, cache read {t['cache_read']}, cache write "
                   f"{t['cache_write']}, 1h {t['cache_write_1h']}")
    for field, values in doc["billing_fields"].items():
        click.echo(f"  request field {field!r} changes the rates: {', '.join(values)}")
    if "cost_usd" in doc:
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in doc["usage"].items() if v)
        click.echo(f"  a call with {shown or 'no tokens'} costs ${doc['cost_usd']}")
        click.echo(f"  the most a call of that size can cost: ${doc['upper_bound_usd']}")
