"""Small pure helpers the httpx providers' wire modules share.

What lives here: typed field access on decoded JSON that raises
:class:`~insightforge.errors.MalformedResponse` (never ``KeyError``/``TypeError``), tool
argument conversion between our JSON text and vendors' JSON objects, and the reading of
``ChatRequest.response_format``. What must not: I/O, any one vendor's shapes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from insightforge.errors import InvalidRequest, MalformedResponse

__all__ = ["arguments_object", "arguments_text", "get", "json_schema", "optional_int", "vector"]

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
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
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
