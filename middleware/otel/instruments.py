"""The metrics of finished requests, one set of instruments for two backends.

``metrics.record(outcome)`` is the whole API: build an :class:`~.outcome.Outcome` (the
layer does, with :func:`~.outcome.outcome_of`; so can the gateway) and hand it to a
:class:`Metrics` — :class:`OtelMetrics` (the OpenTelemetry metrics API: whatever
``MeterProvider`` the application configured, a no-op without one) or
:class:`PrometheusMetrics` (prometheus-client, on a ``CollectorRegistry`` a ``/metrics``
endpoint serves). Both read one table of instruments (:data:`INSTRUMENTS`) and one pure
function, :func:`measurements`, so they cannot disagree about what is counted.

The instruments: the GenAI client metrics ``gen_ai.client.operation.duration``,
``gen_ai.client.token.usage`` and ``gen_ai.client.operation.time_to_first_chunk`` (with the
convention's bucket boundaries), and ours — tokens by type (cache reads and writes and
reasoning too), cost, cache lookups, budget refusals, rate-limit waits, errors by type.
Every label value passes a cardinality cap (:class:`~.outcome.LabelCap`).

One ``PrometheusMetrics`` per registry: :func:`prometheus_metrics` returns the one already
registered there (prometheus-client refuses a second metric of the same name).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from insightforge.errors import ConfigError
from middleware.otel.outcome import LabelCap, Outcome, check_tags
from middleware.otel.semconv import (
    ERROR_TYPE,
    OPERATION,
    OUTCOME,
    PROVIDER,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    TAG,
)

__all__ = ["CACHE_RESULT", "INSTRUMENTS", "TOKEN_TYPE", "Instrument", "Measurement",
           "Metrics", "OtelMetrics", "PrometheusMetrics", "measurements", "otel_metrics",
           "prometheus_label", "prometheus_metrics"]

TOKEN_TYPE = "gen_ai.token.type"
CACHE_RESULT = "insightforge.cache.result"
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
                     20.48, 40.96, 81.92)
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                  16777216, 67108864)
_BASE = (OPERATION, PROVIDER, REQUEST_MODEL)
_FIXED = frozenset({OPERATION, TOKEN_TYPE, OUTCOME, CACHE_RESULT})  # small vocabularies


@attrs.frozen(slots=True)
class Instrument:
    """One metric: its OpenTelemetry name and unit, its Prometheus name, its labels."""

    key: str
    kind: str  # "histogram" | "counter"
    name: str
    unit: str
    prometheus: str  # without the ``_total`` prometheus-client adds to counters
    description: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("duration", "histogram", "gen_ai.client.operation.duration", "s",
               "gen_ai_client_operation_duration_seconds", "GenAI operation duration.",
               (*_BASE, RESPONSE_MODEL, ERROR_TYPE, OUTCOME), _DURATION_BUCKETS),
    Instrument("token_usage", "histogram", "gen_ai.client.token.usage", "{token}",
               "gen_ai_client_token_usage", "Number of input and output tokens used.",
               (*_BASE, RESPONSE_MODEL, TOKEN_TYPE), _TOKEN_BUCKETS),
    Instrument("ttft", "histogram", "gen_ai.client.operation.time_to_first_chunk", "s",
               "gen_ai_client_operation_time_to_first_chunk_seconds",
               "Time to receive the first chunk of a streamed answer.",
               (*_BASE, RESPONSE_MODEL), _DURATION_BUCKETS),
    Instrument("tokens", "counter", "insightforge.client.tokens", "{token}",
               "insightforge_client_tokens", "Tokens by type: input, output, and the parts "
               "cache_read, cache_write, reasoning.", (*_BASE, RESPONSE_MODEL, TOKEN_TYPE)),
    Instrument("cost", "counter", "insightforge.client.cost", "USD",
               "insightforge_client_cost_usd", "Cost of the answers, in US dollars.",
               (*_BASE, RESPONSE_MODEL)),
    Instrument("cache", "counter", "insightforge.client.cache.lookups", "{lookup}",
               "insightforge_client_cache_lookups", "Cache lookups by result (hit, miss).",
               (*_BASE, CACHE_RESULT)),
    Instrument("budget_refusals", "counter", "insightforge.client.budget.refusals",
               "{request}", "insightforge_client_budget_refusals",
               "Requests a budget refused before any network call.", _BASE),
    Instrument("ratelimit_wait", "histogram", "insightforge.client.ratelimit.wait", "s",
               "insightforge_client_ratelimit_wait_seconds",
               "Time a local rate limit made a request wait.", _BASE, _DURATION_BUCKETS),
    Instrument("errors", "counter", "insightforge.client.errors", "{error}",
               "insightforge_client_errors", "Failed and refused requests by error type.",
               (*_BASE, ERROR_TYPE, OUTCOME)),
)
_BY_KEY = {i.key: i for i in INSTRUMENTS}
_HISTOGRAMS = frozenset(i.key for i in INSTRUMENTS if i.kind == "histogram")

Measurement = tuple[str, float, dict[str, str]]  # instrument key, value, labels


def measurements(outcome: Outcome, cap: LabelCap | None = None) -> list[Measurement]:
    """What one outcome adds to each instrument: ``(key, value, labels)``, labels capped
    (tags as ``insightforge.tag.<name>``). Cached answers count no tokens: none were used."""
    o = outcome

    def keep(label: str, value: str) -> str:
        return value if cap is None or label in _FIXED else cap(label, value)

    base = {OPERATION: o.operation, PROVIDER: keep(PROVIDER, o.provider),
            REQUEST_MODEL: keep(REQUEST_MODEL, o.request_model)}
    base.update((TAG + name, keep(TAG + name, value)) for name, value in o.tags)
    answered = {**base, RESPONSE_MODEL: keep(RESPONSE_MODEL, o.response_model)}
    error = keep(ERROR_TYPE, o.error_type)
    out: list[Measurement] = [
        ("duration", o.duration_s, {**answered, ERROR_TYPE: error, OUTCOME: o.status})]
    if o.usage is not None and not o.cached:
        u = o.usage
        for kind, count in (("input", u.input_tokens), ("output", u.output_tokens)):
            out.append(("token_usage", count, {**answered, TOKEN_TYPE: kind}))
        for kind, count in (("input", u.input_tokens), ("output", u.output_tokens),
                            ("cache_read", u.cache_read_tokens),
                            ("cache_write", u.cache_write_tokens),
                            ("reasoning", u.reasoning_tokens)):
            if count:
                out.append(("tokens", count, {**answered, TOKEN_TYPE: kind}))
    if o.cost_usd is not None and o.cost_usd > 0:
        out.append(("cost", float(o.cost_usd), answered))
    if o.ttft_s is not None:
        out.append(("ttft", max(0.0, o.ttft_s), answered))
    if o.cache:
        out.append(("cache", 1, {**base, CACHE_RESULT: o.cache}))
    if o.budget_refused:
        out.append(("budget_refusals", 1, base))
    if o.rate_limit_wait_s > 0:
        out.append(("ratelimit_wait", o.rate_limit_wait_s, base))
    if o.status in ("error", "refused"):
        out.append(("errors", 1, {**base, ERROR_TYPE: error, OUTCOME: o.status}))
    return out


@runtime_checkable
class Metrics(Protocol):
    """Where outcomes go: ``record(outcome)``, which never raises for a good outcome."""

    def record(self, outcome: Outcome) -> None: ...


def _check_cap(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"max_label_values must be a whole number >= 1 (e.g. 100), got "
                          f"{value!r}", path="max_label_values")
    return value


class OtelMetrics:
    """The instruments on an OpenTelemetry ``MeterProvider`` (the global one by default).

    Attributes:
        tags: the request tags recorded as attributes (``insightforge.tag.<name>``).
        cap: the cardinality cap (``max_label_values`` distinct values per label).
    """

    def __init__(self, meter_provider: Any = None, *, tags: Sequence[str] = (),
                 max_label_values: int = 100) -> None:
        from opentelemetry import metrics

        from insightforge import __version__

        self.tags = check_tags(tags)
        self.cap = LabelCap(_check_cap(max_label_values))
        provider = meter_provider if meter_provider is not None else \
            metrics.get_meter_provider()
        meter = provider.get_meter("insightforge", __version__)
        self._instruments: dict[str, Any] = {}
        for spec in INSTRUMENTS:
            if spec.kind == "histogram":
                self._instruments[spec.key] = meter.create_histogram(
                    spec.name, unit=spec.unit, description=spec.description,
                    explicit_bucket_boundaries_advisory=list(spec.buckets))
            else:
                self._instruments[spec.key] = meter.create_counter(
                    spec.name, unit=spec.unit, description=spec.description)

    def record(self, outcome: Outcome) -> None:
        for key, value, labels in measurements(outcome, self.cap):
            attributes = {k: v for k, v in labels.items() if v}
            instrument = self._instruments[key]
            if _BY_KEY[key].kind == "histogram":
                instrument.record(value, attributes)
            else:
                instrument.add(value, attributes)


def prometheus_label(key: str) -> str:
    """A label key as a Prometheus label name: ``gen_ai.provider.name`` ->
    ``gen_ai_provider_name``; ``insightforge.tag.tenant`` -> ``tag_tenant``."""
    if key.startswith(TAG):
        return "tag_" + key[len(TAG):]
    return key.replace(".", "_")


class PrometheusMetrics:
    """The instruments as prometheus-client metrics on ``registry`` (the default registry
    when ``None``). Use :func:`prometheus_metrics` to share one per registry."""

    def __init__(self, registry: Any = None, *, tags: Sequence[str] = (),
                 max_label_values: int = 100) -> None:
        import prometheus_client

        self.tags = check_tags(tags)
        self.cap = LabelCap(_check_cap(max_label_values))
        self.registry = registry if registry is not None else prometheus_client.REGISTRY
        self._metrics: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}
        self._children: dict[tuple[str, ...], Any] = {}  # (key, *label values) -> child;
        # as bounded as the series themselves (every label value passes the cap)
        tag_keys = tuple(TAG + name for name in self.tags)
        for spec in INSTRUMENTS:
            keys = (*spec.labels, *tag_keys)
            names = tuple(prometheus_label(k) for k in keys)
            try:
                if spec.kind == "histogram":
                    metric: Any = prometheus_client.Histogram(
                        spec.prometheus, spec.description, names, registry=self.registry,
                        buckets=(*spec.buckets, float("inf")))
                else:
                    metric = prometheus_client.Counter(spec.prometheus, spec.description,
                                                       names, registry=self.registry)
            except ValueError as exc:  # the registry has a metric of that name already
                for made, _, _ in self._metrics.values():
                    self.registry.unregister(made)
                raise ConfigError(f"this registry already has a metric named "
                                  f"{spec.prometheus!r} ({exc}); share InsightForge's with "
                                  f"prometheus_metrics(registry), or give this stack its own "
                                  f"CollectorRegistry", path="registry") from None
            self._metrics[spec.key] = (metric, keys, names)

    def record(self, outcome: Outcome) -> None:
        children = self._children
        for key, value, labels in measurements(outcome, self.cap):
            values = (key, *[labels.get(k, "") for k in self._metrics[key][1]])
            child = children.get(values)
            if child is None:  # prometheus-client's labels() costs ~7 µs: once per series
                child = children[values] = self._metrics[key][0].labels(*values[1:])
            if key in _HISTOGRAMS:
                child.observe(value)
            else:
                child.inc(value)


_shared: weakref.WeakKeyDictionary[Any, PrometheusMetrics] = weakref.WeakKeyDictionary()
_shared_otel: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], OtelMetrics]] = \
    weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def otel_metrics(meter_provider: Any = None, *, tags: Sequence[str] = (),
                 max_label_values: int = 100) -> OtelMetrics:
    """The :class:`OtelMetrics` of ``meter_provider`` (the global one when ``None``) for
    these options, made on first use and shared after (a meter refuses — with a warning —
    to create the same instrument twice)."""
    from opentelemetry import metrics

    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    key = (check_tags(tags), max_label_values)
    with _shared_lock:
        made = _shared_otel.setdefault(provider, {})
        found = made.get(key)
        if found is None:
            found = made[key] = OtelMetrics(provider, tags=key[0],
                                            max_label_values=max_label_values)
    return found


def prometheus_metrics(registry: Any = None, *, tags: Sequence[str] = (),
                       max_label_values: int = 100) -> PrometheusMetrics:
    """The :class:`PrometheusMetrics` of ``registry``, made on first use and shared after
    (the layer and the gateway's ``/metrics`` then count into the same metrics). Asking
    again with other ``tags`` is a ``ConfigError``: Prometheus label names are fixed."""
    import prometheus_client

    registry = registry if registry is not None else prometheus_client.REGISTRY
    with _shared_lock:
        found = _shared.get(registry)
        if found is None:
            found = _shared[registry] = PrometheusMetrics(
                registry, tags=tags, max_label_values=max_label_values)
        elif found.tags != check_tags(tags):
            raise ConfigError(f"this Prometheus registry already has InsightForge's metrics "
                              f"with tags {list(found.tags)}; ask with the same tags, or "
                              f"give this stack its own CollectorRegistry", path="tags")
    return found
