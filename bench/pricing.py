"""Benchmarks for pricing: the first lookup (genai-prices' data loaded), a warm lookup, the
exact cost of a whole usage, and the upper bound — each against a floor measured in the same
run, so the ratios mean something on a busy machine.

Run: ``.venv/bin/python bench/pricing.py``. Numbers go to docs/performance.md.

* cold: a fresh interpreter's first ``price_for`` after ``import insightforge`` (best of 5),
  against the floor of ``import insightforge`` itself in a fresh interpreter; also
  with ``openai`` already imported (a process that uses the OpenAI provider has pydantic and
  httpx2 loaded already, which genai-prices needs too).
* warm: ``price_for`` of a model already looked up; ``Price.cost(usage)`` of a usage with cache
  reads and writes; ``Price.upper_bound``. The floor: the same arithmetic written inline
  (three ``Decimal`` multiplies and adds) — what any exact costing must pay.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal

from insightforge import Usage
from insightforge.pricing import price_for

COLD = """
import time, sys
{pre}
t = time.perf_counter()
{body}
print((time.perf_counter() - t) * 1000)
"""


def cold(pre: str, body: str, runs: int = 5) -> float:
    """Best of ``runs`` fresh interpreters: milliseconds spent in ``body``."""
    best = float("inf")
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD.format(pre=pre, body=body)],
                             capture_output=True, text=True, check=True).stdout
        best = min(best, float(out))
    return best


def per_call(fn: Callable[[], object], n: int = 20_000) -> float:
    """Median of 5 rounds: microseconds per call."""
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(rounds)


def main() -> None:
    lookup = "from insightforge.pricing import price_for; price_for('openai', 'gpt-4o-mini')"
    floor_ms = cold("", "import insightforge")
    cold_ms = cold("import insightforge", lookup)
    warm_sdk_ms = cold("import insightforge, openai", lookup)
    print(f"floor (import insightforge, fresh interpreter): {floor_ms:.1f} ms")
    print(f"cold first lookup: {cold_ms:.1f} ms ({cold_ms / floor_ms:.1f}x floor); with "
          f"openai already imported: {warm_sdk_ms:.1f} ms ({warm_sdk_ms / floor_ms:.1f}x)")

    price = price_for("anthropic", "claude-sonnet-4-5")
    assert price is not None
    usage = Usage(50_000, 1000, cache_read_tokens=10_000, cache_write_tokens=30_000,
                  cache_write_1h_tokens=10_000)
    a, b, c = Decimal(3), Decimal("0.3"), Decimal(15)

    def floor() -> Decimal:
        return (a * 30_000 + b * 10_000 + c * 1000).scaleb(-6)

    f = per_call(floor)
    rows = [
        ("warm price_for", per_call(lambda: price_for("anthropic", "claude-sonnet-4-5"))),
        ("Price.cost(usage)", per_call(lambda: price.cost(usage))),
        ("Price.cost(usage, service_tier)", per_call(
            lambda: price.cost(usage, service_tier="priority"))),
        ("Price.upper_bound", per_call(lambda: price.upper_bound(50_000, 1000))),
        ("lookup + cost", per_call(
            lambda: price_for("anthropic", "claude-sonnet-4-5").cost(usage))),  # type: ignore[union-attr]
    ]
    print(f"floor (inline Decimal arithmetic): {f:.2f} µs")
    for name, us in rows:
        print(f"{name:<34} {us:6.2f} µs  ({us / f:4.1f}x floor)")


if __name__ == "__main__":
    main()
