"""What the layers cost per call, against the floor of one raw httpx call on loopback.

Run: ``.venv/bin/python bench/layers.py [--calls N] [--rounds R]``.

* **floor** — one ``httpx`` POST of a chat completion to the emulator (in its own process,
  so its work does not share our GIL), keep-alive connection: the cheapest real call.
* **each layer** — the layer alone around a ``ScriptedProvider`` (no I/O, no sleeping), minus
  the bare provider: its own cost per call.
* **the six-layer stack** — ``AuditLog`` to a file, ``Cache`` (every call a miss: each
  request is new), ``Budget``, ``Fallback``, ``RateLimit``, ``Retry`` — minus the bare
  provider. The audit writer's work is counted: each round ends by waiting for every record
  to be written; a second table shows the request path alone (the writer's work left to its
  thread, which in a real call overlaps the provider's network wait).

* **end to end** — what the six layers add to a real call: an ``OpenAI`` provider (the openai
  SDK over httpx) to the emulator, alone and inside the six layers, interleaved; the audit
  writer's work is counted (each round waits for every record), less what it did while
  the call waited on the network — as it does in use. Median of 4R rounds of 100 calls.

* **the work no layer code can skip** — bench/_library_floor.py: each layer's promise done
  with the project's components alone (a full ``TTLCache`` lookup and insert and the key's
  SHA-256, a pyrate-limiter put, a ``Decimal`` cost, the redacted record's JSON, hash and
  append), no flow, trace event or response copy: a floor under the six-layer row.

Every figure is the best of R interleaved rounds (the machine is shared and noisy); the
ratio to the floor measured in the same run is what to compare across machines. The goal:
the whole stack at most 1/15 of the floor, sync and async.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._library_floor import library_floor
from insightforge import ChatRequest, stack
from insightforge.testing.scripted import ScriptedProvider
from middleware import AuditLog, Budget, Cache, Fallback, RateLimit, Retry
from middleware.audit import FileSink, flush_all
from tests.services import free_port

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "How many layers?"}],
        "max_tokens": 64}


def provider() -> ScriptedProvider:
    return ScriptedProvider()  # echoes: the same work on every call


class Requests:
    """A new request each call (so a cache always misses), made ahead of the timing."""

    def __init__(self, n: int) -> None:
        self.items = [ChatRequest(f"How many layers does onion {i} have?", max_tokens=64)
                      for i in range(n)]


def _calls(handler: Any, requests: list[ChatRequest], use_async: bool,
           with_writer: bool = True) -> float:
    """Seconds per call; ``with_writer`` counts the audit writer's work too (the round ends
    when every record is written), else only the request path (what a caller waits for)."""
    gc.collect()
    if use_async:
        async def run() -> float:
            started = time.perf_counter()
            for request in requests:
                await handler.acall(request)
            if with_writer:
                flush_all()
            took = time.perf_counter() - started
            flush_all()
            return took
        return asyncio.run(run()) / len(requests)
    started = time.perf_counter()
    for request in requests:
        handler(request)
    if with_writer:
        flush_all()
    took = time.perf_counter() - started
    flush_all()
    return took / len(requests)


def _scripted(handler: Any) -> list[ScriptedProvider]:
    found, todo = [], [handler]
    while todo:
        h = todo.pop()
        if isinstance(h, ScriptedProvider):
            found.append(h)
            continue
        todo.extend(getattr(h, "children", lambda: ())())
        todo.extend(getattr(h, attr) for attr in ("handler",) if hasattr(h, attr))
    return found


def overhead(make: Callable[[], Any], calls: int, rounds: int, use_async: bool,
             with_writer: bool = True) -> tuple[float, float]:
    """(bare provider per call, layered minus bare per call): best of interleaved rounds."""
    bare, best = float("inf"), float("inf")
    for _r in range(rounds):
        requests = Requests(calls).items
        base = provider()
        bare = min(bare, _calls(base, requests, use_async))
        layered = make()
        best = min(best, _calls(layered, requests, use_async, with_writer))
        for p in _scripted(layered):
            p.calls.clear()
        layered.close()
    return bare, best - bare


def floor(url: str, calls: int, rounds: int, use_async: bool) -> float:
    """One raw httpx call to the emulator over a kept-alive loopback connection."""
    import httpx

    headers = {"Authorization": "Bearer sk-bench-0000000000000000000000000000"}
    best = float("inf")
    if use_async:
        async def run() -> float:
            async with httpx.AsyncClient(base_url=url, headers=headers) as client:
                await client.post("/v1/chat/completions", json=BODY)
                started = time.perf_counter()
                for _ in range(calls):
                    (await client.post("/v1/chat/completions", json=BODY)).json()
                return (time.perf_counter() - started) / calls
        for _ in range(rounds):
            best = min(best, asyncio.run(run()))
        return best
    with httpx.Client(base_url=url, headers=headers) as client:
        client.post("/v1/chat/completions", json=BODY)
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(calls):
                client.post("/v1/chat/completions", json=BODY).json()
            best = min(best, (time.perf_counter() - started) / calls)
    return best


def end_to_end(url: str, folder: Path, calls: int, rounds: int,
               use_async: bool) -> tuple[float, float]:
    """(a real provider call alone, what the six layers add to it), per call: the median
    over ``rounds`` interleaved rounds of ``calls`` calls each (a difference of two ~1 ms
    figures on a shared machine: the median of many short rounds is steadier than the best
    of a few long ones)."""
    from providers import OpenAI

    def real() -> OpenAI:
        return OpenAI(model="gpt-4o-mini", base_url=f"{url}/v1", timeout=10,
                      api_key="sk-bench-0000000000000000000000000000")

    n = iter(range(10**6))
    plain, layered = stack(provider=real()), stack(
        AuditLog(FileSink(folder / "e2e.jsonl")), Cache(ttl=600), Budget(limit_usd=10**6),
        Fallback(real()), RateLimit(rpm=10**9), Retry(attempts=3), provider=real())
    warm = Requests(20).items
    _calls(plain, warm, use_async)
    _calls(layered, warm, use_async)
    alone, added = [], []
    for _r in range(rounds):
        requests = [ChatRequest(f"How many layers does onion {next(n)}-{i} have?",
                                max_tokens=64) for i in range(calls)]
        bare = _calls(plain, requests, use_async)
        alone.append(bare)
        added.append(_calls(layered, requests, use_async) - bare)
    plain.close()
    layered.close()
    return statistics.median(alone), statistics.median(added)


def stacks(folder: Path) -> dict[str, Callable[[], Any]]:
    n = iter(range(10**6))
    return {
        "AuditLog(file)": lambda: stack(AuditLog(FileSink(folder / f"a{next(n)}.jsonl")),
                                        provider=provider()),
        "Cache (miss)": lambda: stack(Cache(ttl=600), provider=provider()),
        "Budget": lambda: stack(Budget(limit_usd=10**6), provider=provider()),
        "Fallback": lambda: stack(Fallback(provider()), provider=provider()),
        "RateLimit(rpm)": lambda: stack(RateLimit(rpm=10**9), provider=provider()),
        "Retry": lambda: stack(Retry(attempts=3), provider=provider()),
        "six layers": lambda: stack(
            AuditLog(FileSink(folder / f"six{next(n)}.jsonl")), Cache(ttl=600),
            Budget(limit_usd=10**6), Fallback(provider()), RateLimit(rpm=10**9),
            Retry(attempts=3), provider=provider()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    emulator = subprocess.Popen([sys.executable, "-m", "insightforge.testing.emulator",
                                 "--port", str(port)], stdout=subprocess.PIPE)
    assert emulator.stdout is not None
    emulator.stdout.readline()
    try:
        url = f"http://127.0.0.1:{port}"
        floors = {mode: floor(url, max(200, args.calls // 10), args.rounds, mode == "async")
                  for mode in ("sync", "async")}
        with tempfile.TemporaryDirectory() as tmp:
            rows = {name: {mode: overhead(make, args.calls, args.rounds, mode == "async")
                           for mode in ("sync", "async")}
                    for name, make in stacks(Path(tmp)).items()}
            paths = {name: {mode: overhead(stacks(Path(tmp))[name], args.calls, args.rounds,
                                           mode == "async", with_writer=False)
                            for mode in ("sync", "async")}
                     for name in ("AuditLog(file)", "six layers")}
            e2e = {mode: end_to_end(url, Path(tmp), 100, 4 * args.rounds, mode == "async")
                   for mode in ("sync", "async")}
        least = library_floor()
    finally:
        emulator.terminate()
        emulator.wait()
    print(f"floor: raw httpx call on loopback: sync {floors['sync'] * 1e6:.1f} µs, "
          f"async {floors['async'] * 1e6:.1f} µs")
    print(f"{'':16} {'sync µs':>9} {'of floor':>9} {'async µs':>9} {'of floor':>9}")
    for name, by_mode in rows.items():
        sync, asyn = by_mode["sync"][1], by_mode["async"][1]
        print(f"{name:16} {sync * 1e6:9.1f} {sync / floors['sync']:9.4f} "
              f"{asyn * 1e6:9.1f} {asyn / floors['async']:9.4f}")
    print("request path only (the audit writer's work left to its thread):")
    for name, by_mode in paths.items():
        sync, asyn = by_mode["sync"][1], by_mode["async"][1]
        print(f"{name:16} {sync * 1e6:9.1f} {sync / floors['sync']:9.4f} "
              f"{asyn * 1e6:9.1f} {asyn / floors['async']:9.4f}")
    print("end to end: a real OpenAI-provider call to the emulator, alone and in six layers:")
    for mode in ("sync", "async"):
        alone, added = e2e[mode]
        print(f"  {mode:5}: alone {alone * 1e6:7.1f} µs, six layers add {added * 1e6:6.1f} µs "
              f"= {added / floors[mode]:.4f} of the floor ({added / alone:.3f} of the call)")
    total = sum(least.values())
    parts = ", ".join(f"{k} {v * 1e6:.1f}" for k, v in least.items())
    print(f"the work no layer code can skip (bench/_library_floor.py: {parts} µs): "
          f"{total * 1e6:.1f} µs = {total / floors['sync']:.4f} of the sync floor, "
          f"{total / floors['async']:.4f} of the async one")
    bare = rows["Retry"]["sync"][0], rows["Retry"]["async"][0]
    print(f"(bare ScriptedProvider: sync {bare[0] * 1e6:.1f} µs, async {bare[1] * 1e6:.1f} µs; "
          f"goal for six layers: at most 1/15 = {1 / 15:.4f} of the floor)")


if __name__ == "__main__":
    main()
