"""Small pure helpers the httpx providers' wire modules share.

What lives here: typed field access on decoded JSON that raises
:class:`~insightforge.errors.MalformedResponse` (never ``KeyError``/``TypeError``), tool
argument conversion between our JSON text and vendors' JSON objects, the reading of
``ChatRequest.response_format`` (:func:`json_schema`, :func:`output_format`), the parsed
JSON answer (:func:`with_parsed`) and the usage estimate for servers that report none
(:func:`estimate_usage`). What must not: I/O, any one vendor's shapes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from insightforge.errors import InvalidRequest, MalformedResponse
from insightforge.types import ChatRequest, ChatResponse, Usage

__all__ = ["OutputFormat", "arguments_object", "arguments_text", "estimate_usage", "get",
           "json_schema", "optional_int", "output_format", "vector", "with_parsed"]

T = TypeVar("T")
_MISSING: Any = object()


def get(provider: str, data: Any, key: str, kind: type[T] | tuple[type, ...],
        default: Any = _MISSING, *, where: str = "response") -> T:
    """``data[key]`` checked to be ``kind``; a missing or mistyped field is malformed.

    ``default`` is returned when the key is absent or ``null``.
    """
    if not isinstance(data, Mapping):
        raise MalformedResponse(f"{provider}: {where} is not a JSON object "
                                f"({type(data).__name__}).", provider=provider)
    value = data.get(key)
    if value is None and default is not _MISSING:
        return default  # type: ignore[no-any-return]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        raise MalformedResponse(f"{provider}: {where} field {key!r} is missing or not "
                                f"{_kind_name(kind)}.", provider=provider)
    return value  # type: ignore[return-value]


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def optional_int(data: Mapping[str, Any], key: str) -> int:
    """A non-negative integer count, 0 when absent or not a number (usage is best-effort)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
            or (isinstance(value, float) and not math.isfinite(value)):
        return 0
    return int(value)


def vector(provider: str, value: Any) -> tuple[float, ...]:
    """One embedding: a non-empty list of finite numbers (not booleans, not strings)."""
    if isinstance(value, list) and value:
        try:
            out = tuple(float(x) for x in value
                        if isinstance(x, (int, float)) and not isinstance(x, bool))
        except OverflowError:
            out = ()
        if len(out) == len(value) and all(math.isfinite(x) for x in out):
            return out
    raise MalformedResponse(f"{provider}: an embedding must be a non-empty list of finite "
                            "numbers.", provider=provider)


def arguments_object(provider: str, text: str, tool: str) -> dict[str, Any]:
    """A tool call's JSON-text arguments as the object vendors want on the wire."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        raise InvalidRequest(f"{provider}: the arguments of tool call {tool!r} are not valid "
                             "JSON; pass ToolCall.arguments as a JSON object text.") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{provider}: the arguments of tool call {tool!r} must be a JSON "
                             f"object, got {type(value).__name__}.")
    return value


def arguments_text(provider: str, value: Any) -> str:
    """A vendor's tool-call arguments (an object, or already text) as JSON text."""
    if isinstance(value, str):
        return value or "{}"
    if value is None:
        return "{}"
    if not isinstance(value, dict):
        raise MalformedResponse(f"{provider}: tool call arguments are not an object.",
                                provider=provider)
    return json.dumps(value)


def json_schema(response_format: str | Mapping[str, Any] | None) -> tuple[bool, Any]:
    """``(json_mode, schema_or_None)`` from ``ChatRequest.response_format``.

    Accepts ``"json"``/``"json_object"``, OpenAI's ``{"type": "json_object"}`` and
    ``{"type": "json_schema", "json_schema": {"schema": ...}}``, or a bare JSON Schema.
    """
    if response_format is None or response_format == "text":
        return False, None
    if isinstance(response_format, str):
        if response_format in ("json", "json_object"):
            return True, None
        raise InvalidRequest(f"response_format must be 'json', 'text' or a JSON Schema "
                             f"mapping, got {response_format!r}")
    kind = response_format.get("type")
    if kind == "text":
        return False, None
    if kind == "json_object":
        return True, None
    if kind == "json_schema":
        inner = response_format.get("json_schema")
        schema = inner.get("schema") if isinstance(inner, Mapping) else None
        return True, dict(schema) if isinstance(schema, Mapping) else None
    return True, dict(response_format)


_NAME = re.compile(r"[^a-zA-Z0-9_-]+")


@attrs.frozen
class OutputFormat:
    """What ``response_format`` asks for, vendor-neutral.

    Attributes:
        schema: the JSON Schema the answer must follow, or ``None`` for plain JSON mode.
        name: the schema's name (its ``title``, or OpenAI's ``json_schema.name``; a safe
            identifier, ``response`` by default) — Anthropic's answer tool is named so.
        strict: ask for strict schema adherence where the vendor has the switch.
    """

    schema: dict[str, Any] | None
    name: str = "response"
    strict: bool = True


def output_format(response_format: str | Mapping[str, Any] | None) -> OutputFormat | None:
    """The :class:`OutputFormat` of ``response_format`` (``None``: free text)."""
    json_mode, schema = json_schema(response_format)
    if not json_mode:
        return None
    if schema is None:
        return OutputFormat(None)
    assert isinstance(response_format, Mapping)
    inner = response_format.get("json_schema")
    if response_format.get("type") == "json_schema" and isinstance(inner, Mapping):
        name, strict = inner.get("name"), inner.get("strict", True)
    else:
        name, strict = schema.get("title"), True
    clean = _NAME.sub("_", str(name or "response"))[:64].strip("_") or "response"
    return OutputFormat(schema, clean, strict is not False)


def with_parsed(provider: str, request: ChatRequest, response: ChatResponse) -> ChatResponse:
    """``response`` with ``parsed`` set when ``request`` asked for JSON.

    A tool-call answer or a filtered one has nothing to parse; text that is not JSON is
    :class:`MalformedResponse` (not retryable when the answer was cut at ``max_tokens``).
    """
    if (response.parsed is not None or output_format(request.response_format) is None
            or response.finish_reason == "content_filter"
            or (response.tool_calls and not response.text)):
        return response
    try:
        value = json.loads(response.text)
    except ValueError as exc:
        cut = response.finish_reason == "length"
        fix = ("the answer was cut at max_tokens; raise max_tokens" if cut
               else "retry the request, or check that the model supports structured output")
        raise MalformedResponse(f"{provider}: the model's answer is not valid JSON although "
                                f"the request asked for JSON ({exc}); {fix}.",
                                provider=provider, retryable=not cut) from None
    return attrs.evolve(response, parsed=value)


def estimate_usage(request: ChatRequest, text: str) -> Usage:
    """Whitespace words as tokens (+3 per message, OpenAI's framing), for servers that
    report no usage — marked ``estimated``."""
    words_in = sum(len(m.text.split()) + 3 for m in request.messages)
    return Usage(words_in, len(text.split()), estimated=True)
