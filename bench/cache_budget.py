"""Benchmarks for Cache and Budget: hit latency/throughput, reserve/settle cost, memory.

Run: ``.venv/bin/python bench/cache_budget.py`` (starts a redis-server on a free loopback
port unless ``REDIS_URL`` is set; skips Redis when neither is available).

Measures, end to end through ``stack(...)``:
* cache-hit latency and hit throughput for the memory, SQLite and Redis stores;
* budget reserve+settle cost per call for the memory, SQLite and Redis ledgers (the ledger
  pair alone, and the whole Budget layer around a free in-process provider);
* memory per cached response in the memory store (tracemalloc).
Target: an in-memory hit under 30 µs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from insightforge import ChatRequest, stack
from insightforge.pricing import Price
from insightforge.testing.scripted import ScriptedProvider
from middleware.budget import Budget, MemoryLedger
from middleware.budget.stores import RedisLedger, SQLiteLedger
from middleware.cache import Cache, MemoryCache
from middleware.cache.entry import decode, encode, make_entry
from middleware.cache.stores import RedisCache, SQLiteCache

REQUEST = ChatRequest("What is the capital of France? Answer in one short sentence.",
                      max_tokens=64, temperature=0.0)


@contextlib.contextmanager
def redis_url() -> Iterator[str | None]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--dir", tmp],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(
                        ("127.0.0.1", port), timeout=0.2):
                    break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


def per_call(fn: Callable[[], object], seconds: float = 1.0) -> tuple[float, float]:
    """(median µs per call over 5 batches, calls per second)."""
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.1:
        fn()
        n += 1
    batch = max(1, int(n * seconds / 0.5))
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - t0) / batch)
    med = statistics.median(samples)
    return med * 1e6, 1 / med


def threaded_throughput(fn: Callable[[], object], threads: int = 4,
                        seconds: float = 1.0) -> float:
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def run(i: int) -> None:
        while time.perf_counter() < stop:
            fn()
            counts[i] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / seconds


def bench_cache(name: str, store: object) -> None:
    llm = stack(Cache(store=store, ttl=3600), provider=ScriptedProvider())  # type: ignore[arg-type]
    llm(REQUEST)
    assert llm(REQUEST).cached  # type: ignore[union-attr]
    us, rate = per_call(lambda: llm(REQUEST))
    mt = threaded_throughput(lambda: llm(REQUEST))
    print(f"cache hit  {name:<7} {us:9.1f} µs/hit   {rate:10.0f} hits/s (1 thread)"
          f"   {mt:10.0f} hits/s (4 threads)")


def bench_ledger(name: str, make: Callable[[], object]) -> None:
    ledger = make()

    def pair() -> None:
        g = ledger.reserve("bench|total", 10**15, 1000, 10)  # type: ignore[attr-defined]
        ledger.settle("bench|total", g.granted, 500)  # type: ignore[attr-defined]

    us, _ = per_call(pair, 0.5)
    budget = Budget(limit_usd=10**6, store=make())  # type: ignore[arg-type]
    llm = stack(budget, provider=ScriptedProvider(price=Price("1", "2")))
    base = stack(provider=ScriptedProvider(price=Price("1", "2")))
    layer_us, _ = per_call(lambda: llm(REQUEST), 0.5)
    base_us, _ = per_call(lambda: base(REQUEST), 0.5)
    print(f"budget     {name:<7} reserve+settle {us:8.1f} µs   Budget layer overhead "
          f"{layer_us - base_us:8.1f} µs/call")


def bench_memory(n: int = 2000) -> None:
    p = ScriptedProvider()
    answers: list[Any] = [p(ChatRequest(f"question {i} " + "lorem ipsum dolor " * 12))
                          for i in range(n)]
    encoded = [encode(make_entry(a)) for a in answers]
    store = MemoryCache(ttl=3600, maxsize=n)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i, text in enumerate(encoded):  # fresh objects, as a provider would have built them
        entry = decode(text)
        assert entry is not None
        store.set(f"if1:{i:064x}", entry)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    entry = decode(encoded[0])
    assert entry is not None
    chars = len(entry.response.text)  # type: ignore[union-attr]
    print(f"memory     {grown / n:9.0f} bytes per cached response "
          f"(answer of {chars} chars; key, entry, response, usage, TTL bookkeeping)")


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp, redis_url() as url:
        bench_cache("memory", "memory")
        bench_cache("sqlite", SQLiteCache(Path(tmp) / "cache.db"))
        if url:
            import redis

            redis.Redis.from_url(url).flushdb()
            bench_cache("redis", RedisCache(url))
        bench_ledger("memory", MemoryLedger)
        bench_ledger("sqlite", lambda: SQLiteLedger(Path(tmp) / "budget.db"))
        if url:
            bench_ledger("redis", lambda: RedisLedger(url))
        else:
            print("redis: skipped (no redis-server, no REDIS_URL)")
        bench_memory()


if __name__ == "__main__":
    main()
