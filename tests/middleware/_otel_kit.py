"""What the OpenTelemetry layer's tests share: the real SDK with in-memory exporters.

:class:`Telemetry` is a ``TracerProvider`` whose spans go to an ``InMemorySpanExporter``
(through the SDK's ``SimpleSpanProcessor``) and to an :class:`Ends` processor that counts
every start and end of every span, plus a ``MeterProvider`` read by an
``InMemoryMetricReader``. Nothing is global: each test passes these providers to the layer.
"""

from __future__ import annotations

import collections
import gc
from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from insightforge.errors import ProviderUnavailable
from middleware.otel import OpenTelemetry

__all__ = ["Ends", "Telemetry", "boom", "drop", "event_names"]


class Ends(SpanProcessor):
    """Counts ``on_start`` and ``on_end`` per span id (a span ended twice shows as 2)."""

    def __init__(self) -> None:
        self.started: collections.Counter[int] = collections.Counter()
        self.ended: collections.Counter[int] = collections.Counter()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started[span.context.span_id] += 1

    def on_end(self, span: ReadableSpan) -> None:
        assert span.context is not None
        self.ended[span.context.span_id] += 1

    def open_spans(self) -> set[int]:
        return set(self.started) - set(self.ended)


class Telemetry:
    """The SDK, in memory (see the module docstring)."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.ends = Ends()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(self.ends)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def layer(self, **options: Any) -> OpenTelemetry:
        return OpenTelemetry(tracer_provider=self.tracer_provider,
                             meter_provider=self.meter_provider, **options)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        """The one span finished so far (fails when there is not exactly one)."""
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        """Every data point of metric ``name`` collected now."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in (data.resource_metrics if data is not None else ()):
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def boom(provider: str = "scripted") -> ProviderUnavailable:
    return ProviderUnavailable("upstream 503 (scripted)", provider=provider)


def event_names(span: ReadableSpan) -> list[str]:
    return [e.name for e in span.events]


def drop() -> None:
    """Collect garbage now, so the finalizers of dropped streams run."""
    gc.collect()


def all_values(span: ReadableSpan) -> Iterator[str]:
    """Every attribute and event-attribute value of ``span``, as text."""
    yield span.name
    for value in (span.attributes or {}).values():
        yield str(value)
    for event in span.events:
        yield event.name
        for value in (event.attributes or {}).values():
            yield str(value)
    if span.status.description:
        yield span.status.description
