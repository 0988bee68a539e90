"""The fault-matrix soak: many requests through a full stack while the upstream misbehaves
and a store restarts, checking that nothing breaks and nothing is lost.

Run: ``.venv/bin/python bench/soak.py [--requests 10000] [--fault-rate 0.3]``.

The stack: ``AuditLog`` (a file) → ``Cache`` (Redis) → ``Budget`` (SQLite) → ``Fallback``
(to Ollama) → ``RateLimit`` (Redis) → ``Retry`` → ``OpenAI``, against the emulator. The
requests mix sync calls, async calls, streams (sync and async) and embeddings; about
``fault-rate`` of the upstream calls misbehave (429 with and without Retry-After, 500, 503,
a dropped connection, a truncated stream, a malformed body, a mid-stream error, a slow
answer); half way through, the Redis server is killed and started again.

How it drives the stack (:class:`Driver`, made once, as a server would): three quarters of
the requests are synchronous, on a pool of ``threads`` threads; a quarter are asynchronous,
on one event loop, at most ``async_concurrency`` in flight. Every call
has ``DEADLINE`` seconds from its start. An unbounded burst (all the async requests of a half
started at once, 1,250 of them) does not measure hangs but queueing: on two cores the loop's
thread gets a ninth of the GIL beside eight busy threads, so calls waited up to two minutes
for their turn — all of them ended, none hung — and the overloaded connection pools turned
into typed timeouts.

It reports, and ``check`` asserts:

* **untyped errors** — exceptions that are not InsightForge's (must be 0);
* **hung calls** — calls that did not end within the deadline (must be 0);
* **audit records vs requests** — one record per request (equal);
* **ledger vs settled** — the SQLite ledger's spent equals the sum of every settlement the
  Budget reported in the traces (to the nano-dollar);
* **memory** — resident size before the first request (``rss_cold_mb``), after a warm-up
  of ``warmup`` requests that touches every path once (``rss_start_mb``: clients, pools,
  price tables and caches made), and at the end (``rss_end_mb``); growth is end against
  start and must stay under 10% (``--rss-limit``);
* **latency** — p50 and p99.

The emulator runs in a process of its own (as an upstream would), so its threads and its
memory are not the stack's. ``tests/test_soak.py`` runs a short form of it in CI.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import pickle
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from insightforge import ChatRequest, EmbedRequest, stack
from insightforge.errors import InsightForgeError
from insightforge.testing.emulator.faults import Fault
from middleware import AuditLog, Budget, Cache, Fallback, RateLimit, Retry
from middleware.audit import FileSink, flush_all
from middleware.budget import SQLiteLedger
from middleware.budget.policy import from_units
from providers import Ollama, OpenAI
from tests.services import redis_process

KEY = "sk-soak-0000000000000000000000000000000000"
ROOT = Path(__file__).resolve().parents[1]
_UPSTREAM = """
import pickle, sys
from insightforge.testing.emulator import Emulator
with open(sys.argv[1], "rb") as fh:
    faults = pickle.load(fh)
with Emulator(log_limit=100) as emu:
    emu.script(*faults, api="openai")
    print(emu.url, flush=True)
    sys.stdin.read()  # serve until the soak closes our stdin
