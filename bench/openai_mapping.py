"""OpenAI mapping cost: our dict parsing vs the SDK's pydantic models, and per-call totals.

Run: ``python bench/openai_mapping.py [N]`` (from the repo root). Prints, in microseconds per
call, medians of 5 rounds:

* mapping only — ``_openai_wire.parse_chat(dict)`` vs ``ChatCompletion.construct(**dict)``
  (what the SDK does by default) vs ``ChatCompletion.model_validate(dict)``; request side:
  ``chat_body(ChatRequest)``;
* end to end on the emulator, sync, non-streamed — the raw SDK
  (``client.chat.completions.create``), the SDK's ``post(cast_to=object)`` (what the
  providers use), and ``providers.OpenAI`` itself.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai
from openai.types.chat import ChatCompletion

from insightforge import ChatRequest
from insightforge.testing.emulator import Emulator
from providers import _openai_wire as wire
from providers.openai import OpenAI

MESSAGES = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello to the benchmark please"}]


def per_call(fn: Callable[[], Any], n: int, rounds: int = 5) -> float:
    """Median microseconds per call over ``rounds`` rounds of ``n`` calls."""
    for _ in range(min(n, 50)):
        fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(times)


def main(n: int = 2000) -> None:
    request = ChatRequest(MESSAGES, max_tokens=64, temperature=0.2)
    with Emulator() as emu:
        client = openai.OpenAI(base_url=emu.openai_url, api_key="sk-bench-0000000000",
                               max_retries=0, timeout=10)
        body = wire.chat_body(request, "gpt-4o-mini")
        data: Any = client.post("/chat/completions", body=body, cast_to=object)
        m = n * 10
        mapping: dict[str, Callable[[], Any]] = {
            "chat_body(ChatRequest)": lambda: wire.chat_body(request, "gpt-4o-mini"),
            "parse_chat(dict)  [ours]": lambda: wire.parse_chat(data, provider="openai",
                                                                model="gpt-4o-mini"),
            "ChatCompletion.construct(dict)": lambda: ChatCompletion.construct(**data),
            "ChatCompletion.model_validate": lambda: ChatCompletion.model_validate(data),
        }
        print(f"mapping only (us/call, n={m}):")
        for label, fn in mapping.items():
            print(f"  {label:34s}{per_call(fn, m):8.2f}")
        provider = OpenAI(base_url=emu.openai_url, api_key="sk-bench-0000000000", timeout=10)
        calls: dict[str, Callable[[], Any]] = {
            "raw SDK chat.completions.create": lambda: client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, max_tokens=64,  # type: ignore[arg-type]
                temperature=0.2),
            "SDK post(cast_to=object)": lambda: client.post("/chat/completions", body=body,
                                                           cast_to=object),
            "providers.OpenAI (ours)": lambda: provider(request),
        }
        print(f"end to end on the emulator (us/call, n={n}):")
        results: dict[str, list[float]] = {}
        for _ in range(2):  # interleave to share drift
            for label, fn in calls.items():
                results.setdefault(label, []).append(per_call(fn, n // 2, rounds=3))
        raw = statistics.median(results["raw SDK chat.completions.create"])
        for label, values in results.items():
            value = statistics.median(values)
            print(f"  {label:34s}{value:8.1f}  ({(value - raw) / raw * 100:+.1f}% vs raw SDK)")
        provider.close()
        client.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
