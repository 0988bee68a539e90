"""Per-call overhead of ``stack(...)`` against the raw openai SDK, and import time.

Method: the emulator runs in a separate process (so its work does not share our GIL); the
same chat request is sent, interleaved in rounds, through

* ``raw``      — ``openai.OpenAI(...).chat.completions.create(...)`` (max_retries=0),
* ``provider`` — ``providers.OpenAI(...)`` called directly, no stack,
* ``stack0``   — ``stack(provider=OpenAI(...))``, no layers,
* ``stack5``   — five pass-through layers around the same provider,

sync and async. Each round times N calls of each variant; the median round is reported, and
overhead = (variant - raw) / raw. Import time: ``python -X importtime -c "import insightforge"``.

Run: ``.venv/bin/python bench/overhead.py [--calls 300] [--rounds 7]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from insightforge import ChatRequest, Message, stack
from insightforge.stack import Handler, Middleware, Request

sys.path.insert(0, ".")
from tests.services import free_port

KEY = "sk-bench-0000000000000000000000000000"


class PassThrough:
    """A layer that does nothing: measures the cost of one onion level."""

    def __call__(self, inner: Handler) -> Handler:
        return _Pass(self, inner)

    def __repr__(self) -> str:
        return "PassThrough()"


class _Pass(Middleware):
    __slots__ = ()

    def __call__(self, request: Request, /) -> Any:
        return self.inner(request)

    async def acall(self, request: Request, /) -> Any:
        return await self.inner.acall(request)


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "insightforge.testing.emulator",
                             "--port", str(port)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()  # the banner's first line: listening
    return proc, f"http://127.0.0.1:{port}"


def time_sync(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


async def time_async(fn: Callable[[], Awaitable[object]], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await fn()
    return (time.perf_counter() - start) / calls


def import_time_ms() -> float:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import insightforge"],
                         capture_output=True, text=True, check=True).stderr
    last = [line for line in out.splitlines() if line.rstrip().endswith("| insightforge")][-1]
    return int(last.split("|")[1]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    import openai

    from providers import OpenAI

    proc, url = start_emulator()
    try:
        messages = [{"role": "user", "content": "Say hello to the benchmark"}]
        request = ChatRequest([Message("user", "Say hello to the benchmark")],
                              model="gpt-4o-mini")
        raw = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=10)
        araw = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=10)
        provider = OpenAI(model="gpt-4o-mini", base_url=url + "/v1", api_key=KEY, timeout=10)
        stack0 = stack(provider=provider)
        stack5 = stack(*(PassThrough() for _ in range(5)), provider=provider)

        sync_variants: dict[str, Callable[[], object]] = {
            "raw": lambda: raw.chat.completions.create(model="gpt-4o-mini", messages=messages),
            "provider": lambda: provider(request),
            "stack0": lambda: stack0(request),
            "stack5": lambda: stack5(request),
        }
        async_variants: dict[str, Callable[[], Awaitable[object]]] = {
            "raw": lambda: araw.chat.completions.create(model="gpt-4o-mini", messages=messages),
            "provider": lambda: provider.acall(request),
            "stack0": lambda: stack0.acall(request),
            "stack5": lambda: stack5.acall(request),
        }
        for fn in sync_variants.values():  # warm up connections and caches
            time_sync(fn, 50)

        sync_rounds: dict[str, list[float]] = {k: [] for k in sync_variants}
        for _ in range(args.rounds):
            for name, fn in sync_variants.items():
                sync_rounds[name].append(time_sync(fn, args.calls))

        async def run_async() -> dict[str, list[float]]:
            for fn in async_variants.values():
                await time_async(fn, 50)
            rounds: dict[str, list[float]] = {k: [] for k in async_variants}
            for _ in range(args.rounds):
                for name, fn in async_variants.items():
                    rounds[name].append(await time_async(fn, args.calls))
            return rounds

        async_rounds = asyncio.run(run_async())
    finally:
        proc.terminate()
        proc.wait()

    print(f"calls per round: {args.calls}, rounds: {args.rounds} (median round shown)")
    print("overhead of the stack itself = stackN - provider; of the provider vs the SDK = "
          "provider - raw")
    for world, rounds in (("sync", sync_rounds), ("async", async_rounds)):
        base = statistics.median(rounds["raw"])
        for name, values in rounds.items():
            med = statistics.median(values)
            print(f"{world:5} {name:7} {med * 1e6:9.1f} us/call   "
                  f"overhead vs raw: {(med - base) / base * 100:+6.2f}%  "
                  f"({(med - base) * 1e6:+7.1f} us)")
        own = statistics.median(rounds["stack0"]) - statistics.median(rounds["provider"])
        print(f"{world:5} stack0 - provider: {own * 1e6:+.1f} us/call "
              f"({own / base * 100:+.2f}% of a raw SDK call)")
    times = [import_time_ms() for _ in range(5)]
    print(f"import insightforge: median {statistics.median(times):.1f} ms over 5 runs "
          f"(min {min(times):.1f})")


if __name__ == "__main__":
    main()
