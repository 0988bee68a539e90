"""One request's telemetry, from the span's start to its end: :class:`State` (per handler:
tracer, metrics, redactor, first route) and :class:`Run` (per call: the span, the clock).

Everything that touches OpenTelemetry or the metrics is guarded here: a failure is logged
once per place and kind, and the request goes on — telemetry never fails a request, never
replaces its answer or its error. The OpenTelemetry names are imported when the first
handler is made, never when this module is imported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from insightforge.kit import Call
from insightforge.secrets import scrub
from insightforge.stack import Handler, Request
from insightforge.types import ChatRequest, ChatResponse, EmbedResponse, Route
from middleware.otel import semconv
from middleware.otel.options import Redact
from middleware.otel.outcome import outcome_of, status_of

if TYPE_CHECKING:
    from middleware.otel.layer import OpenTelemetry

__all__ = ["Run", "State"]

_log = logging.getLogger("insightforge.otel")
_warned: set[tuple[str, str]] = set()


def _failed(where: str, exc: BaseException) -> None:
    """Log a telemetry failure once per place and kind; the request is never affected."""
    key = (where, type(exc).__name__)
    if key in _warned or len(_warned) > 256:
        return
    _warned.add(key)
    _log.warning("OpenTelemetry layer: %s failed, the request goes on without it: %s: %s",
                 where, type(exc).__name__, scrub(str(exc))[:300])


def _guard(where: str, fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:
        _failed(where, exc)


class _Memo:
    """The redactor, remembered for short strings (trace details repeat)."""

    __slots__ = ("_redact", "_seen")

    def __init__(self, redact: Redact) -> None:
        self._redact = redact
        self._seen: dict[str, Any] = {}

    def __call__(self, value: Any) -> Any:
        if type(value) is not str or len(value) > 512:
            return self._redact(value)
        found = self._seen.get(value)
        if found is None:
            if len(self._seen) >= 4096:
                self._seen.clear()
            found = self._seen[value] = self._redact(value)
        return found


def _same(value: Any) -> Any:
    return value


class _Api:
    """The few OpenTelemetry names a call uses, imported once (never at module import)."""

    def __init__(self) -> None:
        from opentelemetry import context, trace

        self.attach, self.detach = context.attach, context.detach
        self.in_context = trace.set_span_in_context
        self.client = trace.SpanKind.CLIENT
        self.error = trace.StatusCode.ERROR
        self.status = trace.Status
        self.trace = trace


class State:
    """One handler's tracer, metrics, redactor and first route (asked once), and the span
    names and start attributes per requested model (a few; kept, so a call that records
    nothing costs a dictionary lookup)."""

    __slots__ = ("_names", "_route", "_routed", "_server", "api", "clean", "inner", "layer",
                 "metrics", "tracer")

    def __init__(self, layer: OpenTelemetry, inner: Handler) -> None:
        from insightforge import __version__

        self.layer, self.inner, self.api = layer, inner, _Api()
        provider = layer.tracer_provider
        self.tracer = self.api.trace.get_tracer("insightforge", __version__,
                                                tracer_provider=provider)
        self.metrics = layer.make_metrics()
        self.clean: Redact = _Memo(layer.redact) if layer.redact is not None else _same
        self._route: Route | None = None
        self._server: semconv.Attributes = {}
        self._routed = False
        self._names: dict[tuple[bool, str | None], tuple[str, semconv.Attributes]] = {}

    def route(self) -> Route | None:
        if not self._routed:
            try:
                routes = self.inner.routes()
            except Exception as exc:
                _failed("routes()", exc)
                routes = ()
            self._route = routes[0] if routes else None
            if self._route is not None:
                self._server = semconv.server_attributes(self._route.base_url)
            self._routed = True
        return self._route

    def _named(self, request: Request) -> tuple[str, semconv.Attributes]:
        key = (isinstance(request, ChatRequest), request.model)
        found = self._names.get(key)
        if found is None:
            if len(self._names) >= 256:
                self._names.clear()
            route = self.route()
            found = self._names[key] = (semconv.span_name(request, route),
                                        semconv.start_attributes(request, route))
        return found

    def start(self, request: Request) -> Run | None:
        """Open the span (``None`` when nothing would be recorded at all)."""
        span = None
        try:
            name, attributes = self._named(request)
            # positional: the cheapest call through the API's proxy when nothing records
            span = self.tracer.start_span(name, None, self.api.client, attributes)
            if not span.is_recording():
                span = None
                if self.metrics is None:
                    return None
            else:
                more = semconv.request_attributes(request, self.layer.tags, self._server)
                if self.layer.capture_content:
                    content = semconv.input_messages(request, self.clean)
                    if content is not None:
                        more[semconv.INPUT_MESSAGES] = content
                span.set_attributes(more)
            start_ns = getattr(span, "start_time", None) or time.time_ns()
            return Run(self, request, span, self._route, start_ns, self.layer.timer())
        except Exception as exc:
            _failed("starting a span", exc)
            if span is not None:
                _guard("ending a span", span.end)
            return None


class Run:
    """One request's span and clock, from start to :meth:`finish`."""

    __slots__ = ("request", "route", "span", "start_ns", "state", "t0")

    def __init__(self, state: State, request: Request, span: Any, route: Route | None,
                 start_ns: int, t0: float) -> None:
        self.state, self.request, self.span, self.route = state, request, span, route
        self.start_ns, self.t0 = start_ns, t0

    def enter(self) -> Any:
        """Make the span current (for the inner call); the token to :meth:`leave` with."""
        if self.span is None:
            return None
        try:
            return self.state.api.attach(self.state.api.in_context(self.span))
        except Exception as exc:
            _failed("attaching the span", exc)
            return None

    def leave(self, token: Any) -> None:
        if token is not None:
            _guard("detaching the span", self.state.api.detach, token)

    def finish(self, call: Call, *, response: ChatResponse | EmbedResponse | None = None,
               error: BaseException | None = None, abandoned: bool = False) -> None:
        """End the span and record the outcome; never raises."""
        state, layer = self.state, self.state.layer
        try:
            end_ns, duration = time.time_ns(), layer.timer() - self.t0
            ttft = None if call.first_chunk_at is None else call.first_chunk_at - self.t0
        except Exception as exc:
            _failed("reading the clock", exc)
            end_ns, duration, ttft = self.start_ns, 0.0, None
        if self.span is not None:
            _guard("ending a span", self._end_span, call, response, error, abandoned,
                   end_ns, ttft)
        if state.metrics is not None:
            _guard("recording metrics", self._record, response, error, abandoned, duration,
                   ttft)

    def _record(self, response: Any, error: BaseException | None, abandoned: bool,
                duration: float, ttft: float | None) -> None:
        metrics: Any = self.state.metrics
        metrics.record(outcome_of(self.request, self.route, response=response, error=error,
                                  abandoned=abandoned, duration_s=duration, ttft_s=ttft,
                                  tags=self.state.layer.tags))

    def _end_span(self, call: Call, response: Any, error: BaseException | None,
                  abandoned: bool, end_ns: int, ttft: float | None) -> None:
        span, state, clean = self.span, self.state, self.state.clean
        try:
            trace: Any = ()
            if response is not None:
                attributes = semconv.response_attributes(response)
                trace = response.trace
                if state.layer.capture_content:
                    content = semconv.output_messages(response, clean)
                    if content is not None:
                        attributes[semconv.OUTPUT_MESSAGES] = content
            elif abandoned:
                attributes = {semconv.OUTCOME: "abandoned"}
            else:
                attributes = semconv.error_attributes(error, status_of(error))  # type: ignore[arg-type]
                trace = getattr(error, "trace", ()) or ()
            if call.streamed or self.request.stream:
                attributes[semconv.CHUNKS] = call.chunks
                if ttft is not None:
                    attributes[semconv.TIME_TO_FIRST_CHUNK] = max(0.0, ttft)
            span.set_attributes(attributes)
            for name, event, at in semconv.span_events(trace, self.start_ns, end_ns, clean):
                span.add_event(name, event, at)
            if error is not None and isinstance(error, Exception):
                name, event, at = semconv.exception_event(error, end_ns, clean)
                span.add_event(name, event, at)
                span.set_status(state.api.status(state.api.error,
                                                 str(clean(str(error)))[:500]))
        finally:
            span.end(end_time=end_ns)
