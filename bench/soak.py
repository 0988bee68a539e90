"""The fault-matrix soak: many requests through a full stack while the upstream misbehaves
and a store restarts, checking that nothing breaks and nothing is lost.

Run: ``.venv/bin/python bench/soak.py [--requests 10000] [--fault-rate 0.3]``.

The stack: ``AuditLog`` (a file) → ``Cache`` (Redis) → ``Budget`` (SQLite) → ``Fallback``
(to Ollama) → ``RateLimit`` (Redis) → ``Retry`` → ``OpenAI``, against the emulator. The
requests mix sync calls, async calls, streams (sync and async) and embeddings; about
``fault-rate`` of the upstream calls misbehave (429 with and without Retry-After, 500, 503,
a dropped connection, a truncated stream, a malformed body, a mid-stream error, a slow
answer); half way through, the Redis server is killed and started again.

It reports, and ``check`` asserts:

* **untyped errors** — exceptions that are not InsightForge's (must be 0);
* **hung calls** — calls that did not end within the deadline (must be 0);
* **audit records vs requests** — one record per request (equal);
* **ledger vs settled** — the SQLite ledger's spent equals the sum of every settlement the
  Budget reported in the traces (to the nano-dollar);
* **memory** — resident size at the start and the end (growth under 10%);
* **latency** — p50 and p99.

``tests/test_soak.py`` runs a short form of it in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from insightforge import ChatRequest, EmbedRequest, stack
from insightforge.errors import InsightForgeError
from insightforge.testing.emulator import Emulator
from insightforge.testing.emulator.faults import Fault
from middleware import AuditLog, Budget, Cache, Fallback, RateLimit, Retry
from middleware.audit import FileSink, flush_all
from middleware.budget import SQLiteLedger
from middleware.budget.policy import from_units
from providers import Ollama, OpenAI
from tests.services import redis_process

KEY = "sk-soak-0000000000000000000000000000000000"
DEADLINE = 30.0


def _faults(rng: random.Random, n: int, rate: float) -> list[Fault]:
    """A random fault per upstream call (``delay(0)`` is no fault at all)."""
    kinds = [
        lambda: Fault.status(429, retry_after=0.05), lambda: Fault.status(429),
        lambda: Fault.status(500), lambda: Fault.status(503), lambda: Fault.drop(),
        lambda: Fault.truncate(after_chunks=2), lambda: Fault.malformed(),
        lambda: Fault.stream_error(after_chunks=1), lambda: Fault.delay(0.05),
    ]
    return [rng.choice(kinds)() if rng.random() < rate else Fault.delay(0) for _ in range(n)]


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
        self.latencies: list[float] = []
        self.untyped_examples: list[str] = []

    def done(self, started: float, trace: Any = (), error: BaseException | None = None) -> None:
        with self.lock:
            self.latencies.append(time.perf_counter() - started)
            self.settled += _settled(trace)
            if error is None:
                self.ok += 1
            elif isinstance(error, InsightForgeError):
                self.typed += 1
            else:
                self.untyped += 1
                if len(self.untyped_examples) < 5:
                    self.untyped_examples.append(f"{type(error).__name__}: {error}")


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
         threads: int = 8, report: Any = print) -> dict[str, Any]:
    """Run the soak; returns the figures (see the module docstring)."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emu, \
            redis_process(persist=True) as redis:
        folder = Path(tmp)
        emu.script(*_faults(rng, requests * 2, fault_rate), api="openai")
        audit = folder / "audit.jsonl"
        local = stack(Retry(attempts=2, backoff={"base": 0.01, "cap": 0.05}),
                      provider=Ollama(model="llama3.1", base_url=emu.ollama_url, timeout=5))
        llm = stack(
            AuditLog(FileSink(audit, fsync="never")),
            Cache(store=redis.url, breaker=1.0),
            Budget(limit_usd=10**6, store=f"sqlite:///{folder / 'budget.db'}"),
            Fallback(local),
            RateLimit(rpm=10**7, store=redis.url),
            Retry(attempts=3, backoff={"base": 0.01, "cap": 0.05}, max_retry_after=1),
            provider=OpenAI(model="gpt-4o-mini", base_url=emu.openai_url, api_key=KEY,
                            timeout=5))
        tally = Tally()
        work = [_request(i, rng) for i in range(requests)]
        half = requests // 2
        rss_start = _rss_mb()
        started = time.perf_counter()
        _run(llm, work[:half], tally, threads)
        redis.stop(kill=True)  # a store restart mid-run: every error must stay typed
        redis.start()
        _run(llm, work[half:], tally, threads)
        elapsed = time.perf_counter() - started
        llm.close()
        flush_all()
        records = sum(1 for line in audit.read_text().splitlines() if '"outcome"' in line)
        ledger = _ledger_spent(folder / "budget.db")
        rss_end = _rss_mb()
    lat = sorted(tally.latencies)
    figures = {
        "requests": requests, "ok": tally.ok, "typed_errors": tally.typed,
        "untyped_errors": tally.untyped, "untyped_examples": tally.untyped_examples,
        "hung": tally.hung, "audit_records": records, "ledger_usd": str(ledger),
        "settled_usd": str(tally.settled), "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1), "seconds": round(elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 2) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 2) if lat else None,
    }
    for name, value in figures.items():
        report(f"{name:18} {value}")
    return figures


def _run(llm: Any, work: list[Any], tally: Tally, threads: int) -> None:
    """A quarter of the work async (on one loop), the rest sync on a pool of threads."""
    cut = len(work) // 4

    async def async_part() -> None:
        await asyncio.gather(*(_async_one(llm, request, tally) for request in work[:cut]))

    runner = threading.Thread(target=lambda: asyncio.run(async_part()))
    runner.start()
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(_sync_one, llm, request, tally) for request in work[cut:]]
        for future in futures:
            try:
                future.result(timeout=DEADLINE * 4)
            except TimeoutError:
                with tally.lock:
                    tally.hung += 1
    runner.join(DEADLINE * 4)
    if runner.is_alive():
        with tally.lock:
            tally.hung += 1


def check(figures: dict[str, Any]) -> list[str]:
    """What the soak's figures break of its promises (empty: all kept)."""
    problems = []
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
    args = parser.parse_args()
    figures = soak(args.requests, args.fault_rate, args.seed)
    growth = figures["rss_end_mb"] / figures["rss_start_mb"] - 1
    print(f"rss growth         {growth:.1%}")
    problems = check(figures)
    print("OK" if not problems else "PROBLEMS:\n  " + "\n  ".join(problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
