"""Cost control under real concurrency, against the emulator over loopback with the real SDK.

* 200 concurrent requests (100 threads + 100 asyncio tasks) against a $0.05 budget: settled
  spend ≤ $0.05 and every refused request stayed off the network (the emulator's request
  count equals the number of admitted requests).
* Four processes (multiprocessing spawn) sharing a Redis ledger with $0.10, and four sharing
  a SQLite ledger: combined spend ≤ the limit and equal to the sum of what each settled.
* 50 identical concurrent requests through ``Cache`` (threads, then tasks) reach the
  emulator once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from insightforge import ChatRequest, stack
from insightforge.errors import BudgetExceeded
from middleware.budget import Budget, MemoryLedger
from middleware.budget.policy import from_units
from middleware.budget.stores import RedisLedger, SQLiteLedger
from middleware.cache import Cache
from tests.conftest import TEST_OPENAI_KEY

pytestmark = pytest.mark.timeout(120)
MODEL = "gpt-4"  # $30/$60 per million: a few cents go quickly


def openai(emu_url: str) -> Any:
    from providers import OpenAI

    return OpenAI(MODEL, base_url=emu_url, api_key=TEST_OPENAI_KEY, timeout=30,
                  max_connections=64)


def ask(i: int) -> ChatRequest:
    return ChatRequest(f"question number {i} about the weather today", max_tokens=40)


def test_200_concurrent_requests_never_pass_a_005_budget(emulator: Any) -> None:
    budget = Budget(limit_usd="0.05", store=MemoryLedger())
    llm = stack(budget, provider=openai(emulator.openai_url))
    costs: list[Decimal] = []
    refused: list[BudgetExceeded] = []
    lock = threading.Lock()

    def record(result: Any) -> None:
        with lock:
            if isinstance(result, BudgetExceeded):
                refused.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                costs.append(result.cost_usd)

    def sync_call(i: int) -> None:
        try:
            record(llm(ask(i)))
        except BudgetExceeded as exc:
            record(exc)

    async def tasks() -> None:
        results = await asyncio.gather(*(llm.acall(ask(i)) for i in range(100, 200)),
                                       return_exceptions=True)
        for r in results:
            record(r)

    with ThreadPoolExecutor(100) as pool:
        loop_thread = threading.Thread(target=asyncio.run, args=(tasks(),))
        loop_thread.start()
        list(pool.map(sync_call, range(100)))
        loop_thread.join(60)
    llm.close()

    assert len(costs) + len(refused) == 200
    assert refused and costs, (len(refused), len(costs))
    entry = budget.ledger.entries()[0]
    assert entry.reserved == 0
    assert from_units(entry.spent) == sum(costs) <= Decimal("0.05")
    assert emulator.count(api="openai") == len(costs)  # refusals never reached the network


def _process_worker(ledger: Any, emu_url: str, worker: int, out: Any) -> None:
    """One process: 6 threads x 8 requests through a Budget on the shared ledger."""
    budget = Budget(limit_usd="0.10", store=ledger)
    llm = stack(budget, provider=openai(emu_url))
    costs: list[Decimal] = []
    lock = threading.Lock()

    def run(t: int) -> None:
        for j in range(8):
            try:
                r = llm(ask(worker * 1000 + t * 10 + j))
            except BudgetExceeded:
                continue
            with lock:
                costs.append(r.cost_usd or Decimal(0))

    threads = [threading.Thread(target=run, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    llm.close()
    out.put((len(costs), str(sum(costs, Decimal(0)))))


def _four_processes(ledger: Any, emulator: Any) -> tuple[int, Decimal]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(ledger, emulator.openai_url, w, out))
             for w in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    return sum(n for n, _ in results), sum((Decimal(c) for _, c in results), Decimal(0))


@pytest.mark.slow
@pytest.mark.redis
def test_four_processes_share_a_redis_ledger(emulator: Any, redis_url: str,
                                             redis_client: Any) -> None:
    ledger = RedisLedger(redis_url, prefix="stress:")
    admitted, total = _four_processes(ledger, emulator)
    entry = ledger.entries()[0]
    assert entry.reserved == 0
    assert from_units(entry.spent) == total <= Decimal("0.10")
    assert 0 < admitted < 4 * 6 * 8  # some refused: the limit really bit
    assert emulator.count(api="openai") == admitted


@pytest.mark.slow
def test_four_processes_share_a_sqlite_ledger(emulator: Any, tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "budget.db")
    admitted, total = _four_processes(ledger, emulator)
    entry = ledger.entries()[0]
    assert entry.reserved == 0
    assert from_units(entry.spent) == total <= Decimal("0.10")
    assert 0 < admitted < 4 * 6 * 8
    assert emulator.count(api="openai") == admitted


def test_50_identical_concurrent_requests_reach_the_emulator_once(emulator: Any) -> None:
    from insightforge.testing.emulator import Fault

    llm = stack(Cache(), provider=openai(emulator.openai_url))
    emulator.script(Fault.delay(0.3), api="openai")  # the leader is slow: all 49 must wait
    barrier = threading.Barrier(50)

    def call(_: int) -> Any:
        barrier.wait()
        return llm(ChatRequest("the same question"))

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(call, range(50)))
    assert emulator.count(api="openai") == 1
    assert {a.text for a in answers} == {"Echo: the same question"}
    assert sum(a.cached for a in answers) == 49

    emulator.script(Fault.delay(0.3), api="openai")

    async def tasks() -> list[Any]:
        return await asyncio.gather(*(llm.acall(ChatRequest("another question"))
                                      for _ in range(50)))

    answers = asyncio.run(tasks())
    assert emulator.count(api="openai") == 2
    assert sum(a.cached for a in answers) == 49
    llm.close()


def test_cache_above_budget_serves_hits_when_the_budget_is_spent(emulator: Any) -> None:
    budget = Budget(limit_usd="0.01")
    llm = stack(Cache(), budget, provider=openai(emulator.openai_url))
    first = llm(ChatRequest("cached question", max_tokens=20))
    while True:
        try:
            llm(ask(len(emulator.requests)))
        except BudgetExceeded:
            break
    hit = llm(ChatRequest("cached question", max_tokens=20))
    assert hit.cached and hit.cost_usd == 0 and hit.text == first.text
    llm.close()
