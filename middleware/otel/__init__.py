"""``OpenTelemetry``: traces and metrics with the OpenTelemetry GenAI semantic conventions.

>>> from middleware import OpenTelemetry
>>> llm = stack(OpenTelemetry(tags=("tenant",), metrics="prometheus"), AuditLog(...), ...)

The parts: :mod:`.layer` (the configuration, its handler and its flow), :mod:`.semconv`
(pure: requests, responses, errors and trace events as attributes and span events),
:mod:`.outcome` (pure: what a finished request tells the metrics; the cardinality cap),
:mod:`.instruments` (the metrics, for the OpenTelemetry metrics API and prometheus-client)
and :mod:`.context` (the caller's trace context from HTTP headers). Nothing here imports
``opentelemetry`` until a layer is built; only ``opentelemetry-api`` is needed at run
time (``pip install 'insightforge[otel]'``). See docs/observability.md.
"""

from middleware.otel.context import extract_context, inject_context, remote_parent
from middleware.otel.instruments import (
    Metrics,
    OtelMetrics,
    PrometheusMetrics,
    otel_metrics,
    prometheus_metrics,
)
from middleware.otel.layer import OpenTelemetry, OpenTelemetryHandler
from middleware.otel.outcome import Outcome, outcome_of

__all__ = ["Metrics", "OpenTelemetry", "OpenTelemetryHandler", "OtelMetrics", "Outcome",
           "PrometheusMetrics", "extract_context", "inject_context", "otel_metrics",
           "outcome_of", "prometheus_metrics", "remote_parent"]
