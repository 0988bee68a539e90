"""Where a price comes from: overrides (code, config), local providers, genai-prices.

Lookup order, first hit wins:

1. a :class:`PriceTable`'s own overrides (a Budget's ``prices=``), then its declared aliases;
2. the global overrides (:func:`set_price`, the config's ``prices:`` section), exact name or
   a declared alias;
3. local providers (``ollama``): free;
4. genai-prices' bundled data: exact names and the aliases its curated match rules document;
5. a :class:`PriceTable`'s ``default``, if one was set on purpose.

Otherwise the price is unknown (``None``). A model is **never** priced as a prefix of
another: ``gpt-4o-2024-05-13`` is not ``gpt-4o``, ``my-model-large`` is not ``my-model``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import NamedTuple

import attrs

from insightforge.pricing import _genai
from insightforge.pricing._parse import PriceError, as_price
from insightforge.pricing._price import Price

__all__ = ["FREE", "FREE_PROVIDERS", "PriceInfo", "PriceTable", "known_models", "load_prices",
           "price_for", "price_info", "set_price"]

FREE = Price(0, 0)
FREE_PROVIDERS = frozenset({"ollama"})
"""Providers that run models locally: every model is free."""


@attrs.frozen(slots=True)
class PriceInfo:
    """A price and where it came from (what ``insightforge prices`` shows).

    Attributes:
        price: the price; provider/model: what was asked.
        source: ``override`` (set_price), ``config`` (a ``prices:`` section), ``table`` (a
            PriceTable's own), ``default`` (a PriceTable's default), ``local`` (free), or
            ``genai-prices <version>`` (its bundled data).
        matched: the name the price is listed under (a genai-prices model id, or the
            override's name when the model is its alias).
    """

    price: Price
    provider: str
    model: str
    source: str
    matched: str


class _Entry(NamedTuple):
    price: Price
    source: str
    name: str


_lock = threading.Lock()
_OVERRIDES: dict[str, dict[str, _Entry]] = {}  # provider -> model or alias -> entry


def set_price(provider: str, model: str, price: Price | Mapping[str, object], *,
              aliases: Iterable[str] = (), source: str = "override") -> None:
    """Add or override the price of ``model`` at ``provider`` (e.g. a negotiated rate).

    The override matches ``model`` exactly, and each of ``aliases`` (other names the vendor
    documents for the same model, e.g. a dated snapshot) — nothing else.
    """
    entry = _Entry(as_price(price, f"price of {provider}:{model}"), source, model)
    with _lock:
        table = _OVERRIDES.setdefault(provider, {})
        for name in (model, *aliases):
            table[name] = entry


def load_prices(data: Mapping[str, Mapping[str, object]]) -> None:
    """Apply a config ``prices:`` section (``{provider: {model: {input, output, ...}}}``)."""
    table = PriceTable.from_mapping(data)
    for provider, models in table.overrides.items():
        for model, price in models.items():
            set_price(provider, model, price, source="config")


def _today(at: date | datetime | None) -> date:
    if at is None:
        return datetime.now(UTC).date()
    if isinstance(at, datetime):
        return (at.astimezone(UTC) if at.tzinfo else at).date()
    return at


def price_info(provider: str, model: str, *, at: date | datetime | None = None,
               ) -> PriceInfo | None:
    """The price of ``model`` at ``provider`` and its source; ``None`` when unknown.

    ``at``: the day whose prices apply (default: today, UTC) — genai-prices dates its
    price changes.
    """
    if not isinstance(provider, str) or not isinstance(model, str):
        raise PriceError(f"a price lookup needs a provider and a model name, got "
                         f"{provider!r}, {model!r}")
    entry = _OVERRIDES.get(provider, {}).get(model)
    if entry is not None:
        return PriceInfo(entry.price, provider, model, entry.source, entry.name)
    if provider in FREE_PROVIDERS:
        return PriceInfo(FREE, provider, model, "local", model)
    if not model:
        return None
    found = _genai.find(provider, model, _today(at))
    if found is None or found.price is None:
        return None
    return PriceInfo(found.price, provider, model, _genai.data_version(), found.model_id)


def price_for(provider: str, model: str, *, at: date | datetime | None = None) -> Price | None:
    """The price of ``model`` at ``provider`` (see the module docstring), ``None`` if unknown."""
    info = price_info(provider, model, at=at)
    return None if info is None else info.price


def why_unknown(provider: str, model: str, *, at: date | datetime | None = None) -> str:
    """A sentence on why no price is known (for error messages)."""
    if provider in _genai.NOT_FROM_GENAI:
        return (f"{provider} serves whatever models its server has, so no price is built "
                "in")
    found = _genai.find(provider, model, _today(at)) if model else None
    if found is not None and found.price is None:
        return (f"genai-prices lists {found.model_id!r} but {found.reason}, so it cannot be "
                "billed exactly")
    return f"neither an override nor {_genai.data_version()} lists {provider}:{model}"


def known_models(provider: str, *, at: date | datetime | None = None) -> dict[str, Price]:
    """Every model with a known price at ``provider``: overrides, then genai-prices' own
    models (by their id), for ``insightforge providers show``. Loads genai-prices."""
    found = {m.model_id: m.price for m in _genai.own_models(provider, _today(at)).values()
             if m.price is not None}
    found.update({name: e.price for name, e in _OVERRIDES.get(provider, {}).items()})
    return found


@attrs.frozen(slots=True)
class PriceTable:
    """Price overrides scoped to one object (a ``Budget``), over the global lookup.

    ``lookup`` tries the overrides (exact name, then ``aliases``), then :func:`price_for`,
    then ``default`` — which stays ``None`` unless set on purpose, so an unknown model is
    never silently free.

    Attributes:
        overrides: provider -> model -> :class:`Price`.
        default: the price of any model nothing else knows, or ``None``.
        aliases: provider -> alias -> the model name in ``overrides`` it stands for.
    """

    overrides: Mapping[str, Mapping[str, Price]] = attrs.field(factory=dict)
    default: Price | None = None
    aliases: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict, kw_only=True)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Mapping[str, object]],
                     default: Price | Mapping[str, object] | None = None) -> PriceTable:
        """From config: ``{openai: {gpt-4o: {input: "2.5", output: "10"}}}``."""
        if not isinstance(data, Mapping):
            raise PriceError("prices must be a mapping of provider -> model -> "
                             "{input, output, ...}")
        table: dict[str, dict[str, Price]] = {}
        for provider, models in data.items():
            if not isinstance(models, Mapping):
                raise PriceError(f"prices.{provider}: expected a mapping of model -> price")
            table[str(provider)] = {str(m): as_price(p, f"prices.{provider}.{m}")
                                    for m, p in models.items()}
        dflt = None if default is None else as_price(default, "prices.default")
        return cls(table, dflt)

    def info(self, provider: str, model: str, *, at: date | datetime | None = None,
             ) -> PriceInfo | None:
        """The price of ``model`` at ``provider`` and its source, ``None`` when unknown."""
        own = self.overrides.get(provider, {})
        name = model if model in own else self.aliases.get(provider, {}).get(model)
        if name is not None and name in own:
            return PriceInfo(own[name], provider, model, "table", name)
        found = price_info(provider, model, at=at)
        if found is None and self.default is not None:
            return PriceInfo(self.default, provider, model, "default", model)
        return found

    def lookup(self, provider: str, model: str, *, at: date | datetime | None = None,
               ) -> Price | None:
        """The price of ``model`` at ``provider``, or ``None`` when nothing knows it."""
        found = self.info(provider, model, at=at)
        return None if found is None else found.price
