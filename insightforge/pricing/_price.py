"""The :class:`Price` of one model, and the exact cost of a usage at it — pure ``Decimal``.

What lives here: the price type (its rates, long-context tiers and request variants such as
service tiers), :meth:`Price.cost` (the exact cost of a whole usage) and
:meth:`Price.upper_bound` (the most a call of a given size can cost). What must not: lookups,
I/O, floats for money, imports of :mod:`insightforge.types` (which imports this module).

Every rate is USD per million tokens. The parts of a usage bill at their own rates: cache
reads at ``cache_read``, five-minute cache writes at ``cache_write``, one-hour writes at
``cache_write_1h``, the rest of the input at ``input``, all output (reasoning included) at
``output``. A missing cache rate means the vendor bills those tokens like their parent: a
cache read or a five-minute write like plain input, a one-hour write like a five-minute one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from insightforge.pricing._rates import (
    CTX,
    STANDARD_TIERS,
    ZERO,
    CacheWrites,
    PriceError,
    UsageLike,
    non_negative,
    opt_rate,
    rate,
    request_context,
    tidy,
)

__all__ = ["Price", "Tier", "Variant"]

def _tiers(value: Iterable[Tier]) -> tuple[Tier, ...]:
    return tuple(value)


def _variants(value: Iterable[Variant]) -> tuple[Variant, ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class Tier:
    """A long-context tier: prompts of **more than** ``above`` input tokens (cache reads and
    writes included) bill **every** token at ``price``'s rates, not only those past it.

    Attributes:
        above: the prompt size this tier starts after.
        price: the rates in this tier (a flat price: no tiers or variants of its own).
    """

    above: int
    price: Price


@attrs.frozen(slots=True)
class Variant:
    """Rates that apply when a request field has a value, e.g. ``service_tier: priority``.

    Attributes:
        field: the request field (``service_tier``, ``speed``) — a key of
            ``ChatRequest.options``.
        value: the value that selects these rates (``flex``, ``priority``, ``fast``).
        price: the complete price then (its own tiers allowed, no variants).
    """

    field: str
    value: str
    price: Price


@attrs.frozen(slots=True)
class Price:
    """What one model costs, in USD per million tokens — exact ``Decimal``.

    ``Price(input, output)`` is a flat price; the keyword rates add prompt-cache prices, and
    ``tiers``/``variants`` describe long-context and per-request prices (prices from
    genai-prices carry them; see docs/pricing.md).

    Attributes:
        input: per million input tokens neither read from nor written to the cache.
        output: per million output tokens, reasoning included (zero for embeddings).
        cache_read: per million input tokens read from the prompt cache (``None``: as input).
        cache_write: per million input tokens written to the cache with the default
            (five-minute) lifetime (``None``: as input).
        cache_write_1h: per million input tokens written with a one-hour lifetime
            (``None``: as ``cache_write``).
        tiers: long-context tiers, ascending by ``above``.
        variants: rates selected by a request field (service tiers, fast mode).
    """

    input: Decimal = attrs.field(converter=rate, validator=non_negative)
    output: Decimal = attrs.field(default=ZERO, converter=rate, validator=non_negative)
    cache_read: Decimal | None = attrs.field(default=None, kw_only=True, converter=opt_rate,
                                             validator=non_negative)
    cache_write: Decimal | None = attrs.field(default=None, kw_only=True, converter=opt_rate,
                                              validator=non_negative)
    cache_write_1h: Decimal | None = attrs.field(default=None, kw_only=True,
                                                 converter=opt_rate, validator=non_negative)
    tiers: tuple[Tier, ...] = attrs.field(default=(), kw_only=True, converter=_tiers)
    variants: tuple[Variant, ...] = attrs.field(default=(), kw_only=True, converter=_variants)

    def __attrs_post_init__(self) -> None:
        last = -1
        for tier in self.tiers:
            if not isinstance(tier, Tier) or tier.above <= last:
                raise ValueError("price tiers must be Tier(above, price) with 'above' >= 0 "
                                 "and strictly ascending")
            if tier.price.tiers or tier.price.variants:
                raise ValueError("a tier's price must be flat (no tiers or variants)")
            last = tier.above
        seen: set[tuple[str, str]] = set()
        for variant in self.variants:
            key = (variant.field, variant.value)
            if not isinstance(variant, Variant) or variant.price.variants or key in seen:
                raise ValueError("price variants must be distinct Variant(field, value, price) "
                                 "whose price has no variants")
            seen.add(key)

    # -- what changes the bill ------------------------------------------------------------
    @property
    def billing_fields(self) -> frozenset[str]:
        """Request fields (``ChatRequest.options`` keys) whose value changes the rates."""
        return frozenset(v.field for v in self.variants)

    @property
    def service_tiers(self) -> tuple[str, ...]:
        """The ``service_tier`` values this price lists rates for (may be empty)."""
        return tuple(v.value for v in self.variants if v.field == "service_tier")

    @property
    def flat(self) -> bool:
        """No long-context tiers and no variants: one set of rates for every call."""
        return not self.tiers and not self.variants

    def variant(self, field: str, value: str) -> Price | None:
        """The price when request field ``field`` is ``value``, ``None`` if none is listed."""
        for v in self.variants:
            if v.field == field and v.value == value:
                return v.price
        return None

    def for_request(self, *, service_tier: str | None = None,
                    options: Mapping[str, object] | None = None) -> Price:
        """The price that bills a request with these options: the first listed variant whose
        field has its value; else these standard rates (as genai-prices does — an
        unknown or ``auto`` tier is billed at standard rates after the fact)."""
        context = request_context(service_tier, options)
        if context:
            for v in self.variants:
                if context.get(v.field) == v.value:
                    return v.price
        return self

    def rates_at(self, input_tokens: int) -> Price:
        """The flat rates for a prompt of ``input_tokens`` (the long-context tier it reaches)."""
        chosen = self._tier_at(input_tokens)
        if chosen is self and not self.flat:
            return attrs.evolve(self, tiers=(), variants=())
        return chosen

    def _tier_at(self, input_tokens: int) -> Price:
        """The price whose base rates apply at this prompt size (``self`` below every tier)."""
        chosen = self
        for tier in self.tiers:
            if input_tokens > tier.above:
                chosen = tier.price
            else:
                break
        return chosen

    # -- money ----------------------------------------------------------------------------
    def cost(self, usage: UsageLike | int, output_tokens: int = 0, *,
             service_tier: str | None = None,
             options: Mapping[str, object] | None = None) -> Decimal:
        """The exact cost of ``usage`` (a :class:`~insightforge.Usage`), in USD.

        ``price.cost(input_tokens, output_tokens)`` still works: a usage with no cache parts.
        ``service_tier``/``options`` pick the variant the request was billed at (see
        :meth:`for_request`); the long-context tier follows ``usage.input_tokens``.
        """
        if isinstance(usage, int):
            n_in, n_out, read, write, write_1h = usage, output_tokens, 0, 0, 0
        else:
            n_in, n_out = usage.input_tokens, usage.output_tokens
            read, write = usage.cache_read_tokens, usage.cache_write_tokens
            write_1h = usage.cache_write_1h_tokens
        r = self.billed_at(n_in, service_tier=service_tier, options=options)
        mul = CTX.multiply
        total = CTX.add(mul(r.input, n_in - read - write), mul(r.output, n_out))
        if read:
            total = CTX.add(total, mul(r.read_rate, read))
        if write:
            total = CTX.add(total, mul(r.write_5m_rate, write - write_1h))
            total = CTX.add(total, mul(r.write_1h_rate, write_1h))
        return tidy(total.scaleb(-6, CTX))

    def billed_at(self, input_tokens: int, *, service_tier: str | None = None,
                  options: Mapping[str, object] | None = None) -> Price:
        """The price whose own rates :meth:`cost` bills a usage of ``input_tokens`` at: the
        request's variant (:meth:`for_request`), then the long-context tier it reaches
        (``self`` when neither applies; a tier's price is flat, a variant's may not be)."""
        billed = self if not (self.variants and (service_tier or options)) else \
            self.for_request(service_tier=service_tier, options=options)
        return billed._tier_at(input_tokens)

    @property
    def read_rate(self) -> Decimal:
        """The rate cache reads bill at (``cache_read``, else ``input``)."""
        return self.input if self.cache_read is None else self.cache_read

    @property
    def write_5m_rate(self) -> Decimal:
        """The rate five-minute cache writes bill at (``cache_write``, else ``input``)."""
        return self.input if self.cache_write is None else self.cache_write

    @property
    def write_1h_rate(self) -> Decimal:
        """The rate one-hour cache writes bill at (``cache_write_1h``, else the 5m rate)."""
        return self.write_5m_rate if self.cache_write_1h is None else self.cache_write_1h

    def worst_rates(self, input_tokens: int, *, service_tier: str | None = None,
                    options: Mapping[str, object] | None = None,
                    cache_writes: CacheWrites = True) -> tuple[Decimal, Decimal]:
        """The (input-side, output) rates :meth:`upper_bound` charges, per million tokens.

        Input side: the dearest of the input, cache-read and (as ``cache_writes`` allows)
        cache-write rates; both maximised over every long-context tier a prompt of at most
        ``input_tokens`` can reach and every variant the request may be billed at.
        """
        if cache_writes not in (True, False, "5m", "1h"):
            raise PriceError(f"cache_writes must be True (any lifetime), '1h', '5m' or False "
                             f"(none), got {cache_writes!r}")
        if type(input_tokens) is not int or input_tokens < 0:
            raise PriceError(f"input_tokens must be a whole number >= 0, got {input_tokens!r}")
        worst_in, worst_out = ZERO, ZERO
        for price in self._candidates(request_context(service_tier, options)):
            for rates in (price, *(t.price for t in price.tiers if input_tokens > t.above)):
                side = max(rates.input, rates.read_rate)
                if cache_writes is not False:
                    side = max(side, rates.write_5m_rate)
                if cache_writes is True or cache_writes == "1h":
                    side = max(side, rates.write_1h_rate)
                worst_in, worst_out = max(worst_in, side), max(worst_out, rates.output)
        return worst_in, worst_out

    def upper_bound(self, input_tokens: int, output_tokens: int, *,
                    service_tier: str | None = None,
                    options: Mapping[str, object] | None = None,
                    cache_writes: CacheWrites = True) -> Decimal:
        """The most a call of at most ``input_tokens`` in and ``output_tokens`` out can cost.

        Guarantee: ``upper_bound(i, o, service_tier=t, options=x, cache_writes=w) >=
        cost(u, service_tier=t', options=x')`` for every usage ``u`` with
        ``u.input_tokens <= i`` and ``u.output_tokens <= o`` — and, with ``w=False``, no
        cache writes; with ``w="5m"``, no one-hour writes — where ``t'``/``x'`` is whatever
        the vendor may bill a request sent with ``t``/``x``:

        * a field the request leaves out bills at standard rates (``service_tier=None``);
        * a value the price lists bills at that variant, ``default``/``standard`` at the
          standard rates;
        * any other value (``auto``, a tier this table does not know, a non-string) may bill
          at any variant of that field, so the dearest counts.

        Every input token counts at the dearest input-side rate (a one-hour cache write, 2x
        input at Anthropic, unless ``cache_writes`` rules writes out) and every output token
        at the output rate, at the dearest long-context tier the prompt size can reach.
        """
        if type(output_tokens) is not int or output_tokens < 0:
            raise PriceError(f"output_tokens must be a whole number >= 0, "
                             f"got {output_tokens!r}")
        side, out = self.worst_rates(input_tokens, service_tier=service_tier,
                                     options=options, cache_writes=cache_writes)
        return tidy(CTX.add(CTX.multiply(side, input_tokens),
                            CTX.multiply(out, output_tokens)).scaleb(-6, CTX))

    def _candidates(self, context: Mapping[str, object]) -> list[Price]:
        """Every price the vendor may bill a request with ``context`` at (see
        :meth:`upper_bound`); a mix of two variants is covered because the caller takes
        each rate's maximum over them."""
        chosen: list[Price] = []
        standard_possible = True
        for field in sorted(self.billing_fields):
            value = context.get(field)
            if value is None:
                continue
            listed = self.variant(field, value) if isinstance(value, str) else None
            if listed is not None:
                chosen.append(listed)
                standard_possible = False
            elif not (field == "service_tier" and isinstance(value, str)
                      and value in STANDARD_TIERS):
                chosen.extend(v.price for v in self.variants if v.field == field)
        return [self, *chosen] if standard_possible or not chosen else chosen

