"""A budget no request slips past (issue 11): options that raise the bill are folded into the
worst case, cache writes are reserved at their write price, the real cost of everything
answered never passes the limit — and reservations are leases a killed process gives back.

The "biller" below bills every request as dearly as its vendor could: every output token
the request allows, times ``n``, at the tier and service tier it asks for, with the whole
prompt written to a one-hour cache when it asks for caching. If the Budget let an option
through unseen, the biller would charge for it and the property would fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, ChatResponse, Message, stack
from insightforge.errors import BudgetExceeded, InvalidRequest
from insightforge.pricing import Price
from insightforge.types import Route, Usage
from middleware.budget import Budget, SQLiteLedger
from middleware.budget.policy import estimate_input_tokens, from_units

PRICE = Price("3", "15", cache_read="0.3", cache_write="3.75", cache_write_1h="6")
PRIORITY = Price("6", "30")


def _priced(price: Price) -> Price:
    from insightforge.pricing import Variant

    return Price(price.input, price.output, cache_read=price.cache_read,
                 cache_write=price.cache_write, cache_write_1h=price.cache_write_1h,
                 variants=(Variant("service_tier", "priority", PRIORITY),))


PRICED = _priced(PRICE)


class Biller:
    """A provider that bills each request the most its vendor could."""

    name, model = "vendor", "m-1"

    def __init__(self) -> None:
        self.sent: list[ChatRequest] = []
        self.real = Decimal(0)
        self.lock = threading.Lock()

    def routes(self) -> tuple[Route, ...]:
        return (Route(self.name, self.model, PRICED, "vendor://"),)

    def bill(self, request: ChatRequest) -> ChatResponse:
        options = dict(request.options)
        out_cap = max([request.max_tokens or 4096, *(options.get(k, 0) for k in (
            "max_tokens", "max_completion_tokens", "max_output_tokens", "num_predict"))])
        n = options.get("n", 1)
        tokens_in = estimate_input_tokens(request)
        writes = tokens_in if any("cache" in k for k in options) else 0
        usage = Usage(tokens_in, out_cap * n, cache_write_tokens=writes,
                      cache_write_1h_tokens=writes)
        cost = PRICED.cost(usage, options=options)
        with self.lock:
            self.sent.append(request)
            self.real += cost
        return ChatResponse(Message("assistant", "x"), self.model, self.name, usage, "length")

    def __call__(self, request: Any, /) -> Any:
        return self.bill(request)

    async def acall(self, request: Any, /) -> Any:
        return self.bill(request)


def test_options_max_tokens_100000_and_n_8_never_cost_more_than_reserved() -> None:
    biller = Biller()
    budget = Budget(limit_usd="0.05")
    llm = stack(budget, provider=biller)
    request = ChatRequest("Summarise the report", options={"max_tokens": 100_000, "n": 8})
    answer: Any = llm(request)
    sent = biller.sent[0]
    assert "max_tokens" not in sent.options  # the Budget sends only its own limit
    reserved = Decimal(next(e for e in answer.trace if e.event == "reserved").data["usd"])
    assert biller.real <= reserved <= Decimal("0.05")
    assert sent.max_tokens is not None and sent.max_tokens * 8 * PRICE.output / 10**6 <= reserved
    with pytest.raises(BudgetExceeded):  # and the limit holds in real money
        while True:
            llm(request)
    assert biller.real <= Decimal("0.05")


def test_a_priority_tier_is_reserved_at_its_price() -> None:
    biller = Biller()
    llm = stack(Budget(limit_usd=1), provider=biller)
    plain: Any = llm(ChatRequest("hi", max_tokens=100))
    fast: Any = llm(ChatRequest("hi", max_tokens=100, options={"service_tier": "priority"}))
    usd = [Decimal(next(e for e in r.trace if e.event == "reserved").data["usd"])
           for r in (plain, fast)]
    assert usd[1] > usd[0] and fast.cost_usd > plain.cost_usd


def test_cache_writes_are_reserved_at_the_one_hour_write_price() -> None:
    biller = Biller()
    budget = Budget(limit_usd=1, default_max_tokens=10)
    llm = stack(budget, provider=biller)
    answer: Any = llm(ChatRequest("a long prompt " * 50, options={"cache_ttl": "1h"}))
    reserved = Decimal(next(e for e in answer.trace if e.event == "reserved").data["usd"])
    assert biller.real <= reserved  # the bill wrote the whole prompt at 2x input


def test_cache_marks_reserve_at_their_own_lifetime_write_price() -> None:
    """A five-minute mark reserves at the 5-minute write rate (1.25x), a one-hour mark at
    the 1-hour rate (2x): each covers its vendor's bill, and 5m is not charged as 1h."""
    prompt = "a long prompt " * 50

    def reserved(ttl: str) -> Decimal:
        request = ChatRequest(messages=(Message("user", prompt, cache=ttl),), max_tokens=10)
        answer: Any = stack(Budget(limit_usd=1), provider=Biller())(request)
        return Decimal(next(e for e in answer.trace if e.event == "reserved").data["usd"])

    tokens = estimate_input_tokens(ChatRequest(messages=(Message("user", prompt),)))
    five, hour = reserved("5m"), reserved("1h")
    assert five >= PRICE.cost(Usage(tokens, 10, cache_write_tokens=tokens))
    assert hour >= PRICE.cost(Usage(tokens, 10, cache_write_tokens=tokens,
                                    cache_write_1h_tokens=tokens)) > five


