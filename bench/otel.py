"""Per-call cost of the ``OpenTelemetry`` layer, without an SDK and with one.

Run: ``.venv/bin/python bench/otel.py [--calls N] [--rounds R]``. Each stack wraps the layer
around a ``ScriptedProvider`` (no I/O); the **floor** is the bare provider's time per call,
measured in the same run, interleaved round by round, best of each. Time is this process's
CPU time (``time.process_time``), so other processes on a loaded machine do not count. The
layer's cost is printed in µs per call and as a ratio to that floor.

* **no SDK** — ``OpenTelemetry()`` with nothing configured: the API's no-op tracer, no
  metrics. The handler asks the tracer for a span, sees it is not recording, and calls the
  inner handler directly: this is the cost every user of the layer pays.
* **SDK** — a real ``TracerProvider`` (spans recorded and ended; a ``SimpleSpanProcessor``
  into an exporter that drops them, so the export itself costs nothing here);
  **+ otel metrics** adds a ``MeterProvider`` with an ``InMemoryMetricReader``;
  **+ prometheus** records into a prometheus-client registry instead.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from insightforge import ChatRequest, stack
from insightforge.testing.scripted import ScriptedProvider
from middleware import OpenTelemetry

REQUEST = ChatRequest("How many layers does an onion have?", max_tokens=64,
                      tags={"tenant": "acme"})


class Drop(SpanExporter):
    """An exporter that accepts every span and keeps none."""

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _round(handler: Any, calls: int, use_async: bool) -> float:
    provider = handler if isinstance(handler, ScriptedProvider) else handler.provider
    assert isinstance(provider, ScriptedProvider)
    provider.calls.clear()
    gc.collect()
    if use_async:
        async def run() -> float:
            started = time.process_time()
            for _ in range(calls):
                await handler.acall(REQUEST)
            return time.process_time() - started
        return asyncio.run(run()) / calls
    started = time.process_time()
    for _ in range(calls):
        handler(REQUEST)
    return (time.process_time() - started) / calls


def measure(bare: Any, layered: Any, calls: int, rounds: int,
            use_async: bool) -> tuple[float, float]:
    """(floor per call, layered per call): rounds interleaved, best of each."""
    floor = best = float("inf")
    for _ in range(rounds):
        floor = min(floor, _round(bare, calls, use_async))
        best = min(best, _round(layered, calls, use_async))
    return floor, best


def stacks() -> dict[str, Any]:
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(Drop()))
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {
        "stack(), no layer (reference)": stack(provider=ScriptedProvider()),
        "no SDK (no-op tracer)": stack(OpenTelemetry(), provider=ScriptedProvider()),
        "no SDK, tags + content on": stack(
            OpenTelemetry(tags=("tenant",), capture_content=True), provider=ScriptedProvider()),
        "SDK: spans": stack(OpenTelemetry(tracer_provider=tracing, tags=("tenant",)),
                            provider=ScriptedProvider()),
        "SDK: spans + otel metrics": stack(
            OpenTelemetry(tracer_provider=tracing, meter_provider=meters, metrics="otel",
                          tags=("tenant",)), provider=ScriptedProvider()),
        "SDK: spans + prometheus": stack(
            OpenTelemetry(tracer_provider=tracing, metrics="prometheus",
                          registry=CollectorRegistry(), tags=("tenant",)),
            provider=ScriptedProvider()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    bare = ScriptedProvider()
    print(f"{'stack':30} {'sync µs':>8} {'x floor':>8} {'async µs':>9} {'x floor':>8}")
    floors: list[tuple[float, float]] = []
    for name, llm in stacks().items():
        sync_floor, sync = measure(bare, llm, args.calls, args.rounds, use_async=False)
        async_floor, asyn = measure(bare, llm, args.calls, args.rounds, use_async=True)
        floors.append((sync_floor, async_floor))
        print(f"{name:30} {(sync - sync_floor) * 1e6:8.2f} {sync / sync_floor:8.2f} "
              f"{(asyn - async_floor) * 1e6:9.2f} {asyn / async_floor:8.2f}")
    sync_floor = min(f[0] for f in floors)
    async_floor = min(f[1] for f in floors)
    print(f"(floor: the bare ScriptedProvider, sync {sync_floor * 1e6:.2f} µs/call, "
          f"async {async_floor * 1e6:.2f} µs/call; µs = the layer's added cost per call, "
          f"x floor = the stack's time over the floor's)")


if __name__ == "__main__":
    main()
