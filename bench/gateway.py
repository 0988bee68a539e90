"""Benchmark: what the HTTP gateway adds on top of calling the stack in-process.

Run: ``.venv/bin/python bench/gateway.py``

Measures, with a free in-process provider (ScriptedProvider) so only the gateway is timed:
* a non-streamed chat call in-process vs. through the gateway (httpx, keep-alive) — median
  and p99 latency;
* a streamed call (10 chunks) through the gateway: time to the last byte;
* throughput with 8 client threads on one gateway (keep-alive connections).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import httpx

from insightforge import ChatRequest, stack
from insightforge.gateway import start
from insightforge.testing import ScriptedProvider

BODY = {"model": "default", "messages": [{"role": "user",
                                          "content": "one two three four five six seven eight"}]}


def _times(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(50, n)):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _report(name: str, times: list[float]) -> None:
    times = sorted(times)
    p99 = times[int(len(times) * 0.99) - 1]
    print(f"{name:38s} median {statistics.median(times) * 1e6:8.0f} µs   p99 {p99 * 1e6:8.0f} µs")


def main() -> None:
    llm = stack(provider=ScriptedProvider())
    request = ChatRequest(BODY["messages"])  # type: ignore[arg-type]
    _report("in-process stack call", _times(lambda: llm(request), 2000))
    with start(llm) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        _report("gateway chat (keep-alive)",
                _times(lambda: client.post("/chat/completions", json=BODY).raise_for_status(),
                       2000))
        stream = {**BODY, "stream": True}
        _report("gateway stream (9 chunks + usage)",
                _times(lambda: client.post("/chat/completions", json=stream).read(), 1000))

        per_thread, threads = 300, 8

        def worker() -> None:
            with httpx.Client(base_url=server.url, timeout=10) as c:
                for _ in range(per_thread):
                    c.post("/chat/completions", json=BODY).raise_for_status()

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        t = time.perf_counter()
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        elapsed = time.perf_counter() - t
        print(f"{'gateway throughput, 8 client threads':38s} "
              f"{per_thread * threads / elapsed:8.0f} req/s")


if __name__ == "__main__":
    main()
