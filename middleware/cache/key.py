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

from insightforge.serialize import to_dict
from insightforge.types import ChatRequest, EmbedRequest, Route

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
    for name, value in to_dict(request).items():
        if name == "options" and value:
            value = {k: v for k, v in value.items() if k not in EXCLUDED_OPTIONS}
        if value is None or value == [] or value == {} or name == "tags" or (
                name == "stream" and value is False):
            continue
        data[name] = value
    data["kind"] = "embed" if isinstance(request, EmbedRequest) else "chat"
    return data


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