@pytest.mark.parametrize("options", [{"max_tokens": "lots"}, {"n": 0}, {"num_predict": -1}])
def test_an_unreadable_limit_is_refused_naming_the_field(options: dict[str, Any]) -> None:
    biller = Biller()
    with pytest.raises(InvalidRequest, match=f"options.{next(iter(options))}"):
        stack(Budget(limit_usd=1), provider=biller)(ChatRequest("x", options=options))
    assert biller.sent == []


requests = st.builds(
    lambda text, cap, opts, tools: ChatRequest(text, max_tokens=cap, options=opts,
                                               tools=tools),
    st.text(min_size=1, max_size=200),
    st.one_of(st.none(), st.integers(1, 4000)),
    st.fixed_dictionaries({}, optional={
        "max_tokens": st.integers(1, 200_000), "max_completion_tokens": st.integers(1, 50_000),
        "n": st.integers(1, 8), "service_tier": st.sampled_from(["priority", "default", "auto"]),
        "cache_ttl": st.just("1h"), "num_predict": st.integers(1, 10_000)}),
    st.lists(st.builds(lambda n: {"type": "function", "function": {"name": f"t{n}"}},
                       st.integers(0, 9)), max_size=3))


@settings(max_examples=60, deadline=None)
@given(st.lists(requests, min_size=1, max_size=25), st.integers(1, 4))
def test_real_cost_never_exceeds_the_limit(batch: list[ChatRequest], threads: int) -> None:
    biller = Biller()
    llm = stack(Budget(limit_usd="0.02", min_output_tokens=1), provider=biller)
    chunks = [batch[i::threads] for i in range(threads)]

    def run(part: list[ChatRequest]) -> None:
        for request in part:
            with contextlib.suppress(BudgetExceeded):
                llm(request)

    workers = [threading.Thread(target=run, args=(part,)) for part in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)

    async def more() -> None:
        for request in batch:
            with contextlib.suppress(BudgetExceeded):
                await llm.acall(request)

    asyncio.run(more())
    assert biller.real <= Decimal("0.02")


# -- leases: a killed process gives its reservation back -----------------------------------
def _reserve_and_hang(path: str, ready: Any) -> None:
    def hang(request: Any) -> Any:
        ready.set()
        time.sleep(60)
        raise AssertionError("not killed")

    budget = Budget(limit_usd="0.5", period="total", store=SQLiteLedger(path), lease=2,
                    on_unknown_price=Price("1", "2"))
    stack(budget, provider=hang)(ChatRequest("spend", max_tokens=1000))


@pytest.mark.slow
def test_forty_sigkills_leave_nothing_reserved_once_the_leases_expire(tmp_path: Path) -> None:
    path = str(tmp_path / "budget.db")
    ctx = multiprocessing.get_context("fork")
    for _ in range(10):  # 10 rounds of 4 processes killed mid-call: 40 SIGKILLs
        procs = []
        for _ in range(4):
            ready = ctx.Event()
            proc = ctx.Process(target=_reserve_and_hang, args=(path, ready))
            proc.start()
            assert ready.wait(30)
            procs.append(proc)
        for proc in procs:
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(10)
    ledger = SQLiteLedger(path)
    [entry] = ledger.entries()
    assert entry.reserved > 0 and entry.spent == 0  # held by 4 processes that will never settle
    time.sleep(2.2)
    assert ledger.entries()[0].stale == entry.reserved  # budget status shows them as stale
    grant = ledger.reserve(entry.key, entry.limit, 1, 1, ttl=60)  # the next reserve reaps
    assert grant.reserved == 0 and from_units(grant.granted) > 0
