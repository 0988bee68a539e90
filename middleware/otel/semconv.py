"""Requests, responses, errors and trace events as OpenTelemetry GenAI attributes. Pure.

What lives here: the attribute names (the GenAI semantic conventions as the
``opentelemetry-semantic-conventions`` package spells them — ``gen_ai.provider.name``, not
the older ``gen_ai.system``; ``tests/middleware/test_otel_semconv.py`` checks every name
against the installed package) and the functions that turn our values into attribute
dictionaries, span events and the opt-in message content. What must not: spans, meters,
clocks or any import of ``opentelemetry`` — the layer (:mod:`.layer`) does the I/O, and
every decision it makes about *what* to record is a function here, tested with hypothesis.

Attribute values are what OpenTelemetry accepts: ``str``, ``bool``, ``int``, ``float`` or a
homogeneous sequence of them; ``None`` never appears (an absent fact is an absent key).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from insightforge.types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Message,
    Route,
    TraceEvent,
    Usage,
)

__all__ = ["Attributes", "CONTENT", "Clean", "OPERATION", "PROVIDER", "REQUEST_MODEL",
           "RESPONSE_MODEL", "SpanEvent", "error_attributes", "error_type", "exception_event",
           "input_messages",
           "operation", "output_messages", "provider_name", "request_attributes",
           "response_attributes", "server_attributes", "span_events", "span_name",
           "start_attributes", "tag_attributes", "usage_attributes"]

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]
Attributes = dict[str, AttributeValue]
SpanEvent = tuple[str, Attributes, int]  # name, attributes, timestamp (ns since the epoch)
Clean = Callable[[Any], Any]  # the redactor (identity when content is not redacted)

# -- the names (GenAI semantic conventions) ----------------------------------------------
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_STOP = "gen_ai.request.stop_sequences"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_STREAM = "gen_ai.request.stream"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
EMBEDDING_DIMENSIONS = "gen_ai.embeddings.dimension.count"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
# -- ours (the ``insightforge.`` namespace) ----------------------------------------------
COST = "insightforge.cost_usd"
CACHED = "insightforge.cached"
OUTCOME = "insightforge.outcome"
ESTIMATED = "insightforge.usage.estimated"
CACHE_WRITE_1H_TOKENS = "insightforge.usage.cache_write_1h_tokens"
CHUNKS = "insightforge.stream.chunks"
TAG = "insightforge.tag."
CONTENT = (INPUT_MESSAGES, OUTPUT_MESSAGES)

_PROVIDERS = {"azure": "azure.ai.openai"}  # ours -> the convention's well-known value


def operation(request: ChatRequest | EmbedRequest) -> str:
    """``chat`` or ``embeddings`` (the convention's well-known values)."""
    return "embeddings" if isinstance(request, EmbedRequest) else "chat"


def provider_name(name: str) -> str:
    """Our provider name as the convention spells it (``azure`` -> ``azure.ai.openai``);
    names it has no value for (``ollama``, ``huggingface``) pass through, as it allows."""
    return _PROVIDERS.get(name, name)


def _model(request: ChatRequest | EmbedRequest, route: Route | None) -> str:
    return request.model or (route.model if route is not None else "") or ""


def span_name(request: ChatRequest | EmbedRequest, route: Route | None) -> str:
    """``{operation} {request model}``, or the operation alone when no model is known."""
    model = _model(request, route)
    return f"{operation(request)} {model}" if model else operation(request)


def start_attributes(request: ChatRequest | EmbedRequest, route: Route | None) -> Attributes:
    """What a sampler may want when the span starts: operation, provider, request model."""
    out: Attributes = {OPERATION: operation(request)}
    if route is not None:
        out[PROVIDER] = provider_name(route.provider)
    model = _model(request, route)
    if model:
        out[REQUEST_MODEL] = model
    return out


def request_attributes(request: ChatRequest | EmbedRequest, tags: Sequence[str],
                       server: Attributes | None = None) -> Attributes:
    """The request's settings, where it is sent (``server``: see :func:`server_attributes`)
    and the allowed tags — what :func:`start_attributes` does not already say."""
    out: Attributes = {}
    if isinstance(request, ChatRequest):
        if request.max_tokens is not None:
            out[REQUEST_MAX_TOKENS] = request.max_tokens
        if request.temperature is not None:
            out[REQUEST_TEMPERATURE] = float(request.temperature)
        if request.top_p is not None:
            out[REQUEST_TOP_P] = float(request.top_p)
        if request.stop:
            out[REQUEST_STOP] = [str(s) for s in request.stop]
        if request.seed is not None:
            out[REQUEST_SEED] = request.seed
        out[REQUEST_STREAM] = bool(request.stream)
    elif request.dimensions is not None:
        out[EMBEDDING_DIMENSIONS] = request.dimensions
    if server:
        out.update(server)
    if tags and request.tags:
        out.update(tag_attributes(request.tags, tags))
    return out


def tag_attributes(given: Mapping[str, str], allowed: Sequence[str]) -> Attributes:
    """``insightforge.tag.<name>`` for each allowed tag the request carries; others never."""
    return {TAG + name: str(given[name]) for name in allowed if name in given}


def server_attributes(base_url: str) -> Attributes:
    """``server.address`` and ``server.port`` of an endpoint — the host alone: never a
    user, password, path or query (credentials in a URL stay out of telemetry)."""
    if "://" not in base_url:
        return {}
    try:
        parts = urllib.parse.urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return {}
    if not host:
        return {}
    out: Attributes = {SERVER_ADDRESS: host}
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if port is not None or default is not None:
        out[SERVER_PORT] = port if port is not None else default  # type: ignore[assignment]
    return out


def usage_attributes(usage: Usage) -> Attributes:
    """Token counts; the parts (cache reads and writes, reasoning) only when there were some."""
    out: Attributes = {INPUT_TOKENS: usage.input_tokens, OUTPUT_TOKENS: usage.output_tokens}
    if usage.cache_read_tokens:
        out[CACHE_READ_TOKENS] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        out[CACHE_CREATION_TOKENS] = usage.cache_write_tokens
    if usage.cache_write_1h_tokens:
        out[CACHE_WRITE_1H_TOKENS] = usage.cache_write_1h_tokens
    if usage.reasoning_tokens:
        out[REASONING_TOKENS] = usage.reasoning_tokens
    if usage.estimated:
        out[ESTIMATED] = True
    return out


def response_attributes(response: ChatResponse | EmbedResponse) -> Attributes:
    """Who answered (the answering provider and model, after any fallback), usage, cost."""
    out: Attributes = {PROVIDER: provider_name(response.provider), OUTCOME: "ok",
                       CACHED: bool(response.cached)}
    if response.model:
        out[RESPONSE_MODEL] = response.model
    out.update(usage_attributes(response.usage))
    if response.cost_usd is not None:
        out[COST] = float(response.cost_usd)
    if isinstance(response, ChatResponse):
        if response.id:
            out[RESPONSE_ID] = response.id
        if response.finish_reason:
            out[FINISH_REASONS] = [response.finish_reason]
    elif response.vectors:
        out[EMBEDDING_DIMENSIONS] = len(response.vectors[0])
    return out


def error_type(error: BaseException) -> str:
    """The error's class name — low cardinality, and the audit log's ``error_type``."""
    return type(error).__name__


def error_attributes(error: BaseException, outcome: str) -> Attributes:
    """``error.type`` and our outcome (``error``, ``refused`` — a local layer said no)."""
    out: Attributes = {ERROR_TYPE: error_type(error), OUTCOME: outcome}
    provider = getattr(error, "provider", None)
    if isinstance(provider, str) and provider:
        out[PROVIDER] = provider_name(provider)
    return out


def _value(value: Any, clean: Clean) -> AttributeValue | None:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if value is None:
        return None
    return str(clean(str(value)))


def span_events(trace: Iterable[TraceEvent], start_ns: int, end_ns: int,
                clean: Clean) -> list[SpanEvent]:
    """The layers' trace events as span events: ``insightforge.<layer>.<event>``, the
    event's data as attributes (strings through ``clean``), its ``detail`` as
    ``insightforge.detail``, at ``TraceEvent.at`` held inside the span's own time."""
    out: list[SpanEvent] = []
    for event in trace:
        attributes: Attributes = {}
        for key, raw in event.data.items():
            value = _value(raw, clean)
            if value is not None:
                attributes[str(key)] = value
        if event.detail:
            attributes["insightforge.detail"] = str(clean(event.detail))
        at = int(event.at * 1e9)
        out.append((f"insightforge.{event.layer}.{event.event}", attributes,
                    min(max(at, start_ns), end_ns)))
    return out


def exception_event(error: BaseException, at_ns: int, clean: Clean) -> SpanEvent:
    """The convention's ``exception`` event, without a stack trace, message redacted."""
    message = str(error) or type(error).__name__
    return ("exception", {"exception.type": error_type(error),
                          "exception.message": str(clean(message))}, at_ns)


# -- content (opt-in: capture_content=True) ----------------------------------------------
def _parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    content: Any = message.content
    if message.role == "tool":
        parts.append({"type": "tool_call_response", "id": message.tool_call_id,
                      "response": content if isinstance(content, str) else str(content)})
        return parts
    if isinstance(content, str):
        if content:
            parts.append({"type": "text", "content": content})
    else:  # content parts (text, image, audio, file): text kept, the rest named only
        for part in content or ():
            text = getattr(part, "text", None)
            parts.append({"type": "text", "content": text} if isinstance(text, str)
                         else {"type": type(part).__name__.lower()})
    for call in message.tool_calls:
        try:
            arguments: Any = json.loads(call.arguments)
        except ValueError:
            arguments = call.arguments
        parts.append({"type": "tool_call", "id": call.id, "name": call.name,
                      "arguments": arguments})
    return parts


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "parts": _parts(message)}
    if message.name:
        out["name"] = message.name
    return out


def input_messages(request: ChatRequest | EmbedRequest, clean: Clean) -> str | None:
    """``gen_ai.input.messages``: the conversation as the convention's JSON, redacted."""
    if not isinstance(request, ChatRequest):
        return None
    return json.dumps(clean([_message(m) for m in request.messages]), ensure_ascii=False)


def output_messages(response: ChatResponse | EmbedResponse, clean: Clean) -> str | None:
    """``gen_ai.output.messages``: the answer as the convention's JSON, redacted."""
    if not isinstance(response, ChatResponse):
        return None
    message = _message(response.message)
    if response.finish_reason:
        message["finish_reason"] = response.finish_reason
    return json.dumps(clean([message]), ensure_ascii=False)
