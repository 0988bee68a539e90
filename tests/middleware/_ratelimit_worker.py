"""A worker process for the shared-limit tests: a RateLimit on a shared store in front of
the real OpenAI provider, pointed at the emulator. Kept in its own light module so a
``spawn``-ed child imports only what it needs."""

from __future__ import annotations

import time


def run(store_spec: str, base_url: str, requests: int, rpm: int, window: float,
        start_at: float) -> int:
    """Send ``requests`` chat requests through the limiter; returns how many answered."""
    from insightforge import ChatRequest, stack
    from middleware import RateLimit
    from providers.openai import OpenAI

    provider = OpenAI(model="gpt-4o-mini", base_url=base_url, timeout=10,
                      api_key="sk-proj-TESTKEYabcdefghijklmnopqrstuvwxyz0123456789")
    llm = stack(RateLimit(rpm=rpm, window=window, store=store_spec, max_wait=60),
                provider=provider)
    # warm up (SDK import, connection) outside the limit and off the measured path, so
    # the time from admission to arrival at the emulator is the loopback latency only
    provider.check()
    time.sleep(max(0.0, start_at - time.time()))  # both processes start together
    answered = 0
    for i in range(requests):
        if llm(ChatRequest(f"request {i}")).text:
            answered += 1
    llm.close()
    return answered
