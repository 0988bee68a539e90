"""Prices from the genai-prices package's bundled data, as :class:`Price` objects.

What lives here: which genai-prices provider an InsightForge provider name reads, the model
match (genai-prices' own curated rules: exact names and the aliases it documents — never a
prefix of ours), and the conversion of one model's prices on one day into a :class:`Price`.
What must not: network (only the data module shipped in the wheel is read — never
``UpdatePrices`` or the package's global snapshot, which another library may have swapped
for a downloaded one), and importing genai-prices before the first lookup (its data module
is 1.5 MB of Python; ``import insightforge`` must stay light).

A model whose prices cannot be billed exactly from a :class:`~insightforge.Usage` — a
per-request fee, a separate reasoning rate, time-of-day discounts, text-only rates of a
multimodal model, no token rates at all — is reported as unknown (``None``), never guessed.
"""

from __future__ import annotations

import functools
import threading
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from insightforge.pricing._price import Price, Tier, Variant
from insightforge.pricing._rates import PriceError

__all__ = ["GENAI_PROVIDERS", "NOT_FROM_GENAI", "Match", "context_window", "data_version", "find",
           "own_models"]

GENAI_PROVIDERS: dict[str, str] = {"openai": "openai", "azure": "azure",
                                   "anthropic": "anthropic"}
"""InsightForge provider name -> genai-prices provider id. Any other name reads the
genai-prices provider of exactly that id, if there is one (a plugin named ``groq``)."""

NOT_FROM_GENAI = frozenset({"compatible", "huggingface", "ollama", "scripted", "template"})
"""Provider names whose models genai-prices cannot know: whatever a server serves."""

_RATE_KEYS = {"input_mtok": "input", "output_mtok": "output", "cache_read_mtok": "cache_read",
              "cache_write_mtok": "cache_write", "cache_write_1h_mtok": "cache_write_1h"}
# Billed in units a Usage does not count (other modalities, tool calls): not ours to bill.
_OTHER_UNITS = ("audio", "image", "video", "searches")
_SKIPPED_CONTEXTS = frozenset({"processing"})  # the Batch API: InsightForge does not use it
_lock = threading.Lock()


class Match(NamedTuple):
    """One genai-prices model priced for one day.

    Attributes:
        price: the price, or ``None`` when it cannot be billed exactly (``reason`` says why).
        provider_id: the genai-prices provider whose table matched (Azure may fall back to
            OpenAI's); model_id: the genai-prices model id that matched.
        reason: why ``price`` is ``None``.
    """

    price: Price | None
    provider_id: str
    model_id: str
    reason: str = ""


@functools.cache
def data_version() -> str:
    """``genai-prices <version>``: the package whose bundled data prices models."""
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


@functools.cache
def _providers() -> list[Any]:
    with _lock:
        from genai_prices.data import providers  # the bundled snapshot, no network

        return providers


def _provider(name: str) -> Any | None:
    if name in NOT_FROM_GENAI:
        return None
    wanted = GENAI_PROVIDERS.get(name, name)
    return next((p for p in _providers() if p.id == wanted), None)


def find(provider: str, model: str, day: date) -> Match | None:
    """The genai-prices price of ``model`` at ``provider`` on ``day``; ``None`` if unmatched.

    Whatever goes wrong inside genai-prices (not installed, data it cannot read) is a
    :class:`PriceError` naming it, never a foreign exception.
    """
    try:
        return _find(provider, model.lower(), day)
    except ImportError as exc:
        raise PriceError(f"prices need the genai-prices package ({exc}); install it with "
                         "`pip install genai-prices`, or set every price you use with "
                         "set_price(...)") from None
    except Exception as exc:  # a bug or bad data in the dependency: say so, in our type
        raise PriceError(f"genai-prices failed to price {provider}:{model} "
                         f"({type(exc).__name__}: {exc}); set a price with set_price(...) "
                         "or a `prices:` config section") from None


