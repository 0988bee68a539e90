"""The Budget layer: pure policy, ledgers (memory, SQLite, real Redis), drivers, CLI.

Invariants held with hypothesis: spend never passes the limit under generated interleavings
of reserve/settle, the ledger equals the sum of settled costs, and the estimate bounds what
the emulator bills. Multi-process and emulator stress lives in test_cost_stress.py.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, EmbedRequest, Message, stack
from insightforge.errors import BudgetExceeded, ConfigError, ProviderUnavailable, StoreUnavailable
from insightforge.pricing import Price, PriceTable
from insightforge.testing import strategies as ist
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from insightforge.types import Route
from middleware.budget import Budget, MemoryLedger, ledger_from
from middleware.budget import policy as P
from middleware.budget.stores import Grant, RedisLedger, SQLiteLedger, decide

CHEAP = Price("100", "200")  # $ per million tokens: large enough to hit limits quickly


def provider(**kw: Any) -> ScriptedProvider:
    return ScriptedProvider(price=kw.pop("price", CHEAP), **kw)


def spent(budget: Budget) -> Decimal:
    return sum((P.from_units(e.spent) for e in budget.ledger.entries()), Decimal(0))


# -- pure policy -------------------------------------------------------------------------
@given(ist.conformance_chat_requests())
def test_estimate_bounds_what_the_emulator_bills(request: ChatRequest) -> None:
    billed = sum(len(m.content.split()) + 3 for m in request.messages)
    assert P.estimate_input_tokens(request) >= billed


@given(st.lists(ist.texts, min_size=1, max_size=5))
def test_estimate_is_at_least_utf8_bytes(texts: list[str]) -> None:
    request = ChatRequest([Message("user", t) for t in texts])
    assert P.estimate_input_tokens(request) >= sum(len(t.encode()) for t in texts)
    assert P.estimate_input_tokens(EmbedRequest(texts)) >= sum(len(t.encode()) for t in texts)


prices = st.builds(Price, st.decimals(0, 100, places=3), st.decimals(0, 200, places=3))


@given(prices, st.integers(0, 10_000), st.integers(0, 10**9), st.integers(1, 8192))
def test_output_tokens_for_never_exceeds_the_grant(price: Price, inp: int, units: int,
                                                   cap: int) -> None:
    n = P.output_tokens_for(price, inp, units, cap)
    assert 0 <= n <= cap
    if price.output:
        assert P.worst_case(price, inp, n) <= units or n == 0
        if n < cap:  # the largest that fits: one more token would not
            assert price.cost(inp, n + 1) > Decimal(units) * P.UNIT


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6),
       st.integers(1, 10**6), st.integers(1, 10**6))
def test_decide_never_grants_past_the_limit(limit: int, spent_: int, reserved: int, want: int,
                                            least: int) -> None:
    granted = decide(limit, spent_, reserved, want, least)
    assert granted in (0, want) or least <= granted < want
    if granted:
        assert spent_ + reserved + granted <= limit


@given(st.datetimes(timezones=st.just(UTC)))
def test_period_keys_are_utc_calendar_periods(now: datetime) -> None:
    assert P.period_key("total", now) == "total"
    assert P.period_key("day", now) == f"day:{now:%Y-%m-%d}"
    assert P.period_key("month", now) == f"month:{now:%Y-%m}"
    local = now.astimezone(timezone(timedelta(hours=-7)))
    assert P.period_key("day", local) == P.period_key("day", now)


def test_scope_keys() -> None:
    assert P.scope_key("global", {"tenant": "a"}) == "global"
    assert P.scope_key("tag:tenant", {"tenant": "acme"}) == "tenant=acme"
    assert P.scope_key("tag:tenant", {}) == "tenant=<untagged>"
    # one vocabulary with RateLimit(key=...): a bare tag name is refused, with the fix
    with pytest.raises(ValueError, match="did you mean 'tag:tenant'"):
        Budget(limit_usd=1, scope="tenant")
    with pytest.raises(ValueError, match="tag:<name>"):
        Budget(limit_usd=1, scope="tag:")


def test_units_round_up_and_back() -> None:
    assert P.to_units(Decimal("0.0000000001")) == 1
    assert P.from_units(P.to_units(Decimal("0.05"))) == Decimal("0.05")


def test_dearest_price_takes_the_max_of_each_component() -> None:
    routes = (Route("a", "m", Price("1", "50")), Route("b", "n", Price("3", "4")))
    assert P.dearest_price(routes, None, PriceTable(), None) == Price("3", "50")
    unknown = (Route("x", "nobody-knows"),)
    with pytest.raises(ConfigError, match="on_unknown_price"):
        P.dearest_price(unknown, None, PriceTable(), None)
    assert P.dearest_price(unknown, None, PriceTable(), Price("9")) == Price("9")
    # request.model is priced at each route's provider
    assert P.dearest_price((Route("openai", "gpt-4o-mini"),), "gpt-4", PriceTable(),
                           None) == Price("30", "60")


# -- interleavings: the central invariant -------------------------------------------------
ops = st.lists(st.tuples(st.sampled_from(["reserve", "settle"]), st.integers(0, 40),
                         st.integers(1, 5000), st.floats(0, 1)), max_size=80)


@given(st.integers(0, 50_000), ops)
def test_spend_never_exceeds_limit_under_any_interleaving(limit: int, schedule: list[Any]
                                                          ) -> None:
    """Reserve/settle in generated orders: spent ≤ limit and spent = Σ settled."""
    budget = Budget(limit_usd=P.from_units(max(limit, 1)), store=MemoryLedger())
    price = Price("1000", "2000")
    open_: list[tuple[int, int]] = []  # (units reserved, input tokens)
    settled = 0
    for op, inp, cap, fraction in schedule:
        if op == "reserve":
            want, least = P.worst_case(price, inp, cap), max(1, P.worst_case(price, inp, 1))
            grant = budget.ledger.reserve("k", limit, want, least)
            if grant.granted:
                tokens = P.output_tokens_for(price, inp, grant.granted, cap)
                assert tokens >= 1
                open_.append((grant.granted, P.worst_case(price, inp, tokens)))
        elif open_:
            units, worst = open_.pop(int(fraction * len(open_)) % len(open_))
            actual = int(worst * fraction)  # actual usage ≤ the worst case
            budget.ledger.settle("k", units, actual)
            settled += actual
        entry = budget.ledger.entries()[0] if budget.ledger.entries() else None
        if entry:
            assert entry.spent + entry.reserved <= limit
            assert entry.spent == settled


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(ist.words(1, 6), st.integers(1, 60)), min_size=1, max_size=30),
       st.decimals(Decimal("0.001"), Decimal("0.05"), places=4))
def test_stack_spend_never_exceeds_limit_and_ledger_equals_settled(
        calls: list[tuple[str, int]], limit: Decimal) -> None:
    p = provider()
    budget = Budget(limit_usd=limit, min_output_tokens=1)
    llm = stack(budget, provider=p)
    total, admitted = Decimal(0), 0
    for text, max_tokens in calls:
        try:
            r = llm(ChatRequest(text, max_tokens=max_tokens))
        except BudgetExceeded:
            continue
        admitted += 1
        assert r.cost_usd is not None
        total += r.cost_usd
    assert len(p.calls) == admitted  # refusals never reached the provider
    assert spent(budget) == total <= limit


def test_real_threads_never_overspend() -> None:
    p = provider(delay=0.002)
    budget = Budget(limit_usd="0.02")
    llm = stack(budget, provider=p)
    costs: list[Decimal] = []
    refused: list[BudgetExceeded] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(10):
            try:
                r = llm(ChatRequest(f"question {i} {j} " * 3, max_tokens=40))
                with lock:
                    costs.append(r.cost_usd or Decimal(0))
            except BudgetExceeded as exc:
                with lock:
                    refused.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert refused and costs
    assert len(p.calls) == len(costs)
    assert sum(costs) == spent(budget) <= Decimal("0.02")
    assert budget.ledger.entries()[0].reserved == 0


# -- the drivers ---------------------------------------------------------------------------
def test_lowers_max_tokens_to_what_is_left() -> None:
    p = provider()
    budget = Budget(limit_usd="0.1", min_output_tokens=4)
    llm = stack(budget, provider=p)
    req = ChatRequest("hello", max_tokens=200)
    seen = []
    while True:
        try:
            r = llm(req)
        except BudgetExceeded as exc:
            assert exc.trace and exc.trace[-1].event == "refused"
            break
        seen.append(p.calls[-1].max_tokens)
        assert any(e.event == "reserved" for e in r.trace)
    assert seen[0] == 200 and seen[-1] < 200 and min(seen) >= 4
    assert spent(budget) <= Decimal("0.1")


def test_default_max_tokens_is_always_sent() -> None:
    p = provider()
    stack(Budget(limit_usd=10, default_max_tokens=321), provider=p)(ChatRequest("hi"))
    assert p.calls[0].max_tokens == 321


def test_refusal_happens_before_the_provider() -> None:
    p = provider()
    llm = stack(Budget(limit_usd="0.000001"), provider=p)
    with pytest.raises(BudgetExceeded, match="raise limit_usd") as info:
        llm(ChatRequest("hello"))
    assert p.calls == [] and info.value.scope == "global"


def test_failure_releases_the_reservation() -> None:
    p = provider(script=[ProviderUnavailable("down", provider="scripted")])
    budget = Budget(limit_usd=1)
    llm = stack(budget, provider=p)
    with pytest.raises(ProviderUnavailable) as info:
        llm(ChatRequest("hello"))
    entry = budget.ledger.entries()[0]
    assert (entry.spent, entry.reserved) == (0, 0)
    assert [e.event for e in info.value.trace] == ["reserved", "settled"]


class _SettleFails(MemoryLedger):
    """A ledger that reserves, then loses its server before the settlement."""

    def settle(self, key: str, reserved: int, actual: int, *, lease: str = "") -> None:
        raise ConnectionError("Budget ledger at redis://ledger:6379/0 failed: reset by peer")


def test_a_failing_settlement_keeps_the_reservation_and_the_outcome() -> None:
    budget = Budget(limit_usd=10, store=_SettleFails())
    p = provider(script=[ProviderUnavailable("down", provider="scripted")])
    llm = stack(budget, provider=p)
    with pytest.raises(ProviderUnavailable):  # the provider's error, not the ledger's
        llm(ChatRequest("hello"))
    assert llm(ChatRequest("hello")).text == "Echo: hello"  # type: ignore[union-attr]

    async def main() -> None:
        with pytest.raises(ProviderUnavailable):
            p.push(ProviderUnavailable("down", provider="scripted"))
            await llm.acall(ChatRequest("hello"))
        assert (await llm.acall(ChatRequest("hello"))).text == "Echo: hello"  # type: ignore

    asyncio.run(main())
    one = P.worst_case(CHEAP, P.estimate_input_tokens(ChatRequest("hello")), 4096)
    entry = budget.ledger.entries()[0]
    assert (entry.spent, entry.reserved) == (0, 4 * one)  # kept reserved: never over-spends


def test_stream_settles_on_end_close_and_error() -> None:
    p = provider(script=["one two three four", "a b c d e f",
                         StreamStep("x y z", ProviderUnavailable("cut", provider="s"), 0),
                         StreamStep("x y z", ProviderUnavailable("cut", provider="s"), 2)])
    budget = Budget(limit_usd=1)
    llm = stack(budget, provider=p)
    ended = llm(ChatRequest("hi", stream=True, max_tokens=50))
    assert ended.collect().cost_usd == spent(budget) > 0
    before = budget.ledger.entries()[0].spent
    abandoned = llm(ChatRequest("hi", stream=True, max_tokens=50))
    next(iter(abandoned))
    abandoned.close()
    entry = budget.ledger.entries()[0]
    kept = entry.spent - before
    assert kept == P.worst_case(CHEAP, P.estimate_input_tokens(ChatRequest("hi")), 50)
    assert entry.reserved == 0
    with pytest.raises(ProviderUnavailable):
        llm(ChatRequest("hi", stream=True, max_tokens=50)).collect()
    assert budget.ledger.entries()[0].spent == entry.spent  # no chunk: released
    with pytest.raises(ProviderUnavailable):
        llm(ChatRequest("hi", stream=True, max_tokens=50)).collect()
    assert budget.ledger.entries()[0].spent == entry.spent + kept  # chunks seen: kept
    assert budget.ledger.entries()[0].reserved == 0


def test_embeddings_are_budgeted_on_input() -> None:
    p = provider()
    budget = Budget(limit_usd="0.002")
    llm = stack(budget, provider=p)
    r = llm(EmbedRequest(["some words here"]))
    assert r.cost_usd == Decimal("0.0003")  # 3 words at $100/M
    assert r.cost_usd == spent(budget)
    with pytest.raises(BudgetExceeded):
        llm(EmbedRequest(["x" * 2000]))


def test_scopes_per_tag_and_periods_per_day() -> None:
    now = [datetime(2026, 1, 31, 23, 0, tzinfo=UTC)]
    budget = Budget(limit_usd="0.01", period="day", scope="tag:tenant", clock=lambda: now[0])
    llm = stack(budget, provider=provider())
    llm(ChatRequest("hi", tags={"tenant": "a"}))
    llm(ChatRequest("hi", tags={"tenant": "b"}))
    now[0] += timedelta(hours=2)
    llm(ChatRequest("hi", tags={"tenant": "a"}))
    keys = [e.key for e in budget.ledger.entries()]
    assert keys == ["tenant=a|day:2026-01-31", "tenant=a|day:2026-02-01",
                    "tenant=b|day:2026-01-31"]


def test_unknown_price_refuses_or_uses_the_default() -> None:
    p = provider(price=None)
    with pytest.raises(ConfigError, match="no price is known"):
        stack(Budget(limit_usd=1), provider=p)(ChatRequest("hi"))
    assert p.calls == []
    r = stack(Budget(limit_usd=1, on_unknown_price=Price(1, 2)), provider=p)(ChatRequest("hi"))
    assert r.cost_usd and r.cost_usd > 0


def test_price_overrides_apply_to_settlement() -> None:
    p = provider(price=None, name="acme", model="m1")
    budget = Budget(limit_usd=100, prices={"acme": {"m1": {"input": "1000000", "output": "0"}}})
    r = stack(budget, provider=p)(ChatRequest("one two"))
    assert r.cost_usd == Decimal(r.usage.input_tokens)


def test_sync_and_async_make_the_same_decisions() -> None:
    def run_sync() -> list[Any]:
        budget = Budget(limit_usd="0.005")
        llm = stack(budget, provider=provider())
        out: list[Any] = []
        for i in range(12):
            try:
                out.append(llm(ChatRequest(f"hello {i}", max_tokens=30)).cost_usd)
            except BudgetExceeded:
                out.append("refused")
        return out

    async def run_async() -> list[Any]:
        budget = Budget(limit_usd="0.005")
        llm = stack(budget, provider=provider())
        out: list[Any] = []
        for i in range(12):
            try:
                out.append((await llm.acall(ChatRequest(f"hello {i}", max_tokens=30))).cost_usd)
            except BudgetExceeded:
                out.append("refused")
        return out

    assert run_sync() == asyncio.run(run_async())


def test_async_streams_settle() -> None:
    budget = Budget(limit_usd=1)
    llm = stack(budget, provider=provider())

    async def main() -> None:
        s = await llm.acall(ChatRequest("hi", stream=True))
        r = await s.collect()  # type: ignore[union-attr]
        assert r.cost_usd == spent(budget)
        s = await llm.acall(ChatRequest("hi", stream=True))
        await s.aclose()  # type: ignore[union-attr]

    asyncio.run(main())
    assert budget.ledger.entries()[0].reserved == 0


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="period"):
        Budget(limit_usd=1, period="week")
    with pytest.raises(ValueError, match="limit_usd"):
        Budget(limit_usd=-1)
    with pytest.raises(ValueError, match="ledger"):
        Budget(limit_usd=1, ledger="ftp://x")
    assert "Budget(limit_usd=5" in repr(Budget(limit_usd=5))


# -- ledgers -------------------------------------------------------------------------------
def check_ledger(ledger: Any) -> None:
    assert ledger.reserve("g|total", 100, 60, 10) == Grant(60, 0, 0)
    assert ledger.reserve("g|total", 100, 60, 10) == Grant(40, 0, 60)
    assert ledger.reserve("g|total", 100, 60, 10).granted == 0
    ledger.settle("g|total", 60, 25)
    ledger.settle("g|total", 40, 40)
    entries = ledger.entries()
    assert [(e.scope, e.period, e.limit, e.spent, e.reserved) for e in entries] == [
        ("g", "total", 100, 65, 0)]


def test_memory_ledger() -> None:
    check_ledger(MemoryLedger())


def test_sqlite_ledger(tmp_path: Path) -> None:
    check_ledger(SQLiteLedger(tmp_path / "b.db"))
    assert isinstance(ledger_from(f"sqlite:///{tmp_path}/c.db"), SQLiteLedger)


@pytest.mark.redis
def test_redis_ledger(redis_url: str, redis_client: Any) -> None:
    check_ledger(RedisLedger(redis_url))
    secret = RedisLedger("redis://:hunter2secret@127.0.0.1:1/0", timeout=0.2)
    assert "hunter2secret" not in repr(secret)
    with pytest.raises(StoreUnavailable) as info:
        secret.reserve("k", 1, 1, 1)
    assert "hunter2secret" not in str(info.value)


def test_sqlite_ledger_threads(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "t.db")
    granted: list[int] = []

    def worker() -> None:
        for _ in range(25):
            g = ledger.reserve("k", 1000, 7, 3).granted
            granted.append(g)
            if g:
                ledger.settle("k", g, g - 1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    entry = ledger.entries()[0]
    assert entry.spent <= 1000 and entry.reserved == 0
    assert entry.spent == sum(g - 1 for g in granted if g)


# -- CLI -----------------------------------------------------------------------------------
def test_cli_budget_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    from insightforge.cli import cli
    from insightforge.cli._errors import run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("INSIGHTFORGE_BUDGET_LEDGER", raising=False)
    db = tmp_path / "b.db"
    budget = Budget(limit_usd="0.5", period="month", store=SQLiteLedger(db))
    stack(budget, provider=provider())(ChatRequest("hello"))
    result = CliRunner().invoke(cli, ["budget", "status", "--ledger", str(db)])
    assert result.exit_code == 0, result.output
    assert "global" in result.output and "month:" in result.output and "0.5" in result.output
    result = CliRunner().invoke(cli, ["budget", "status", "--ledger", str(db), "--json"])
    assert '"spent_usd"' in result.output
    assert run(cli, ["budget", "status"]) == 2  # a usage/config error, one clear line
    assert "--ledger" in capsys.readouterr().err
    (tmp_path / "insightforge.yaml").write_text(
        "providers:\n  main: {type: ollama, model: llama3.1}\n"
        f"stack:\n  - budget: {{limit_usd: 1, ledger: 'sqlite:{db}'}}\n")
    assert run(cli, ["budget", "status"]) == 0, capsys.readouterr().err
    assert "global" in capsys.readouterr().out
