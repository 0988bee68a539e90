"""One request under a budget, pure: fold what can raise the bill into the request, plan
the worst case, admit (lowering ``max_tokens`` to what the grant pays for), charge.

What can raise the bill is folded in before anything is reserved, so nothing slips past:

* **output limits in ``options``** (``max_tokens``, ``max_completion_tokens``,
  ``max_output_tokens``, ``num_predict``, ``max_new_tokens``) — they would override the
  request's ``max_tokens`` on the wire (options are merged last), so the largest becomes
  the cap and they leave ``options``; the Budget then sends only its own ``max_tokens``;
* **``n``** (several answers, each billed) — the output worst case is ``n`` times the cap;
* **the service tier and any other field that changes the rates** (``service_tier``,
  ``speed``...) — the price's own worst rates for those options;
* **prompt-cache writes** — reserved at the write price when the request may write the
  cache (it asks for it).

A value that cannot be read is an ``InvalidRequest`` naming the field, before any call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

import attrs

from insightforge.errors import BudgetExceeded, InvalidRequest
from insightforge.kit.keys import bucket_key
from insightforge.pricing import Price, PriceTable
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Route,
    TraceEvent,
)
from middleware.budget.media import IMAGE_TOKENS, image_count, image_tokens_for
from middleware.budget.policy import (
    Estimator,
    Rates,
    cost_units,
    dearest_rates,
    exact_rates,
    from_units,
    ledger_key,
    output_tokens_for,
    period_key,
    plain,
    settle_price,
    worst_case,
    worst_units,
)
from middleware.budget.routes import Routes

__all__ = ["OUTPUT_LIMITS", "Plan", "Reservation", "admit", "charge", "fold", "interrupted_cost",
           "plan", "refusal", "settled_event"]

OUTPUT_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "num_predict",
                 "max_new_tokens")
"""``options`` keys that set the output limit on some wire (folded into ``max_tokens``)."""


def _count(options: Mapping[str, Any], key: str) -> int:
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"options.{key} must be a whole number >= 1, got {value!r}; "
                             "a budget cannot bound what it cannot read")
    return value


def fold(request: ChatRequest | EmbedRequest) -> tuple[ChatRequest | EmbedRequest, int]:
    """``request`` with its options' output limits folded into ``max_tokens`` (the largest
    wins, as it would on the wire), and the number of answers billed (``n``)."""
    if isinstance(request, EmbedRequest) or not request.options:
        return request, 1
    options = request.options
    limits = [_count(options, key) for key in OUTPUT_LIMITS if key in options]
    choices = _count(options, "n") if "n" in options else 1
    if not limits:
        return request, choices
    cap = max([*limits, request.max_tokens or 0])
    kept = {k: v for k, v in options.items() if k not in OUTPUT_LIMITS}
    return attrs.evolve(request, options=kept, max_tokens=cap), choices


def may_write_cache(request: ChatRequest | EmbedRequest) -> bool | str:
    """Which prompt-cache writes the request may be billed: ``False`` (it asks for none),
    ``"5m"`` (only five-minute marks) or ``True`` (any lifetime: a one-hour mark, or a
    caching option whose lifetime is the vendor's to choose)."""
    if isinstance(request, EmbedRequest):
        return False
    if request.options and any("cache" in key for key in request.options):
        return True
    marks = [m.cache for m in request.messages if m.cache]
    if request.tools:
        marks += [t.cache for t in request.tools if t.cache]
    if not marks:
        return False
    return True if any(mark.ttl != "5m" for mark in marks) else "5m"


def _dearer_images(request: ChatRequest | EmbedRequest, routes: Sequence[Route]) -> int:
    """Tokens to add when a route's model bills images above the default bound."""
    if isinstance(request, EmbedRequest):
        return 0
    images = image_count(request.messages)
    if not images:
        return 0
    models = [request.model, *(route.model for route in routes)]
    return images * (image_tokens_for(models) - IMAGE_TOKENS)


class Plan(NamedTuple):
    """What a request may cost, before the ledger is asked (a named tuple: made on every
    call, it costs a tenth of a frozen class).

    Attributes:
        key: ledger key; scope: the scope key; period: the period key.
        rates: the dearest (input-side, output) rates any route may bill it at.
        input_tokens: the input upper bound. cap: output tokens per answer; choices: ``n``.
        want/least: units for the cap, and for ``min_output_tokens``.
        request: the request with its options folded in (what is sent).
    """

    key: str
    scope: str
    period: str
    rates: Rates
    input_tokens: int
    cap: int
    want: int
    least: int
    choices: int = 1
    request: ChatRequest | EmbedRequest | None = None


class Reservation(NamedTuple):
    """An admitted request: what was reserved, and the request to send (a named tuple).

    Attributes:
        plan: the plan; units: reserved units; request: the (possibly lowered) request.
        events: trace events recorded at admission. lease: the ledger's lease id.
    """

    plan: Plan
    units: int
    request: ChatRequest | EmbedRequest
    events: tuple[TraceEvent, ...]
    lease: str = ""


def plan(request: ChatRequest | EmbedRequest, routes: Sequence[Route], *, scope: str,
         period: str, now: datetime, prices: PriceTable, on_unknown: Price | None,
         estimate: Estimator, default_max_tokens: int, min_output_tokens: int,
         quotes: Routes | None = None) -> Plan:
    """The worst case of ``request`` over ``routes`` (a ``ConfigError`` if unpriced);
    ``quotes``, the handler's :class:`~middleware.budget.routes.Routes`, memoizes the
    dearest rates."""
    request, choices = fold(request)
    input_tokens = estimate(request) + _dearer_images(request, routes)
    if quotes is None:
        rates = dearest_rates(routes, request.model, prices, on_unknown, input_tokens,
                              options=request.options, cache_writes=may_write_cache(request))
        exact = exact_rates(rates)
    else:
        rates, exact = quotes.quote(request.model, prices, on_unknown, input_tokens,
                                    options=request.options,
                                    cache_writes=may_write_cache(request))
    if isinstance(request, EmbedRequest):
        cap = least_out = 0
    else:
        cap = request.max_tokens or default_max_tokens
        least_out = min(cap, min_output_tokens)
    want = worst_units(exact, input_tokens, cap * choices)
    least = max(1, worst_units(exact, input_tokens, least_out * choices)) if want else 0
    scope_value = bucket_key(scope, request, routes)
    period_value = period_key(period, now)
    return Plan(ledger_key(scope_value, period_value), scope_value, period_value, rates,
                input_tokens, cap, want, least, choices, request)


def refusal(plan: Plan, limit: Decimal, spent: int) -> BudgetExceeded:
    """The ``BudgetExceeded`` for a plan the ledger could not grant, with its trace."""
    error = BudgetExceeded(scope=plan.scope, limit=limit, spent=from_units(spent),
                           needed=from_units(plan.least), period=plan.period)
    error.add_trace(TraceEvent("budget", "refused", str(error), {"scope": plan.scope}))
    return error


def admit(plan: Plan, units: int, lease: str = "") -> Reservation:
    """The reservation ``units`` allow: ``max_tokens`` lowered to what they pay for."""
    request = plan.request
    assert request is not None
    usd = from_units(units)
    events = [TraceEvent("budget", "reserved", f"reserved ${plain(usd)} ({plan.scope}, "
                         f"{plan.period})", _facts({"scope": plan.scope, "period": plan.period,
                                                   "usd": str(usd)}))]
    if isinstance(request, ChatRequest):
        tokens = output_tokens_for(plan.rates, plan.input_tokens, units, plan.cap,
                                   plan.choices) if units < plan.want else plan.cap
        if tokens < plan.cap:
            events.append(TraceEvent("budget", "lowered", f"max_tokens {plan.cap} -> {tokens}",
                                     {"from": plan.cap, "to": tokens}))
        if tokens != request.max_tokens:
            request = attrs.evolve(request, max_tokens=tokens)
    return Reservation(plan, units, request, tuple(events), lease)


def charge(reservation: Reservation, response: ChatResponse | EmbedResponse,
           routes: Sequence[Route], prices: PriceTable) -> int:
    """Units the finished call cost: its whole usage (cache reads and writes, reasoning)
    at the answering route's price, billed as the request asked (its service tier) — plus,
    for a stream continued after a cut, what its interrupted pieces may have been billed.

    A response without usage (a provider that reports none) costs the reservation.
    """
    if response.usage.total_tokens == 0:
        return reservation.units
    price = settle_price(routes, response.provider, response.model, prices,
                         reservation.plan.rates)
    final = cost_units(price, response.usage, reservation.request.options)
    extra = interrupted_cost(reservation, response, routes, prices)
    return max(final, min(reservation.units, final + extra)) if extra else final


def interrupted_cost(reservation: Reservation, response: ChatResponse | EmbedResponse,
                     routes: Sequence[Route], prices: PriceTable) -> int:
    """An upper bound of what a continued stream's interrupted pieces cost (the
    ``stream.interrupted`` trace events: the piece's route, the prefill it was sent, the
    bytes it produced — at least as many as its tokens). Their real usage was never
    reported, so the settlement counts them up to the reservation, never past it."""
    total = 0
    for event in response.trace:
        if event.layer != "stream" or event.event != "interrupted":
            continue
        data = event.data
        price = settle_price(routes, str(data.get("provider", "")), str(data.get("model", "")),
                             prices, reservation.plan.rates)
        prompt = reservation.plan.input_tokens + int(data.get("prefill_bytes", 0))
        total += worst_case(price, prompt, int(data.get("output_bytes", 0)))
    return total


def settled_event(reservation: Reservation, actual: int, how: str) -> TraceEvent:
    usd, held = from_units(actual), reservation.units
    data: dict[str, Any] = {"scope": reservation.plan.scope, "usd": str(usd),
                            "released": str(from_units(held - actual)) if held > actual
                            else "0", "how": how}
    if actual > held:
        data["overshoot"] = str(from_units(actual - held))
    return TraceEvent("budget", "settled", f"settled ${plain(usd)} ({how})", _facts(data))


def _facts(data: dict[str, Any]) -> Mapping[str, Any]:
    """A trace event's data, read-only as the event keeps it (made here, so not copied)."""
    return MappingProxyType(data)
