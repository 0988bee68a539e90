"""Per-call overhead of Retry, Fallback and RateLimit on the success path.

Run: ``.venv/bin/python bench/layers.py [--calls N]``. Each stack wraps one layer around
a ``ScriptedProvider`` (no I/O, no sleeping); the overhead is the stack's time per call
minus the bare provider's, best of several rounds. The issue's budget: < 20 µs per layer.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

from insightforge import ChatRequest, stack
from insightforge.testing.scripted import ScriptedProvider
from middleware import Fallback, RateLimit, Retry

REQUEST = ChatRequest("How many layers does an onion have?", max_tokens=64)


def provider() -> ScriptedProvider:
    return ScriptedProvider()  # echoes: the same work on every call


def _providers(handler: Any) -> list[ScriptedProvider]:
    """Every ScriptedProvider in a stack (their call logs are cleared between rounds)."""
    found: list[ScriptedProvider] = []
    todo = [handler]
    while todo:
        h = todo.pop()
        if isinstance(h, ScriptedProvider):
            found.append(h)
        todo.extend(getattr(h, "children", lambda: ())())
        for attr in ("handler", "provider"):
            if hasattr(h, attr) and not isinstance(h, ScriptedProvider):
                todo.append(getattr(h, attr))
    return found


def _round(handler: Any, calls: int, use_async: bool) -> float:
    for p in _providers(handler):
        p.calls.clear()
    gc.collect()
    if use_async:
        async def run() -> float:
            started = time.perf_counter()
            for _ in range(calls):
                await handler.acall(REQUEST)
            return time.perf_counter() - started
        return asyncio.run(run()) / calls
    started = time.perf_counter()
    for _ in range(calls):
        handler(REQUEST)
    return (time.perf_counter() - started) / calls


def overhead(bare: Any, layered: Any, calls: int, use_async: bool,
             rounds: int = 7) -> tuple[float, float]:
    """(bare per-call, layered minus bare per-call): rounds interleaved, best of each."""
    base = best = float("inf")
    for _ in range(rounds):
        base = min(base, _round(bare, calls, use_async))
        best = min(best, _round(layered, calls, use_async))
    return base, best - base


def stacks() -> dict[str, Any]:
    return {
        "Retry(attempts=3)": stack(Retry(attempts=3), provider=provider()),
        "Fallback(alternate)": stack(Fallback(provider()), provider=provider()),
        "RateLimit(rpm=10**9)": stack(RateLimit(rpm=10**9), provider=provider()),
        "RateLimit(rpm, tpm, window=1)": stack(RateLimit(rpm=10**7, tpm=10**9, window=1),
                                               provider=provider()),
        "RateLimit(rpm, key=tag:tenant)": stack(RateLimit(rpm=10**9, key="tag:tenant"),
                                                provider=provider()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    bare = provider()
    print(f"{'layer':34} {'sync overhead':>14} {'async overhead':>15}")
    for name, llm in stacks().items():
        base, sync = overhead(bare, llm, args.calls, use_async=False)
        abase, asyn = overhead(bare, llm, args.calls, use_async=True)
        flag = "" if max(sync, asyn) < 20e-6 else "  <-- over the 20 µs budget"
        print(f"{name:34} {sync * 1e6:11.2f} µs {asyn * 1e6:12.2f} µs{flag}")
    print(f"(bare ScriptedProvider: sync {base * 1e6:.2f} µs/call, "
          f"async {abase * 1e6:.2f} µs/call)")


if __name__ == "__main__":
    main()
