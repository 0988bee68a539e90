"""``/metrics``: the gateway's Prometheus instruments (prometheus-client).

What lives here: :class:`Metrics` (the instruments, made once per process), the tenant
label cap (:class:`Labels`: the first ``limit`` tenants by name, the rest ``other``) and
:func:`exposition` (the text a scrape reads). With ``--workers`` every worker writes its
samples under ``PROMETHEUS_MULTIPROC_DIR`` (set by ``insightforge serve`` before the workers
start) and a scrape of any worker reads them all.

Instruments (``insightforge_gateway_`` prefix): ``requests_total`` (endpoint, model,
tenant, status), ``request_duration_seconds`` and ``time_to_first_token_seconds``
(endpoint, model), ``overhead_seconds``, ``tokens_total`` (model, tenant, type),
``cost_usd_total`` (model, tenant), ``errors_total`` (type), ``cache_hits_total`` (model,
tenant), ``budget_refusals_total`` (tenant). ``model`` is the listed name, so clients cannot
add labels. What must not live here: HTTP routing, the access log.
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from typing import Any

__all__ = ["Labels", "Metrics", "exposition", "metrics"]

PREFIX = "insightforge_gateway_"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class Labels:
    """Caps the distinct tenant label values (per process): the rest become ``other``."""

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def tenant(self, value: str | None) -> str:
        if not value:
            return "none"
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
        return "other"


class Metrics:
    """The instruments (one set per process; see the module docstring)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.requests = Counter(PREFIX + "requests_total", "Requests answered.",
                                ["endpoint", "model", "tenant", "status"])
        self.duration = Histogram(PREFIX + "request_duration_seconds",
                                  "Time from request to the last byte.", ["endpoint", "model"],
                                  buckets=_BUCKETS)
        self.ttft = Histogram(PREFIX + "time_to_first_token_seconds",
                              "Streams: time from request to the first chunk.",
                              ["endpoint", "model"], buckets=_BUCKETS)
        self.overhead = Histogram(PREFIX + "overhead_seconds",
                                  "Time the gateway spent outside the stack.", buckets=_FAST)
        self.tokens = Counter(PREFIX + "tokens_total", "Tokens used (type: input, output).",
                              ["model", "tenant", "type"])
        self.cost = Counter(PREFIX + "cost_usd_total", "Cost in US dollars.",
                            ["model", "tenant"])
        self.errors = Counter(PREFIX + "errors_total", "Failed requests by error type.",
                              ["type"])
        self.cache_hits = Counter(PREFIX + "cache_hits_total", "Answers served from a cache.",
                                  ["model", "tenant"])
        self.budget_refusals = Counter(PREFIX + "budget_refusals_total",
                                       "Requests a budget refused.", ["tenant"])

    def observe(self, *, endpoint: str, model: str, tenant: str, status: int, seconds: float,
                usage: Any = None, cost: Decimal | None = None, cached: bool = False,
                ttft: float | None = None, error: str | None = None) -> None:
        """Record one finished request (``tenant`` already capped)."""
        self.requests.labels(endpoint, model, tenant, str(status)).inc()
        self.duration.labels(endpoint, model).observe(seconds)
        if ttft is not None:
            self.ttft.labels(endpoint, model).observe(ttft)
        if usage is not None:
            if usage.input_tokens:
                self.tokens.labels(model, tenant, "input").inc(usage.input_tokens)
            if usage.output_tokens:
                self.tokens.labels(model, tenant, "output").inc(usage.output_tokens)
        if cost:
            self.cost.labels(model, tenant).inc(float(cost))
        if cached:
            self.cache_hits.labels(model, tenant).inc()
        if error is not None:
            self.errors.labels(error).inc()
            if error == "BudgetExceeded":
                self.budget_refusals.labels(tenant).inc()


_made: Metrics | None = None
_lock = threading.Lock()


def metrics() -> Metrics:
    """This process's instruments, made on first use."""
    global _made
    if _made is None:
        with _lock:
            if _made is None:
                _made = Metrics()
    return _made


def exposition() -> tuple[bytes, str]:
    """The scrape body and its content type (every worker's samples in multiprocess mode)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    metrics()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
