"""The OpenAI wire format, server side: our responses and errors out as OpenAI JSON.

What lives here: pure functions that render a :class:`~insightforge.ChatResponse`, a
:class:`~insightforge.Chunk` (one SSE ``chat.completion.chunk``), the final usage chunk, an
:class:`~insightforge.EmbedResponse` (``float`` or ``base64`` vectors) and the model list;
and :func:`error_reply`, which maps an exception to an HTTP status, headers and an OpenAI
error body. Every error message goes through :func:`insightforge.secrets.scrub`.

What must not live here: sockets, the stack, request parsing (:mod:`.wire`).

Status rules: our refusals keep their meaning for the client (``BudgetExceeded`` -> 429
``insufficient_quota`` with ``x-should-retry: false``, ``RateLimited`` -> 429 with
``Retry-After``, ``InvalidRequest`` -> 400); upstream trouble is a gateway problem
(``AuthenticationError`` -> 502, never the client's 401; unavailable/malformed -> 502,
``AllProvidersFailed`` -> 503, ``Timeout`` -> 504); configuration -> 500.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Iterable
from typing import Any

import attrs

from insightforge.errors import (
    AllProvidersFailed,
    AuthenticationError,
    BudgetExceeded,
    ConfigError,
    ContentFiltered,
    ContextLengthExceeded,
    CredentialError,
    InsightForgeError,
    InvalidRequest,
    ProviderError,
    RateLimited,
    RateLimitError,
    StreamInterrupted,
    Timeout,
    Unsupported,
)
from insightforge.secrets import scrub
from insightforge.types import ChatResponse, Chunk, EmbedResponse, Route, ToolCall, Usage

__all__ = [
    "ErrorReply",
    "chat_json",
    "chunk_json",
    "embed_json",
    "error_reply",
    "models_json",
    "usage_chunk_json",
    "usage_json",
]


def usage_json(usage: Usage) -> dict[str, Any]:
    """OpenAI's usage object, with the cached and reasoning parts in their ``*_details``."""
    return {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
            "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens}}


def _calls_json(calls: Iterable[ToolCall]) -> list[dict[str, Any]]:
    return [{"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}} for c in calls]


def _extension(response: ChatResponse | EmbedResponse) -> dict[str, Any]:
    """What the stack adds beyond OpenAI's fields (clients ignore unknown keys)."""
    cost = None if response.cost_usd is None else str(response.cost_usd)
    return {"provider": response.provider, "cost_usd": cost, "cached": response.cached}


def chat_json(response: ChatResponse, *, id: str, created: int) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": response.text}
    if response.reasoning:  # the reasoning text, as vLLM, DeepSeek and LiteLLM name it
        message["reasoning_content"] = response.reasoning
    if response.tool_calls:
        message["tool_calls"] = _calls_json(response.tool_calls)
        message["content"] = response.text or None
    return {"id": response.id or id, "object": "chat.completion", "created": created,
            "model": response.model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": response.finish_reason or "stop"}],
            "usage": usage_json(response.usage), "insightforge": _extension(response)}


def _chunk(id: str, model: str, created: int, choices: list[Any]) -> dict[str, Any]:
    return {"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": choices}


def chunk_json(chunk: Chunk, *, id: str, model: str, created: int,
               first: bool = False) -> dict[str, Any] | None:
    """One ``chat.completion.chunk`` (``None`` for a chunk with nothing to say).

    ``first`` adds ``role: assistant`` to the delta, as OpenAI does.
    """
    delta: dict[str, Any] = {"role": "assistant"} if first else {}
    if chunk.text or first:
        delta["content"] = chunk.text
    if chunk.reasoning:
        delta["reasoning_content"] = chunk.reasoning
    if chunk.tool_calls:
        delta["tool_calls"] = [
            {"index": d.index, **({"id": d.id, "type": "function"} if d.id else {}),
             "function": {**({"name": d.name} if d.name else {}), "arguments": d.arguments}}
            for d in chunk.tool_calls]
    if not delta and chunk.finish_reason is None:
        return None
    return _chunk(id, model, created, [{"index": 0, "delta": delta, "logprobs": None,
                                        "finish_reason": chunk.finish_reason}])


def usage_chunk_json(usage: Usage, *, id: str, model: str, created: int) -> dict[str, Any]:
    """The last chunk when ``stream_options.include_usage``: no choices, the usage."""
    return {**_chunk(id, model, created, []), "usage": usage_json(usage)}


def _b64(vector: tuple[float, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def embed_json(response: EmbedResponse, *, encoding: str = "float") -> dict[str, Any]:
    """A ``list`` of ``embedding`` objects; ``base64`` packs little-endian float32."""
    data = [{"object": "embedding", "index": i,
             "embedding": _b64(v) if encoding == "base64" else list(v)}
            for i, v in enumerate(response.vectors)]
    return {"object": "list", "data": data, "model": response.model,
            "usage": {"prompt_tokens": response.usage.input_tokens,
                      "total_tokens": response.usage.input_tokens},
            "insightforge": _extension(response)}


def models_json(routes: Iterable[Route], *, default: str) -> dict[str, Any]:
    """``GET /v1/models``: ``default`` (the stack's own choice) and each route's model."""
    data = [{"id": default, "object": "model", "created": 0, "owned_by": "insightforge"}]
    seen = {default}
    for route in routes:
        if route.model not in seen:
            seen.add(route.model)
            data.append({"id": route.model, "object": "model", "created": 0,
                         "owned_by": route.provider})
    return {"object": "list", "data": data}


# -- errors -----------------------------------------------------------------------------


@attrs.frozen
class ErrorReply:
    """An HTTP error answer.

    Attributes:
        status: the HTTP status. body: the OpenAI error object (``{"error": {...}}``).
        headers: extra headers (``Retry-After``, ``x-should-retry``).
    """

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


def _error(status: int, message: str, kind: str, code: str | None = None,
           headers: tuple[tuple[str, str], ...] = ()) -> ErrorReply:
    body = {"error": {"message": scrub(message), "type": kind, "param": None, "code": code}}
    return ErrorReply(status, body, headers)


def _retry_after(seconds: float | None) -> tuple[tuple[str, str], ...]:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ()
    return (("Retry-After", str(max(1, math.ceil(seconds)))),)


# (type, status, OpenAI error type, code), most specific first
_TABLE: tuple[tuple[type[BaseException], int, str, str | None], ...] = (
    (AuthenticationError, 502, "upstream_error", "upstream_authentication_failed"),
    (RateLimitError, 429, "rate_limit_error", "rate_limit_exceeded"),
    (Timeout, 504, "upstream_error", "upstream_timeout"),
    (ContextLengthExceeded, 400, "invalid_request_error", "context_length_exceeded"),
    (ContentFiltered, 400, "invalid_request_error", "content_filter"),
    (Unsupported, 400, "invalid_request_error", "unsupported"),
    (StreamInterrupted, 502, "upstream_error", "stream_interrupted"),
    (ProviderError, 502, "upstream_error", "upstream_unavailable"),
    (AllProvidersFailed, 503, "upstream_error", "all_providers_failed"),
    (InvalidRequest, 400, "invalid_request_error", None),
    (ConfigError, 500, "server_error", "gateway_misconfigured"),
    (CredentialError, 500, "server_error", "gateway_misconfigured"),
)


def error_reply(exc: BaseException) -> ErrorReply:
    """The HTTP status, headers and OpenAI error body for ``exc`` (message scrubbed)."""
    if isinstance(exc, BudgetExceeded):
        return _error(429, exc.message, "insufficient_quota", "insufficient_quota",
                      (("x-should-retry", "false"),))
    if isinstance(exc, RateLimited):
        return _error(429, exc.message, "rate_limit_error", "rate_limit_exceeded",
                      _retry_after(exc.wait if exc.wait is not None else 1.0))
    for kind, status, name, code in _TABLE:
        if isinstance(exc, kind):
            message = str(exc)
            if isinstance(exc, AuthenticationError):
                message = (f"The gateway's upstream provider {exc.provider} refused the "
                           "gateway's credential; the operator must fix the provider key. "
                           f"({exc.message})")
            headers = _retry_after(exc.retry_after) if isinstance(exc, ProviderError) else ()
            return _error(status, message, name, code, headers)
    if isinstance(exc, InsightForgeError):
        return _error(500, str(exc), "server_error")
    return _error(500, f"Internal gateway error ({type(exc).__name__}); see the gateway's "
                  "log.", "server_error")
