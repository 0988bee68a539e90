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
KeyFunction = Callable[[ChatRequest | EmbedRequest], str]


def canonical(request: ChatRequest | EmbedRequest) -> dict[str, Any]:
    """The request as plain data, without tags and per-call metadata; fields left at
    "nothing" (``None``, empty, ``stream: false``) are left out, so the form is short."""
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
    if custom is not None:
        body = f"custom\n{custom(request)}"
    else:
        body = _ENCODER.encode(canonical(request))
    return f"if{KEY_VERSION}:{_digest(routes + chr(0) + body)}"
