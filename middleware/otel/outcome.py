"""What one finished request tells the metrics: :class:`Outcome`, built by :func:`outcome_of`
from the request, its answer or error, and the layers' trace events. Pure.

Also the cardinality cap (:func:`capped`, :class:`LabelCap`): each label keeps at most
``limit`` distinct values, the first ones seen; every later value is counted as ``other``,
so a flood of model names or tenants cannot grow a metrics backend without bound.

What must not live here: instruments, meters, registries (:mod:`.instruments`), spans
(:mod:`.layer`). The gateway builds an :class:`Outcome` the same way for its own requests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from insightforge.errors import BudgetExceeded, ConfigError, RateLimited
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Route,
    TraceEvent,
    Usage,
)
from middleware.otel.semconv import error_type, operation, provider_name

__all__ = ["OTHER", "LabelCap", "Outcome", "capped", "check_tags", "outcome_of", "status_of"]

OTHER = "other"
_TAG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_tags(value: Any) -> tuple[str, ...]:
    """The tag allow-list: names a metric label can carry (``tenant``, ``feature``)."""
    items: Iterable[Any] = (value,) if isinstance(value, str) else (value or ())
    if not isinstance(items, Iterable) or isinstance(items, Mapping | bytes):
        raise ConfigError(f"tags must be a list of tag names, e.g. tags=('tenant', "
                          f"'feature'), got {type(value).__name__}", path="tags")
    out: list[str] = []
    for name in items:
        if not isinstance(name, str) or not _TAG_NAME.match(name):
            shown = repr(name) if isinstance(name, str) and len(name) <= 40 else "a value"
            raise ConfigError(f"tag names are letters, digits and _ (not starting with a "
                              f"digit), e.g. 'tenant'; got {shown}", path="tags")
        if name not in out:
            out.append(name)
    return tuple(out)


@attrs.frozen(slots=True)
class Outcome:
    """One finished request, as the metrics see it.

    Attributes:
        operation: ``chat`` or ``embeddings``.
        provider: the answering provider (the first route's when nothing answered), as
            the convention spells it (``azure.ai.openai``).
        request_model: the model asked for (the request's, or the first route's default).
        response_model: the model that answered (``""`` when nothing did).
        status: ``ok``, ``error``, ``refused`` (a local budget or rate limit said no) or
            ``abandoned`` (a stream closed before its end).
        error_type: the error's class name (``""`` when none).
        duration_s: seconds from the call to its answer — for a stream, to its end.
        ttft_s: seconds to a stream's first chunk (``None`` for plain answers).
        usage: the tokens of an answer (``None`` without one).
        cost_usd: its cost (``None`` when unknown or without an answer).
        cached: the answer came from a cache.
        cache: ``hit``, ``miss`` or ``""`` (no cache layer said either).
        rate_limit_wait_s: seconds a local rate limit made this request wait.
        tags: the allowed tags the request carried, ``(name, value)`` pairs.
    """

    operation: str
    provider: str
    request_model: str
    response_model: str = ""
    status: str = "ok"
    error_type: str = ""
    duration_s: float = 0.0
    ttft_s: float | None = None
    usage: Usage | None = None
    cost_usd: Decimal | None = None
    cached: bool = False
    cache: str = ""
    rate_limit_wait_s: float = 0.0
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def budget_refused(self) -> bool:
        return self.error_type == BudgetExceeded.__name__


def status_of(error: BaseException | None, abandoned: bool = False) -> str:
    """``ok``, ``refused``, ``abandoned`` or ``error`` — the audit log's classes."""
    if abandoned:
        return "abandoned"
    if error is None:
        return "ok"
    if isinstance(error, BudgetExceeded | RateLimited):
        return "refused"
    if not isinstance(error, Exception):  # KeyboardInterrupt, CancelledError, GeneratorExit
        return "abandoned"
    return "error"


def _cache(trace: Sequence[TraceEvent], cached: bool) -> str:
    if cached:
        return "hit"
    for event in trace:
        if event.layer == "cache" and event.event in ("hit", "miss"):
            return event.event
    return ""


def _waited(trace: Sequence[TraceEvent]) -> float:
    total = 0.0
    for event in trace:
        if event.layer == "ratelimit" and event.event == "waited":
            value = event.data.get("waited")
            if isinstance(value, int | float) and value > 0:
                total += float(value)
    return total


def outcome_of(request: ChatRequest | EmbedRequest, route: Route | None, *,
               response: ChatResponse | EmbedResponse | None = None,
               error: BaseException | None = None, abandoned: bool = False,
               duration_s: float = 0.0, ttft_s: float | None = None,
               tags: Sequence[str] = ()) -> Outcome:
    """The :class:`Outcome` of one request (see the class for each field)."""
    model = request.model or (route.model if route is not None else "") or ""
    provider = route.provider if route is not None else ""
    if response is not None:
        trace = response.trace
        provider = response.provider
    else:
        trace = tuple(getattr(error, "trace", ()) or ())
        said = getattr(error, "provider", None)
        if isinstance(said, str) and said:
            provider = said
    allowed = _tags(request.tags, tags)
    cached = bool(response is not None and response.cached)
    return Outcome(
        operation=operation(request), provider=provider_name(provider), request_model=model,
        response_model=response.model if response is not None else "",
        status=status_of(error, abandoned),
        error_type=error_type(error) if error is not None and not abandoned else "",
        duration_s=max(0.0, duration_s), ttft_s=ttft_s,
        usage=response.usage if response is not None else None,
        cost_usd=response.cost_usd if response is not None else None,
        cached=cached, cache=_cache(trace, cached), rate_limit_wait_s=_waited(trace),
        tags=allowed)


def _tags(given: Mapping[str, str], allowed: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, str(given[name])) for name in allowed if name in given)


# -- the cardinality cap -----------------------------------------------------------------
def capped(seen: frozenset[str], value: str, limit: int) -> tuple[str, frozenset[str]]:
    """``value`` if it is one of the first ``limit`` distinct values seen, else ``other``;
    and the values seen after this one. Pure."""
    if value in seen:
        return value, seen
    if len(seen) >= limit:
        return OTHER, seen
    return value, seen | {value}


class LabelCap:
    """:func:`capped` for every label, shared by the threads and tasks of a process."""

    __slots__ = ("_lock", "_seen", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def __call__(self, label: str, value: str) -> str:
        seen = self._seen.get(label)
        if seen is not None and value in seen:  # the common case, without the lock
            return value
        with self._lock:
            out, self._seen[label] = capped(self._seen.get(label, frozenset()), value,
                                            self.limit)
        return out

    def seen(self, label: str) -> frozenset[str]:
        """The values ``label`` keeps (the rest are ``other``)."""
        return self._seen.get(label, frozenset())
