"""The cache key, pure: a version prefix and the SHA-256 of the canonical request.

The canonical form is the request as plain data (the one converter,
:func:`insightforge.serialize.to_dict`) without ``tags`` and without per-call metadata
options (:data:`EXCLUDED_OPTIONS`), dumped as JSON with sorted keys, plus the routes the
inner handler may reach (provider, model and endpoint) — so two stacks sharing one Redis
never answer for each other. Bump :data:`KEY_VERSION` whenever the canonical form or the
entry format changes: old entries then simply stop matching.

What must not live here: I/O, clocks, the store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from insightforge.serialize import to_dict
from insightforge.types import (
    ChatRequest,
    EmbedRequest,
    Message,
    Part,
    Route,
    TextPart,
    ThinkingPart,
)
from insightforge.types.parts import part_dict

__all__ = ["EXCLUDED_OPTIONS", "KEY_VERSION", "cache_key", "canonical", "route_fingerprint"]

KEY_VERSION = "1"
EXCLUDED_OPTIONS = frozenset({
    "metadata", "user", "request_id", "idempotency_key", "timeout", "extra_headers",
    "headers", "api_key", "store",
})
"""Options that describe the call, not the answer: never part of a key."""

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            default=str)


def _json_text() -> Callable[[Any], str]:
    """``_ENCODER.encode`` without its per-call set-up: the same C encoder it makes for
    each call, made once (no circular-reference markers: a request's data never nests
    into itself — requests are checked to be JSON when made). Without the C
    accelerator, ``_ENCODER.encode`` itself."""
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    try:
        chunks = make(None, _ENCODER.default, json.encoder.encode_basestring, None,
                      _ENCODER.key_separator, _ENCODER.item_separator, True, False, True)
    except TypeError:  # no accelerator (``make`` is None), or another signature
        return _ENCODER.encode
    return lambda data: "".join(chunks(data, 0))


_encode = _json_text()
KeyFunction = Callable[[ChatRequest | EmbedRequest], str]


def canonical(request: ChatRequest | EmbedRequest) -> dict[str, Any]:
    """The request as plain data, without tags and per-call metadata; fields left at
    "nothing" (``None``, empty, ``stream: false``) are left out, so the form is short."""
    if type(request) is ChatRequest:
        quick = _text_chat(request)
        if quick is not None:
            return quick
    return _converted(request)


def _converted(request: ChatRequest | EmbedRequest) -> dict[str, Any]:
    """:func:`canonical` by the converter: any request, every field and part."""
    data: dict[str, Any] = {}
    plain = _plain_with_digests(request) if _has_media(request) else to_dict(request)
    for name, value in plain.items():
        if name == "options" and value:
            value = {k: v for k, v in value.items() if k not in EXCLUDED_OPTIONS}
        if value is None or value == [] or value == {} or name == "tags" or (
                name == "stream" and value is False):
            continue
        data[name] = value
    data["kind"] = "embed" if isinstance(request, EmbedRequest) else "chat"
    return data


_SCALARS = ("model", "temperature", "top_p", "max_tokens", "tool_choice", "response_format",
            "seed", "parallel_tool_calls")
"""The fields the converter passes through as they are when they hold a JSON scalar."""
_JSON_SCALARS = (str, int, float, bool)


def _text_chat(request: ChatRequest) -> dict[str, Any] | None:
    """:func:`canonical` of the common request, built without the converter: every message
    plain text (no parts, tool calls or cache mark), no tools, every field in
    :data:`_SCALARS` ``None`` or a JSON scalar. ``None`` for any other request (the
    converter then makes the form).

    Equal to :func:`_converted`, and so is its JSON (a property test holds them together):
    the same values the converter would give, left out under the same rule; ``options``
    still go through the converter."""
    messages = _text_messages(request.messages)
    if messages is None or request.tools:
        return None
    data: dict[str, Any] = {"messages": messages}
    for name in _SCALARS:
        value = getattr(request, name)
        if value is None:
            continue
        if type(value) not in _JSON_SCALARS:
            return None
        data[name] = value
    if request.stop:
        data["stop"] = list(request.stop)
    if request.reasoning is not None:
        data["reasoning"] = {"effort": request.reasoning.effort,
                             "budget_tokens": request.reasoning.budget_tokens}
    if request.stream:
        data["stream"] = True
    if request.options:
        options = {k: v for k, v in to_dict(request.options).items()
                   if k not in EXCLUDED_OPTIONS}
        if options:
            data["options"] = options
    data["kind"] = "chat"
    return data


def _text_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]] | None:
    """The converter's form of messages that are plain text, or ``None`` if one is not."""
    out: list[dict[str, Any]] = []
    for m in messages:
        name, call_id = m.name, m.tool_call_id
        if (type(m.content) is not str or m.tool_calls or m.cache is not None
                or (name is not None and type(name) is not str)
                or (call_id is not None and type(call_id) is not str)):
            return None
        out.append({"role": m.role, "content": m.content, "name": name, "tool_calls": [],
                    "tool_call_id": call_id, "cache": None})
    return out


def _has_media(request: ChatRequest | EmbedRequest) -> bool:
    return isinstance(request, ChatRequest) and any(
        not isinstance(m.content, str) for m in request.messages)


def _plain_with_digests(request: ChatRequest | EmbedRequest) -> dict[str, Any]:
    """``to_dict(request)`` with each byte-carrying part's base64 ``data`` replaced by
    its ``sha256``: the key hashes the bytes once instead of encoding them first."""
    assert isinstance(request, ChatRequest)
    plain: dict[str, Any] = to_dict(attrs.evolve(request, messages=(Message("user"),)))
    plain["messages"] = [_message_plain(m) for m in request.messages]
    return plain


def _message_plain(message: Message) -> dict[str, Any]:
    if isinstance(message.content, str):
        whole: dict[str, Any] = to_dict(message)
        return whole
    plain: dict[str, Any] = to_dict(attrs.evolve(message, content=""))
    plain["content"] = [_part_plain(p) for p in message.content]
    return plain


def _part_plain(part: Part) -> dict[str, Any]:
    if isinstance(part, (TextPart, ThinkingPart)):
        return part_dict(part)
    out: dict[str, Any] = {"type": part.kind, "sha256": part.digest}
    out.update((k, v) for k, v in attrs.asdict(part, recurse=False).items()
               if k != "data" and v is not None)
    return out


def route_fingerprint(routes: Iterable[Route]) -> str:
    """The routes as one stable string (order-independent)."""
    return "\n".join(sorted(route.key for route in routes))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(request: ChatRequest | EmbedRequest, routes: str,
              custom: KeyFunction | None = None) -> str:
    """``if<version>:<sha256>`` of the canonical request (or ``custom(request)``) and routes."""
    body = _encode(canonical(request)) if custom is None else f"custom\n{custom(request)}"
    return f"if{KEY_VERSION}:{_digest(routes + chr(0) + body)}"
