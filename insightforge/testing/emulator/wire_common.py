"""Shared pieces of the wire modules: results, frames and request-field readers.

What lives here: `WireRequest` (one parsed HTTP request handed to an endpoint), `ApiError` (an
endpoint refusing a request; the server renders it in the vendor's error shape), the two
endpoint results `Body` and `Stream`, the `StreamFaults` frames each streaming wire format
offers for fault injection, JSON/SSE/NDJSON encoders, and defensive readers for request
fields. Pure code: no sockets, no threads, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .prompt_cache import PromptCache

__all__ = [
    "CREATED",
    "CREATED_AT",
    "ApiError",
    "Body",
    "WireRequest",
    "Stream",
    "StreamFaults",
    "dimensions_of",
    "dumps",
    "embed_inputs",
    "json_body",
    "ndjson",
    "opt_int",
    "req_str",
    "sse",
    "stops_of",
    "text_of",
]

CREATED = 1_700_000_000
"""The fixed `created` timestamp of every reply."""
CREATED_AT = "2023-11-14T22:13:20Z"
"""`CREATED` as the ISO 8601 text the vendors that use dates expect."""

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return _ENCODER.encode(value).encode("utf-8")


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event whose data is `data` as JSON (or a str sent verbatim)."""
    payload = data.encode("utf-8") if isinstance(data, str) else dumps(data)
    head = b"event: " + event.encode("ascii") + b"\n" if event else b""
    return head + b"data: " + payload + b"\n\n"


def ndjson(data: Any) -> bytes:
    """One NDJSON line."""
    return dumps(data) + b"\n"


class ApiError(Exception):
    """An endpoint refuses the request; rendered in the vendor's error shape.

    Attributes:
        status: the HTTP status to answer with.
        message: the human-readable message (never contains a credential).
        code: an optional machine code (OpenAI `code`, e.g. "model_not_found").
    """

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass(slots=True)
class WireRequest:
    """One parsed request, as an endpoint sees it.

    Attributes:
        api: which vendor API the route belongs to.
        path: the URL path without the query string.
        query: the query parameters (last value wins).
        headers: the request headers, lower-cased names.
        body: the parsed JSON body, or None.
        params: values captured from the path (e.g. the Azure deployment).
        next_id: gives the next number of the emulator's id counter.
        filtered: True when a `content_filter` fault applies to this call.
        cache: the emulator's prompt cache (shared by every call; a fresh one by default).
    """

    api: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    next_id: Callable[[], int]
    params: dict[str, str] = field(default_factory=dict)
    filtered: bool = False
    cache: PromptCache = field(default_factory=PromptCache)

    def json(self) -> Mapping[str, Any]:
        """The body as a JSON object, or a 400 `ApiError`."""
        if not isinstance(self.body, Mapping):
            raise ApiError(400, "the request body must be a JSON object")
        return self.body


@dataclass(frozen=True, slots=True)
class Body:
    """A complete (non-streamed) response.

    Attributes:
        status: the HTTP status.
        payload: the encoded body.
        content_type: the media type.
        headers: extra response headers.
    """

    status: int
    payload: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_body(value: Any, status: int = 200) -> Body:
    """A JSON `Body`."""
    return Body(status, dumps(value))


@dataclass(frozen=True, slots=True)
class StreamFaults:
    """The frames a streaming wire format uses when a fault is injected.

    Attributes:
        error: (kind, message) -> the frame reporting a mid-stream error.
        malformed: a frame whose data is not valid JSON.
        wrong_shape: a frame with valid JSON but none of the expected fields.
        end: frames that end a stream cleanly after `wrong_shape` (e.g. ``[DONE]``).
    """

    error: Callable[[str, str], bytes]
    malformed: bytes
    wrong_shape: bytes
    end: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Stream:
    """A streamed response, split so faults can cut it at a content chunk.

    Attributes:
        head: frames before the content (role chunk, message_start, ...).
        content: one frame per content chunk (a word or an argument fragment).
        tail: frames after the content (finish, usage, terminator).
        content_type: the media type (SSE or NDJSON).
        faults: the frames this wire format uses for injected faults.
    """

    head: tuple[bytes, ...]
    content: tuple[bytes, ...]
    tail: tuple[bytes, ...]
    content_type: str
    faults: StreamFaults


def text_of(content: Any) -> str:
    """The text of a message content: a str, or a list of text parts/blocks joined by "\\n"."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [_part_text(part) for part in content]
        return "\n".join(text for text in texts if text)
    raise ApiError(400, "message content must be a string or a list of content parts")


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, Mapping):
        text = part.get("text")
        if isinstance(text, str):
            return text
        if part.get("type") == "tool_result":
            return text_of(part.get("content"))
    return ""


def req_str(body: Mapping[str, Any], name: str) -> str:
    """A required string field, or a 400 `ApiError` naming it."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"'{name}' is a required string field")
    return value


def opt_int(body: Mapping[str, Any], name: str) -> int | None:
    """An optional integer field (booleans refused)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"'{name}' must be an integer")
    return value


def stops_of(value: Any) -> tuple[str, ...]:
    """Stop sequences from a str, a list of str, or None."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ApiError(400, "stop sequences must be a string or a list of strings")


def embed_inputs(value: Any, name: str) -> list[str]:
    """Embedding inputs from a str or a non-empty list of str."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return list(value)
    raise ApiError(400, f"'{name}' must be a string or a non-empty list of strings")


def dimensions_of(body: Mapping[str, Any]) -> int:
    """The `dimensions` field (default 8), validated."""
    value = opt_int(body, "dimensions")
    if value is None:
        return 8
    if not 1 <= value <= 4096:
        raise ApiError(400, "'dimensions' must be between 1 and 4096")
    return value