@functools.lru_cache(maxsize=4096)
def _find(provider: str, model: str, day: date) -> Match | None:
    table = _provider(provider)
    if table is None:
        return None
    info = table.find_model(model, all_providers=_providers())
    if info is None:
        return None
    own = any(info is m for m in table.models)
    owner = table.id if own else next(
        (p.id for p in _providers() if any(info is m for m in p.models)), table.id)
    try:
        price = _convert(info, own, day)
    except _Unbillable as why:
        return Match(None, owner, info.id, str(why))
    return Match(price, owner, info.id)


def context_window(provider: str, model: str) -> int | None:
    """The context window (tokens) genai-prices lists for ``model`` at ``provider``, or
    ``None`` (unknown model, a local provider, or genai-prices unavailable)."""
    try:
        return _window(provider, model.lower())
    except Exception:  # a window is a hint: never let the dependency break a call
        return None


@functools.lru_cache(maxsize=1024)
def _window(provider: str, model: str) -> int | None:
    table = _provider(provider)
    info = None if table is None else table.find_model(model, all_providers=_providers())
    found = getattr(info, "context_window", None)
    return found if isinstance(found, int) and found > 0 else None


def own_models(provider: str, day: date) -> dict[str, Match]:
    """Every model genai-prices lists for ``provider`` itself (fallbacks excluded), by id."""
    table = _provider(provider)
    if table is None:
        return {}
    found: dict[str, Match] = {}
    for info in table.models:
        try:
            found[info.id] = Match(_convert(info, True, day), table.id, info.id)
        except _Unbillable as why:
            found[info.id] = Match(None, table.id, info.id, str(why))
    return found


class _Unbillable(Exception):
    """This model's prices cannot be applied exactly to a Usage."""


def _convert(info: Any, own: bool, day: date) -> Price:
    from genai_prices.types import TimeOfDateConstraint

    conditional = info.prices if isinstance(info.prices, list) else []
    if any(isinstance(c.constraint, TimeOfDateConstraint) for c in conditional):
        raise _Unbillable("its price changes with the time of day")
    at = datetime.combine(day, time(12), tzinfo=UTC)
    standard = _price(info.get_prices(at))
    if not own:  # a fallback provider's request variants are not this provider's
        return standard
    variants: list[Variant] = []
    seen: set[tuple[str, str]] = set()
    for variant in info.price_variants or ():
        if len(variant.when) != 1 or (variant.constraint is not None
                                      and not variant.constraint.active(at)):
            continue
        ((field, value),) = variant.when.items()
        if field in _SKIPPED_CONTEXTS or (field, value) in seen:
            continue
        seen.add((field, value))
        variants.append(Variant(field, value, _price(info.get_prices(at, {field: value}))))
    return attrs.evolve(standard, variants=tuple(variants)) if variants else standard


def _price(model_price: Any) -> Price:
    from genai_prices.types import TieredPrices

    values = {k: v for k, v in vars(model_price).items()
              if not k.startswith("_") and v is not None}
    unknown = sorted(k for k in values
                     if k not in _RATE_KEYS and not any(u in k for u in _OTHER_UNITS))
    if unknown:
        raise _Unbillable(f"it is billed by {', '.join(unknown)}, which InsightForge "
                          "does not count")
    rates = {k: v for k, v in values.items() if k in _RATE_KEYS}
    if not rates:
        if values:
            raise _Unbillable("it has no per-token text rates")
        return Price(0, 0)  # genai-prices lists it with no charge at all (a free model)
    starts = sorted({t.start for v in rates.values() if isinstance(v, TieredPrices)
                     for t in v.tiers})

    def at(tokens: int) -> Price:
        fields: dict[str, Decimal] = {}
        for key, value in rates.items():
            rate = value
            if isinstance(value, TieredPrices):
                rate = value.base
                for tier in value.tiers:
                    if tokens > tier.start:
                        rate = tier.price
            fields[_RATE_KEYS[key]] = rate
        get = fields.get
        return Price(get("input", Decimal(0)), get("output", Decimal(0)),
                     cache_read=get("cache_read"), cache_write=get("cache_write"),
                     cache_write_1h=get("cache_write_1h"))

    base = at(0)
    if not starts:
        return base
    return attrs.evolve(base, tiers=tuple(Tier(s, at(s + 1)) for s in starts))
