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
import operator
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from insightforge._json import compiled
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


_encode = compiled(_ENCODER)
KeyFunction = Callable[[ChatRequest | EmbedRequest], str]


def canonical(request: ChatRequest | EmbedRequest) -> dict[str, Any]:
    """The request as plain data, without tags and per-call metadata; fields left at
    "nothing" (``None``, empty, ``stream: false``) are left out, so the form is short."""
    data: dict[str, Any] = {}
    plain = _plain_with_digests(request) if _has_media(request) else to_dict(request)
    for name, value in plain.items():
        if name == "options" and value:
            value = _kept_options(value)
        if value is None or value == [] or value == {} or name == "tags" or (
                name == "stream" and value is False):
            continue
        data[name] = value
    data["kind"] = "embed" if isinstance(request, EmbedRequest) else "chat"
    return data


def _kept_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in EXCLUDED_OPTIONS}


# -- the common request's JSON text, written directly ----------------------------------------
_quote = json.encoder.encode_basestring  # a JSON string as the encoder writes it (UTF-8 kept)
_SCALARS = ("model", "temperature", "top_p", "max_tokens", "tool_choice", "response_format",
            "seed", "parallel_tool_calls")
"""Fields whose canonical value is the field's own value when it is a JSON scalar."""
_scalars = operator.attrgetter(*_SCALARS)


def _text_json(request: ChatRequest) -> str | None:
    """``_encode(canonical(request))`` for the common request, written without the
    converter or the dict: every message plain text (no parts, tool calls or cache mark),
    no tools, every field of :data:`_SCALARS` ``None`` or a JSON scalar, ``stream`` a bool.
    ``None`` for any other request (the general path then makes the text).

    The same text byte for byte (a property test holds the two paths together): the same
    fields left out (``None``, empty ``stop``, ``stream`` false, excluded options), keys
    sorted, scalars written as the encoder writes them, ``options`` by the encoder."""
    if request.tools:
        return None
    messages = _text_messages_json(request.messages)
    if messages is None:
        return None
    members = ['"kind":"chat"', f'"messages":{messages}']
    for name, value in zip(_SCALARS, _scalars(request), strict=True):
        if value is not None:
            text = _scalar_json(value)
            if text is None:
                return None
            members.append(f'"{name}":{text}')
    if request.stream is not False:
        if request.stream is not True:
            return None
        members.append('"stream":true')
    if request.stop:
        members.append(f'"stop":[{",".join(map(_quote, request.stop))}]')
    if request.reasoning is not None:
        effort = _scalar_json(request.reasoning.effort)
        budget = _scalar_json(request.reasoning.budget_tokens)
        if effort is None or budget is None:
            return None
        members.append(f'"reasoning":{{"budget_tokens":{budget},"effort":{effort}}}')
    if request.options:
        options = _kept_options(to_dict(request.options))
        if options:
            members.append(f'"options":{_encode(options)}')
    members.sort()  # no field's name begins another's: members sort as their names do
    return "{" + ",".join(members) + "}"


def _text_messages_json(messages: tuple[Message, ...]) -> str | None:
    """The messages' JSON text if every one is plain text, else ``None``; the keys of each
    in sorted order, as the encoder writes them."""
    out = []
    for m in messages:
        name, call_id = m.name, m.tool_call_id
        if (type(m.content) is not str or m.tool_calls or m.cache is not None
                or type(m.role) is not str or not (name is None or type(name) is str)
                or not (call_id is None or type(call_id) is str)):
            return None
        out.append(f'{{"cache":null,"content":{_quote(m.content)},'
                   f'"name":{"null" if name is None else _quote(name)},"role":{_quote(m.role)},'
                   f'"tool_call_id":{"null" if call_id is None else _quote(call_id)},'
                   '"tool_calls":[]}')
    return "[" + ",".join(out) + "]"


def _scalar_json(value: Any) -> str | None:
    """A JSON scalar's text as the encoder writes it (``None`` is ``null``); ``None`` for
    anything else, including a float that is not finite (the encoder's ``NaN``)."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0:  # finite (inf - inf and nan - nan are nan)
        return float.__repr__(value)
    return None


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


def _body(request: ChatRequest | EmbedRequest) -> str:
    """The canonical request as JSON text (the common request's written directly)."""
    text = _text_json(request) if type(request) is ChatRequest else None
    return _encode(canonical(request)) if text is None else text


def cache_key(request: ChatRequest | EmbedRequest, routes: str,
              custom: KeyFunction | None = None) -> str:
    """``if<version>:<sha256>`` of the canonical request (or ``custom(request)``) and routes."""
    body = _body(request) if custom is None else f"custom\n{custom(request)}"
    return f"if{KEY_VERSION}:{_digest(routes + chr(0) + body)}"
