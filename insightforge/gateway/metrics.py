"""``/metrics``: the OpenTelemetry layer's instruments, plus the two only a server has.

What lives here: :class:`GatewayMetrics` — one prometheus-client registry per gateway
holding

* the LLM-level instruments of :mod:`middleware.otel.instruments` (a
  :class:`~middleware.otel.instruments.PrometheusMetrics` with ``tenant`` as its one tag,
  every label capped at ``gateway.tenant_label_limit`` distinct values): operation
  duration, token usage, tokens by type (cache reads and writes, reasoning), cost, time to
  the first chunk, cache lookups, budget refusals, rate-limit waits, errors by type — the
  very metrics ``OpenTelemetry(metrics="prometheus")`` records in a library stack;
* the HTTP-level ones (``insightforge_gateway_`` prefix): ``requests_total`` (endpoint,
  status) and ``overhead_seconds`` (time the gateway spent outside the stack);

— :func:`outcome` (what one finished exchange tells the LLM instruments; pure) and
:meth:`GatewayMetrics.exposition` (the text a scrape reads). With ``--workers`` every
worker writes its samples under ``PROMETHEUS_MULTIPROC_DIR`` (set by ``insightforge
serve`` before the workers start) and a scrape of any worker reads them all.
What must not live here: HTTP routing, the access log.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from insightforge.gateway.exchange import Exchange
    from middleware.otel.outcome import Outcome

__all__ = ["PREFIX", "TAGS", "GatewayMetrics", "Lazy", "outcome"]

PREFIX = "insightforge_gateway_"
TAGS = ("tenant",)
"""The request tags that are metric labels (``tag_tenant``)."""
_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_OPERATION = {"/v1/embeddings": "embeddings"}


def outcome(exchange: Exchange, seconds: float) -> Outcome | None:
    """What ``exchange`` tells the LLM instruments (``None``: not an API request).

    A request the stack saw is described by :func:`~middleware.otel.outcome.outcome_of`
    (its answer, error, or abandonment — a stream the client left), with the model the
    gateway lists as the request model; one the gateway refused itself (a bad key, body or
    model) as an error of provider ``gateway``.
    """
    from middleware.otel.outcome import Outcome, outcome_of

    if exchange.endpoint == "other":
        return None
    request = exchange.request
    if request is not None:
        response = exchange.response
        route = None
        if response is None:
            routes = exchange.handler.routes() if exchange.handler is not None else ()
            route = routes[0] if routes else None
        made = outcome_of(request, route, response=response, error=exchange.exc,
                          abandoned=response is None and exchange.exc is None,
                          duration_s=seconds, ttft_s=exchange.ttft, tags=TAGS)
        if exchange.model and made.request_model != exchange.model:
            from attrs import evolve

            made = evolve(made, request_model=exchange.model)
        return made
    if exchange.error is None:
        return None
    operation = _OPERATION.get(exchange.endpoint, "chat")
    return Outcome(operation, "gateway", exchange.model or "", status="error",
                   error_type=exchange.error, duration_s=max(0.0, seconds),
                   tags=(("tenant", exchange.tenant),) if exchange.tenant else ())


class GatewayMetrics:
    """The gateway's instruments on its own registry (see the module docstring).

    Attributes:
        registry: the ``CollectorRegistry`` (single-process scrapes read it).
        llm: the shared LLM instruments (``record(outcome)``).
        requests, overhead: the HTTP-level counter and histogram.
    """

    def __init__(self, tenant_label_limit: int = 100, registry: Any = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        from middleware.otel.instruments import prometheus_metrics

        self.registry = registry if registry is not None else CollectorRegistry()
        self.llm = prometheus_metrics(self.registry, tags=TAGS,
                                      max_label_values=tenant_label_limit)
        self.requests = Counter(PREFIX + "requests_total",
                                "HTTP requests answered, by endpoint and status.",
                                ["endpoint", "status"], registry=self.registry)
        self.overhead = Histogram(PREFIX + "overhead_seconds",
                                  "Time the gateway spent outside the stack.", buckets=_FAST,
                                  registry=self.registry)
        self._requests: dict[tuple[str, int], Any] = {}

    def record(self, exchange: Exchange, seconds: float) -> None:
        """Record one finished API request (the edge calls it; never raises)."""
        counted = (exchange.endpoint, exchange.status)
        child = self._requests.get(counted)
        if child is None:  # labels() costs ~7 µs: once per endpoint and status
            child = self._requests[counted] = self.requests.labels(counted[0], str(counted[1]))
        child.inc()
        self.overhead.observe(exchange.overhead() if not exchange.stream
                              else max(0.0, (exchange.ttft or 0) - exchange.stack_seconds))
        made = outcome(exchange, seconds)
        if made is not None:
            self.llm.record(made)

    def exposition(self) -> tuple[bytes, str]:
        """The scrape body and its content type (every worker's samples in multiprocess
        mode)."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class Lazy:
    """A :class:`GatewayMetrics` made on first use (prometheus-client loads then)."""

    def __init__(self, tenant_label_limit: int) -> None:
        self.limit = tenant_label_limit
        self._made: GatewayMetrics | None = None
        self._lock = threading.Lock()

    def get(self) -> GatewayMetrics:
        made = self._made
        if made is None:
            with self._lock:
                made = self._made
                if made is None:
                    made = self._made = GatewayMetrics(self.limit)
        return made
