"""Stores under faults, for real: a Redis server killed, restarted and stalled under a running
stack; a SQLite ledger on a full disk and on a read-only file system; the spec grammar; the
breaker; single flight across a thread and a task.

Each layer has its policy: Budget fails closed, Cache fails open (with a breaker, so a dead
or stalled store costs at most one timeout per interval), RateLimit chooses; every failure
is a typed ``StoreUnavailable``; every store works again, by itself, once its server does.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge import ChatRequest, stack
from insightforge.errors import (
    BudgetExceeded,
    ConfigError,
    InsightForgeError,
    StoreUnavailable,
)
from insightforge.testing.scripted import ScriptedProvider
from middleware import Budget, Cache, RateLimit
from middleware.budget import SQLiteLedger
from middleware.cache import RedisCache
from middleware.stores import Breaker, parse_store
from tests.services import redis_process, remount, small_disk


# -- the spec grammar ------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "kind", "location"), [
    ("memory", "memory", ""), ("sqlite:///budget.db", "sqlite", "budget.db"),
    ("sqlite:////var/lib/b.db", "sqlite", "/var/lib/b.db"), ("sqlite:b.db", "sqlite", "b.db"),
    ("cache.sqlite3", "sqlite", "cache.sqlite3"), ("redis://h:6379/0", "redis", "redis://h:6379/0"),
    ("rediss://:pw@h:6380/1", "redis", "rediss://:pw@h:6380/1"),
])
def test_one_spec_grammar(spec: str, kind: str, location: str) -> None:
    parsed = parse_store(spec)
    assert (parsed.kind, parsed.location) == (kind, location)


@given(password=st.text(st.characters(whitelist_categories=("L", "N")), min_size=6,
                        max_size=20))
def test_a_bad_spec_is_a_config_error_naming_the_field_never_the_password(password: str,
                                                                          ) -> None:
    for spec in (f"postgres://u:{password}@db/x", f"redis://:{password}@[::1/0"):
        with pytest.raises(ConfigError) as info:
            parse_store(spec, "ledger")
        assert info.value.path == "ledger" and password not in str(info.value)


@pytest.mark.parametrize("layer", [
    lambda s: Budget(limit_usd=1, store=s), lambda s: Cache(store=s),
    lambda s: RateLimit(rpm=1, store=s)])
def test_every_layer_takes_store_and_rejects_a_bad_one_at_construction(layer: Any) -> None:
    with pytest.raises(ConfigError) as info:
        layer("mysql://x")
    assert info.value.path == "store"


# -- the breaker -----------------------------------------------------------------------------
@given(st.lists(st.tuples(st.floats(0, 5), st.booleans()), max_size=40))
def test_a_breaker_allows_at_most_one_trial_per_interval(steps: list[tuple[float, bool]]) -> None:
    now = [0.0]
    breaker = Breaker(2.0, clock=lambda: now[0])
    breaker.failed("down")
    trials: list[float] = []
    for gap, ok in steps:
        now[0] += gap
        if breaker.allows():
            trials.append(now[0])
            if ok:
                breaker.succeeded()
                return
            breaker.failed("still down")
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(trials))


# -- SQLite: a full disk, a read-only file system ---------------------------------------------
def test_a_full_disk_reports_the_disk_being_full(tmp_path: Path) -> None:
    with small_disk(str(tmp_path / "disk"), "128k") as disk:
        ledger = SQLiteLedger(Path(disk) / "budget.db")
        ledger.reserve("warm|total", 10**9, 1, 1)
        with pytest.raises(StoreUnavailable) as info:
            for i in range(100_000):
                ledger.reserve(f"key-{i:06d}-{'x' * 200}|total", 10**9, 1, 1, ttl=60)
        assert "full" in info.value.reason and "rollback" not in info.value.reason
        assert info.value.store.startswith("sqlite:///")


def test_a_read_only_ledger_works_again_once_writable(tmp_path: Path) -> None:
    with small_disk(str(tmp_path / "disk"), "1m") as disk:
        path = Path(disk) / "budget.db"
        ledger = SQLiteLedger(path)
        ledger.reserve("k|total", 100, 1, 1)
        ledger.close()  # (a file open for writing keeps the mount from going read-only)
        remount(disk, "ro")
        try:
            with pytest.raises(StoreUnavailable, match=r"readonly|read-only|unable to open"):
                ledger.reserve("k|total", 100, 1, 1)
        finally:
            remount(disk, "rw")
        assert ledger.reserve("k|total", 100, 1, 1).granted == 1  # re-opened by itself


# -- Redis: killed, restarted, stalled under a running stack --------------------------------------
def _full_stack(url: str, provider: ScriptedProvider, *, limit: str = "1",
                on_store_error: str = "closed") -> Any:
    return stack(Cache(store=RedisCache(url, timeout=0.5), breaker=1.0),
                 Budget(limit_usd=limit, store=url),
                 RateLimit(rpm=10_000, store=url, on_store_error=on_store_error),
                 provider=provider)


def test_redis_killed_and_restarted_under_a_running_stack() -> None:
    with redis_process(persist=True) as redis:
        provider = ScriptedProvider()
        llm = _full_stack(redis.url, provider)
        assert llm(ChatRequest("before")).text == "Echo: before"
        redis.stop(kill=True)
        calls = len(provider.calls)
        for i in range(5):  # Budget fails closed: typed, and before any upstream call
            with pytest.raises(StoreUnavailable) as info:
                llm(ChatRequest(f"down {i}"))
            assert "127.0.0.1" in info.value.store
        assert len(provider.calls) == calls
        redis.start()
        answer = llm(ChatRequest("after"))  # Budget and RateLimit work again (scripts re-loaded)
        assert answer.text == "Echo: after"
        time.sleep(1.1)  # the cache's breaker tries its store again after its interval
        assert [e.event for e in llm(ChatRequest("again")).trace if e.layer == "cache"] == \
            ["miss"]
        assert llm(ChatRequest("again")).cached


def test_the_budget_never_admits_past_its_limit_across_a_restart() -> None:
    with redis_process(persist=True) as redis:
        provider = ScriptedProvider()
        llm = stack(Budget(limit_usd="0.0001", store=redis.url, default_max_tokens=8),
                    provider=provider)
        spent_before = _drain(llm, "a")
        redis.stop(kill=True)
        redis.start()
        spent_after = _drain(llm, "b")
        settled = sum(r.cost_usd for r in spent_before + spent_after)
        assert settled <= __import__("decimal").Decimal("0.0001")
        assert spent_after == []  # the spend survived the restart: nothing more admitted


def _drain(llm: Any, tag: str) -> list[Any]:
    answers = []
    for i in range(100):
        try:
            answers.append(llm(ChatRequest(f"{tag} {i}")))
        except BudgetExceeded:
            break
    return answers


@pytest.mark.parametrize("policy", ["closed", "open"])
def test_rate_limit_store_policy(policy: str) -> None:
    with redis_process() as redis:
        provider = ScriptedProvider()
        llm = stack(RateLimit(rpm=100, store=redis.url, on_store_error=policy),
                    provider=provider)
        llm(ChatRequest("x"))
        redis.stop(kill=True)
        if policy == "closed":
            with pytest.raises(StoreUnavailable):
                llm(ChatRequest("y"))
            assert len(provider.calls) == 1
        else:
            answer = llm(ChatRequest("y"))
            assert [e.event for e in answer.trace] == ["store_failed"]
        redis.start()
        assert [e.event for e in llm(ChatRequest("z")).trace] == []  # NOSCRIPT re-loaded


def test_a_stalled_redis_costs_the_cache_one_timeout_per_interval() -> None:
    with redis_process() as redis:
        provider = ScriptedProvider()
        llm = stack(Cache(store=RedisCache(redis.url, timeout=0.3), breaker=30), provider=provider)
        llm(ChatRequest("warm"))
        redis.stall()
        try:
            started = time.monotonic()
            answers = [llm(ChatRequest(f"q{i}")) for i in range(10)]
            elapsed = time.monotonic() - started
        finally:
            redis.resume()
        assert elapsed < 0.3 * 2 + 0.5, f"{elapsed:.2f}s: more than one timeout"
        assert all(a.text.startswith("Echo") for a in answers)
        details = [e.detail for a in answers for e in a.trace if e.layer == "cache"]
        assert all("not stored" in d for d in details), details  # a truthful trace


def test_redis_stores_name_no_password_in_their_errors() -> None:
    with redis_process() as redis:
        url = redis.url.replace("redis://", "redis://:hunter2-never@")
        redis.stop(kill=True)
        for layer in (Budget(limit_usd=1, store=url), RateLimit(rpm=1, store=url)):
            with pytest.raises(InsightForgeError) as info:
                stack(layer, provider=ScriptedProvider())(ChatRequest("x"))
            assert "hunter2" not in str(info.value) and "***" in str(info.value)


# -- single flight across a thread and a task -------------------------------------------------
def test_a_thread_and_a_task_asking_the_same_thing_fly_once() -> None:
    provider = ScriptedProvider(delay=0.3)
    llm = stack(Cache(), provider=provider)
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(llm(ChatRequest("same"))))
    thread.start()
    time.sleep(0.05)

    async def follower() -> Any:
        return await llm.acall(ChatRequest("same"))

    out.append(asyncio.run(follower()))
    thread.join(5)
    assert len(provider.calls) == 1
    assert {a.text for a in out} == {"Echo: same"} and any(a.cached for a in out)


def test_a_task_leading_and_a_thread_following_fly_once() -> None:
    provider = ScriptedProvider(delay=0.3)
    llm = stack(Cache(), provider=provider)
    out: list[Any] = []

    async def leader() -> None:
        out.append(await llm.acall(ChatRequest("same")))

    runner = threading.Thread(target=lambda: asyncio.run(leader()))
    runner.start()
    time.sleep(0.05)
    out.append(llm(ChatRequest("same")))
    runner.join(5)
    assert len(provider.calls) == 1 and len(out) == 2


def test_a_redis_ledger_without_persistence_is_warned_about() -> None:
    from middleware.budget import RedisLedger
    from middleware.budget import stores as budget_stores

    with redis_process() as redis:
        budget_stores._checked.discard(RedisLedger(redis.url).url)
        with pytest.warns(RuntimeWarning, match="no persistence"):
            RedisLedger(redis.url).reserve("k|total", 10, 1, 1)
    with redis_process(persist=True) as redis:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            RedisLedger(redis.url).reserve("k|total", 10, 1, 1)
