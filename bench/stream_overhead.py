"""What surviving a cut costs a stream that is never cut: the continuation wrapper of
``Retry``/``Fallback`` and the first-token/stall guard of a provider, per stream and per
chunk, on the success path.

Run: ``.venv/bin/python bench/stream_overhead.py [--streams N] [--rounds R]``.

* **continuation** — a 60-chunk stream from a ``ScriptedProvider`` (no I/O) through
  ``Retry`` and through ``Fallback`` + ``Retry``, with ``resume=True`` (the default) and
  ``resume=False``, sync and async: the difference is the wrapper's cost.
* **limits** — the provider-level guard (``providers._watch.guard``/``aguard``) over
  60 chunks with ``first_token_timeout`` and ``stall_timeout`` set, against the same chunks
  unguarded (sync: the watchdog's bookkeeping; async: one timer per stream).

Best of R rounds of process CPU time (the machine is shared); numbers go to
docs/performance.md ("Faults").
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from insightforge import ChatRequest, stack
from insightforge.testing.scripted import ScriptedProvider
from insightforge.types import Chunk
from middleware import Fallback, Retry
from providers._deadlines import StreamLimits
from providers._watch import aguard, guard

PROMPT = " ".join(f"w{i}" for i in range(59))  # "Echo: " + 59 words: 60 chunks + finish
CHUNKS = [Chunk(f"w{i} ") for i in range(60)]


def _stacks(resume: bool) -> dict[str, Any]:
    return {"Retry": stack(Retry(resume=resume), provider=ScriptedProvider()),
            "Fallback+Retry": stack(Fallback(ScriptedProvider(name="alt"), resume=resume),
                                    Retry(resume=resume), provider=ScriptedProvider())}


def _sync_streams(llm: Any, n: int) -> float:
    request = ChatRequest(PROMPT, stream=True)
    started = time.process_time()
    for _ in range(n):
        for _ in llm(request):
            pass
    return (time.process_time() - started) / n


def _async_streams(llm: Any, n: int) -> float:
    request = ChatRequest(PROMPT, stream=True)

    async def run() -> float:
        started = time.process_time()
        for _ in range(n):
            async for _ in await llm.acall(request):
                pass
        return (time.process_time() - started) / n

    return asyncio.run(run())


def _guarded(n: int, limits: StreamLimits) -> float:
    started = time.process_time()
    for _ in range(n):
        for _ in guard(iter(CHUNKS), limits, provider="bench", started=time.monotonic(),
                       interrupt=lambda: None):
            pass
    return (time.process_time() - started) / n


def _aguarded(n: int, limits: StreamLimits) -> float:
    async def chunks() -> AsyncIterator[Chunk]:
        for chunk in CHUNKS:
            yield chunk

    async def run() -> float:
        started = time.process_time()
        for _ in range(n):
            async for _ in aguard(chunks(), limits, provider="bench",
                                  started=time.monotonic()):
                pass
        return (time.process_time() - started) / n

    return asyncio.run(run())


def best(rounds: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(rounds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    n, r = args.streams, args.rounds
    print(f"{n} streams of 60 chunks, best of {r} rounds; µs per stream (per chunk)")
    on, off = _stacks(True), _stacks(False)
    for name in on:
        for kind, run in (("sync", _sync_streams), ("async", _async_streams)):
            with_it = best(r, lambda: run(on[name], n))  # noqa: B023
            without = best(r, lambda: run(off[name], n))  # noqa: B023
            extra = (with_it - without) * 1e6
            print(f"continuation {name:<15} {kind:<5} resume on {with_it * 1e6:8.1f}  off "
                  f"{without * 1e6:8.1f}  wrapper {extra:7.1f} ({extra / 60:.2f} per chunk)")
    limits, none = StreamLimits(30.0, 30.0), StreamLimits()
    for kind, run_guard in (("sync", _guarded), ("async", _aguarded)):
        with_it = best(r, lambda: run_guard(n, limits))  # noqa: B023
        without = best(r, lambda: run_guard(n, none))  # noqa: B023
        extra = (with_it - without) * 1e6
        print(f"limits {kind:<5} set {with_it * 1e6:8.1f}  unset {without * 1e6:8.1f}  guard "
              f"{extra:7.1f} ({extra / 60:.2f} per chunk)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