"""
DEADLINE = 30.0
RSS_LIMIT = 0.10


def _faults(rng: random.Random, n: int, rate: float) -> list[Fault]:
    """A random fault per upstream call (``delay(0)`` is no fault at all)."""
    kinds = [
        lambda: Fault.status(429, retry_after=0.05), lambda: Fault.status(429),
        lambda: Fault.status(500), lambda: Fault.status(503), lambda: Fault.drop(),
        lambda: Fault.truncate(after_chunks=2), lambda: Fault.malformed(),
        lambda: Fault.stream_error(after_chunks=1), lambda: Fault.delay(0.05),
    ]
    return [rng.choice(kinds)() if rng.random() < rate else Fault.delay(0) for _ in range(n)]


@contextmanager
def _upstream(faults: list[Fault], folder: Path) -> Iterator[str]:
    """The emulator in a child process, scripted with ``faults``; yields its base URL."""
    script = folder / "faults.pickle"
    script.write_bytes(pickle.dumps(faults))
    child = subprocess.Popen([sys.executable, "-c", _UPSTREAM, str(script)], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url:
            raise RuntimeError("the emulator process did not start")
        yield url
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _ledger_spent(path: Path) -> Decimal:
    return sum((from_units(e.spent) for e in SQLiteLedger(path).entries()), Decimal(0))


def _settled(trace: Any) -> Decimal:
    return sum((Decimal(e.data["usd"]) for e in trace
                if e.layer == "budget" and e.event == "settled"), Decimal(0))


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


class Tally:
    """What the requests did (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok = self.typed = self.untyped = self.hung = 0
        self.settled = Decimal(0)
        self.latencies = array.array("d")  # raw doubles: no object kept per request
        self.untyped_examples: list[str] = []
        self.typed_kinds: Counter[str] = Counter()

    def done(self, started: float, trace: Any = (), error: BaseException | None = None) -> None:
        with self.lock:
            self.latencies.append(time.perf_counter() - started)
            self.settled += _settled(trace)
            if error is None:
                self.ok += 1
            elif isinstance(error, InsightForgeError):
                self.typed += 1
                self.typed_kinds[_kind(error)] += 1
            else:
                self.untyped += 1
                if len(self.untyped_examples) < 5:
                    self.untyped_examples.append(f"{type(error).__name__}: {error}")


def _kind(error: InsightForgeError) -> str:
    """The error's type, and the types inside an ``AllProvidersFailed``."""
    inner = getattr(error, "errors", ())
    if inner:
        return f"{type(error).__name__}({', '.join(type(e).__name__ for e in inner)})"
    return type(error).__name__


def _request(i: int, rng: random.Random) -> Any:
    kind = rng.choice(["chat", "chat", "stream", "embed", "repeat"])
    if kind == "embed":
        return EmbedRequest([f"soak text {i}", "the same text"])
    if kind == "repeat":  # a cache hit, mostly
        return ChatRequest(f"a popular question {i % 20}", max_tokens=16)
    return ChatRequest(f"soak question {i}", max_tokens=16, stream=kind == "stream")


def _sync_one(llm: Any, request: Any, tally: Tally) -> None:
    started = time.perf_counter()
    try:
        result = llm(request)
        if getattr(request, "stream", False):
            result = result.collect()
        tally.done(started, result.trace)
    except Exception as exc:
        tally.done(started, getattr(exc, "trace", ()), exc)


async def _async_one(llm: Any, request: Any, tally: Tally) -> None:
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(llm.acall(request), DEADLINE)
        if getattr(request, "stream", False):
            result = await asyncio.wait_for(result.acollect(), DEADLINE)
        tally.done(started, result.trace)
    except TimeoutError:
        with tally.lock:
            tally.hung += 1
    except Exception as exc:
        tally.done(started, getattr(exc, "trace", ()), exc)


def soak(requests: int = 10_000, fault_rate: float = 0.3, seed: int = 1,
         threads: int = 8, async_concurrency: int = 32, warmup: int = 200,
         report: Any = print) -> dict[str, Any]:
    """Run the soak; returns the figures (see the module docstring)."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, redis_process(persist=True) as redis, \
            _upstream(_faults(rng, requests * 2, fault_rate), Path(tmp)) as url:
        folder = Path(tmp)
        audit = folder / "audit.jsonl"
        local = stack(Retry(attempts=2, backoff={"base": 0.01, "cap": 0.05}),
                      provider=Ollama(model="llama3.1", base_url=url, timeout=5))
        llm = stack(
            AuditLog(FileSink(audit, fsync="never")),
            Cache(store=redis.url, breaker=1.0),
            Budget(limit_usd=10**6, store=f"sqlite:///{folder / 'budget.db'}"),
            Fallback(local),
            RateLimit(rpm=10**7, store=redis.url),
            Retry(attempts=3, backoff={"base": 0.01, "cap": 0.05}, max_retry_after=1),
            provider=OpenAI(model="gpt-4o-mini", base_url=url + "/v1", api_key=KEY,
                            timeout=5))
        tally = Tally()
        work = [_request(i, rng) for i in range(requests)]
        warm = min(warmup, requests // 10)
        half = requests // 2
        rss_cold = _rss_mb()
        started = time.perf_counter()
        driver = Driver(llm, tally, threads, async_concurrency)
        driver.run(work[:warm])
        rss_start = _rss_mb()
        driver.run(work[warm:half])
        redis.stop(kill=True)  # a store restart mid-run: every error must stay typed
        redis.start()
        driver.run(work[half:])
        elapsed = time.perf_counter() - started
        driver.close()
        llm.close()
        flush_all()
        records = sum(1 for line in audit.read_text().splitlines() if '"outcome"' in line)
        ledger = _ledger_spent(folder / "budget.db")
        rss_end = _rss_mb()
    lat = sorted(tally.latencies)
    figures = {
        "requests": requests, "ok": tally.ok, "typed_errors": tally.typed,
        "typed_kinds": dict(tally.typed_kinds.most_common()),
        "untyped_errors": tally.untyped, "untyped_examples": tally.untyped_examples,
        "hung": tally.hung, "audit_records": records, "ledger_usd": str(ledger),
        "settled_usd": str(tally.settled), "rss_cold_mb": round(rss_cold, 1),
        "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(rss_end, 1),
        "rss_growth": round(rss_end / rss_start - 1, 4), "seconds": round(elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 2) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 2) if lat else None,
    }
    for name, value in figures.items():
        report(f"{name:18} {value}")
    return figures


class Driver:
    """The callers, made once for the whole run as a server makes them: a pool of
    ``threads`` threads for the sync calls, one event loop (in its own thread) for the async
    ones, at most ``in_flight`` of them at a time. ``run(work)`` sends a quarter of ``work``
    async, the rest sync, and returns when every call has ended or timed out."""

    def __init__(self, llm: Any, tally: Tally, threads: int, in_flight: int) -> None:
        self.llm, self.tally = llm, tally
        self.pool = ThreadPoolExecutor(threads)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.gate = asyncio.run_coroutine_threadsafe(self._gate(in_flight), self.loop).result()

    @staticmethod
    async def _gate(in_flight: int) -> asyncio.Semaphore:
        return asyncio.Semaphore(in_flight)

    async def _async_part(self, work: list[Any]) -> None:
        async def one(request: Any) -> None:
            async with self.gate:
                await _async_one(self.llm, request, self.tally)

        await asyncio.gather(*(one(request) for request in work))

    def run(self, work: list[Any], batch: int = 400) -> None:
        """``work`` in batches of ``batch`` requests, as they would arrive over time (not
        thousands of calls pending at once: their peak would be the soak's memory, not the
        stack's)."""
        for start in range(0, len(work), batch):
            self._run(work[start:start + batch])

    def _run(self, work: list[Any]) -> None:
        cut = len(work) // 4
        done = asyncio.run_coroutine_threadsafe(self._async_part(work[:cut]), self.loop)
        futures = [self.pool.submit(_sync_one, self.llm, request, self.tally)
                   for request in work[cut:]]
        for future in [*futures, done]:
            try:
                future.result(timeout=DEADLINE * 4)
            except TimeoutError:
                with self.tally.lock:
                    self.tally.hung += 1

    def close(self) -> None:
        """Close the stack's async clients on the loop, then the loop and the pool."""
        asyncio.run_coroutine_threadsafe(self.llm.aclose(), self.loop).result(DEADLINE)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE)
        self.loop.close()
        self.pool.shutdown()


def check(figures: dict[str, Any], rss_limit: float | None = RSS_LIMIT) -> list[str]:
    """What the soak's figures break of its promises (empty: all kept); ``rss_limit=None``
    skips the memory check (a short run is all warm-up)."""
    problems = []
    if rss_limit is not None and figures["rss_growth"] > rss_limit:
        problems.append(f"resident memory grew {figures['rss_growth']:.1%} "
                        f"({figures['rss_start_mb']} -> {figures['rss_end_mb']} MB)")
    if figures["untyped_errors"]:
        problems.append(f"untyped errors: {figures['untyped_examples']}")
    if figures["hung"]:
        problems.append(f"{figures['hung']} hung calls")
    if figures["audit_records"] != figures["requests"]:
        problems.append(f"{figures['audit_records']} audit records for "
                        f"{figures['requests']} requests")
    if Decimal(figures["ledger_usd"]) != Decimal(figures["settled_usd"]):
        problems.append(f"ledger {figures['ledger_usd']} != settled {figures['settled_usd']}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--async-concurrency", type=int, default=32)
    parser.add_argument("--rss-limit", type=float, default=RSS_LIMIT)
    args = parser.parse_args()
    figures = soak(args.requests, args.fault_rate, args.seed, args.threads,
                   args.async_concurrency)
    problems = check(figures, args.rss_limit)
    print("OK" if not problems else "PROBLEMS:\n  " + "\n  ".join(problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
