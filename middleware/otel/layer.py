"""``OpenTelemetry``: one span per request, GenAI semantic conventions, and the metrics.

Per call: open a ``CLIENT`` span in the current context (a span the caller opened is its
parent), make it current while the inner handler is called (the HTTP client's spans nest
under it), then — when the answer arrives, the call fails, or a stream ends, fails or is
abandoned — set what :mod:`.semconv` says about the outcome, add the layers' trace events
as span events, end the span, and hand an :class:`~.outcome.Outcome` to the metrics.

The flow is a kit flow (:func:`OpenTelemetry.flow`), run by the kit's drivers, so streams
need nothing special: the driver resumes it exactly once, at the stream's end, failure or
abandonment (``Abandoned`` is thrown in). The handler is not the kit's ``FlowHandler``
because the span must be current *only* for the inner call — the handler attaches it
around the driver and detaches it as the driver returns, before a stream is read.

Telemetry never fails a request: every OpenTelemetry or metrics call is guarded; a failure
is logged (once per kind) and the request goes on. Without an SDK (the API's no-op tracer)
and without metrics the handler calls the inner handler directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs

from insightforge.kit import Abandoned, Call, Flow, adrive, drive
from insightforge.redact import Redactor
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
from middleware.otel.instruments import Metrics, otel_metrics, prometheus_metrics
from middleware.otel.options import (
    Redact,
    as_metrics,
    as_redactor,
    check_bool,
    check_cap,
    has,
    need,
)
from middleware.otel.outcome import check_tags
from middleware.otel.run import Run, State

__all__ = ["OpenTelemetry", "OpenTelemetryHandler"]


@attrs.frozen(repr=False)
class OpenTelemetry:
    """Trace and measure every request: ``stack(OpenTelemetry(), AuditLog(...), ...)``.

    Put it first (outermost), so its span covers cache hits, refusals, every retry and
    fallback, and its duration is what the caller waited.

    Attributes:
        tags: request tags recorded as ``insightforge.tag.<name>`` attributes and metric
            labels — an allow-list (tags not named here are never recorded).
        capture_content: also record the messages and the answer
            (``gen_ai.input.messages``/``gen_ai.output.messages``), through ``redact``.
        metrics: ``None`` (spans only), ``"otel"`` (the OpenTelemetry metrics API),
            ``"prometheus"`` (prometheus-client), or a :class:`~.instruments.Metrics`.
        max_label_values: distinct values each metric label keeps; the rest are ``other``.
        redact: a :class:`Redactor` (default), a function, or ``False``; applied to
            content, trace details and error messages.
        tracer_provider, meter_provider: where spans and metrics go (the globally
            configured providers when ``None``); registry: the prometheus-client registry
            for ``metrics="prometheus"`` (the default registry when ``None``).
        timer: monotonic seconds for durations and the time to a stream's first chunk
            (span and event times are the SDK's wall clock).
    """

    tags: tuple[str, ...] = attrs.field(default=(), converter=check_tags)
    capture_content: bool = attrs.field(default=False, validator=check_bool)
    metrics: Any = attrs.field(default=None, converter=as_metrics)
    max_label_values: int = attrs.field(default=100, validator=check_cap)
    redact: Redact | None = attrs.field(default=Redactor(), converter=as_redactor)
    tracer_provider: Any = attrs.field(
        default=None, kw_only=True, eq=False, metadata={"config": False},
        validator=has("get_tracer", "an OpenTelemetry TracerProvider"))
    meter_provider: Any = attrs.field(
        default=None, kw_only=True, eq=False, metadata={"config": False},
        validator=has("get_meter", "an OpenTelemetry MeterProvider"))
    registry: Any = attrs.field(
        default=None, kw_only=True, eq=False, metadata={"config": False},
        validator=has("register", "a prometheus_client CollectorRegistry"))
    timer: Callable[[], float] = attrs.field(default=time.perf_counter, kw_only=True,
                                             eq=False)

    def __attrs_post_init__(self) -> None:
        need("opentelemetry.trace", "otel", "$")

    def __repr__(self) -> str:
        shown = [f"metrics={self.metrics!r}" if isinstance(self.metrics, str | None)
                 else f"metrics={type(self.metrics).__name__}"]
        if self.tags:
            shown.append(f"tags={self.tags!r}")
        if self.capture_content:
            shown.append("capture_content=True")
        return f"OpenTelemetry({', '.join(shown)})"

    def __call__(self, inner: Handler) -> OpenTelemetryHandler:
        return OpenTelemetryHandler(self, inner)

    def close(self) -> None:
        """Nothing to release: the providers belong to the application."""

    def make_metrics(self) -> Metrics | None:
        """The instruments ``metrics`` names (shared per provider or registry)."""
        if self.metrics == "otel":
            return otel_metrics(self.meter_provider, tags=self.tags,
                                max_label_values=self.max_label_values)
        if self.metrics == "prometheus":
            return prometheus_metrics(self.registry, tags=self.tags,
                                      max_label_values=self.max_label_values)
        return self.metrics  # type: ignore[no-any-return]

    def flow(self, request: Request, run: Run) -> Flow:
        """Call; end the span and record the outcome however the call ends."""
        call = Call(request, timer=self.timer) if request.stream else Call(request)
        try:
            response = yield call
        except Abandoned:
            run.finish(call, abandoned=True)
            raise
        except BaseException as error:
            run.finish(call, error=error)
            raise
        run.finish(call, response=response)
        return response


class OpenTelemetryHandler(Middleware):
    """Opens the span, makes it current for the inner call, and runs the flow."""

    __slots__ = ("state",)
    layer: OpenTelemetry

    def __init__(self, layer: OpenTelemetry, inner: Handler) -> None:
        super().__init__(layer, inner)
        self.state = State(layer, inner)

    def __call__(self, request: Request, /) -> Response:
        run = self.state.start(request)
        if run is None:
            return self.inner(request)
        token = run.enter()
        try:
            return drive(self.layer.flow(request, run), self.inner, request)  # type: ignore[no-any-return]
        finally:
            run.leave(token)

    async def acall(self, request: Request, /) -> AsyncResponse:
        run = self.state.start(request)
        if run is None:
            return await self.inner.acall(request)
        token = run.enter()
        try:
            return await adrive(self.layer.flow(request, run), self.inner, request)  # type: ignore[no-any-return]
        finally:
            run.leave(token)
