"""The OpenAI wire format, both ways — shared by OpenAI, Azure, compatible servers and TGI.

What lives here: the answer side — the JSON an OpenAI-shaped server answers (a dict, a
stream chunk dict, an embeddings dict) as our :class:`ChatResponse` / :class:`Chunk` /
:class:`EmbedResponse` (usage with its cached and reasoning parts; ``reasoning_content``
from servers that return reasoning text) — plus :func:`map_error`, which turns an openai
SDK exception into our error hierarchy. The request side (bodies of ``/chat/completions``
and ``/embeddings``) is :mod:`providers._openai_request`, re-exported here.

What must not live here: clients, sockets, credentials, clocks. Every parser raises
:class:`~insightforge.errors.MalformedResponse` for anything it cannot read — never a
``KeyError``/``TypeError``/``AttributeError`` — so a misbehaving server is a typed,
retryable failure. Parsing works on plain dicts (``client.post(..., cast_to=object)``), not
on the SDK's pydantic models: it is faster (see ``bench/openai_mapping.py``) and the shape
checks are ours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from insightforge.errors import (
    ContentFiltered,
    InsightForgeError,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimitError,
)
from insightforge.secrets import scrub
from insightforge.types import (
    ChatResponse,
    Chunk,
    EmbedResponse,
    ThinkingDelta,
    ThinkingPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from insightforge.types.messages import assistant_message
from providers._errors import error_from_status, error_from_transport, filtered
from providers._failures import mid_stream, unexpected
from providers._openai_request import chat_body, embed_body, message_json, uses_completion_tokens
from providers._wire import estimate_usage, vector

__all__ = [
    "chat_body",
    "embed_body",
    "estimate_usage",
    "map_error",
    "map_stream_error",
    "message_json",
    "parse_chat",
    "parse_chunk",
    "parse_embeddings",
    "uses_completion_tokens",
]

_BAD_SHAPE = (KeyError, IndexError, TypeError, AttributeError, ValueError)
# Other servers' words for OpenAI's finish reasons (TGI < 2.2; the legacy function_call).
_FINISH = {"eos_token": "stop", "stop_sequence": "stop", "function_call": "tool_calls"}


# -- responses --------------------------------------------------------------------------


def malformed(provider: str, what: str, exc: BaseException | None = None) -> MalformedResponse:
    """The error for an answer we cannot read."""
    why = f" ({type(exc).__name__}: {scrub(str(exc))[:120]})" if exc is not None else ""
    return MalformedResponse(f"{provider} sent {what} we could not read{why}; "
                             "the server may be misbehaving, retry or check base_url.",
                             provider=provider)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _finish(value: Any) -> str | None:
    reason = _opt_str(value)
    return None if reason is None else _FINISH.get(reason, reason)


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:  # bool is not a token count
        raise TypeError(f"expected a token count, got {value!r}")
    return value


def _detail(data: Any, group: str, key: str) -> int:
    details = data.get(group)
    return 0 if details is None else _count(details.get(key) or 0)


def _usage(data: Any) -> Usage | None:
    """Usage with its parts: ``prompt_tokens_details.cached_tokens`` (cache reads) and
    ``completion_tokens_details.reasoning_tokens``; counts that do not nest are malformed."""
    if data is None:
        return None
    return Usage(_count(data["prompt_tokens"]), _count(data.get("completion_tokens") or 0),
                 cache_read_tokens=_detail(data, "prompt_tokens_details", "cached_tokens"),
                 reasoning_tokens=_detail(data, "completion_tokens_details",
                                          "reasoning_tokens"))


def _reasoning_text(message: Any) -> str:
    """Reasoning text some servers return (vLLM, DeepSeek: ``reasoning_content``; others:
    ``reasoning``); OpenAI itself returns none on Chat Completions."""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if value is not None:
            return _str(value)
    return ""


def _arguments(value: Any) -> str:
    """JSON text; some servers send the arguments as an object instead of text."""
    if value is None or isinstance(value, str):
        return value or "{}"
    if not isinstance(value, dict):
        raise TypeError(f"tool call arguments must be JSON text, got {type(value).__name__}")
    return json.dumps(value)


def _tool_calls(calls: Any) -> tuple[ToolCall, ...]:
    if not calls:
        return ()
    return tuple(ToolCall(_str(c["id"]), _str(c["function"]["name"]),
                          _arguments(c["function"].get("arguments")))
                 for c in calls)


def parse_chat(data: Any, *, provider: str, model: str) -> ChatResponse:
    """A ``chat.completion`` dict as a :class:`ChatResponse` (``cost_usd`` left unset)."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
        content = _opt_str(message.get("content")) or ""
        calls = _tool_calls(message.get("tool_calls"))
        reasoning = _reasoning_text(message)
        usage = _usage(data.get("usage")) or Usage()
        thinking = [ThinkingPart(reasoning)] if reasoning else []
        return ChatResponse(assistant_message(content, thinking, calls),
                            _opt_str(data.get("model")) or model, provider, usage,
                            _finish(choice.get("finish_reason")), _opt_str(data.get("id")) or "")
    except _BAD_SHAPE as exc:
        raise malformed(provider, "a chat completion", exc) from None


def _tool_deltas(deltas: Any) -> tuple[ToolCallDelta, ...]:
    if not deltas:
        return ()
    out = []
    for d in deltas:
        fn = d.get("function") or {}
        out.append(ToolCallDelta(_count(d["index"]), _opt_str(d.get("id")),
                                 _opt_str(fn.get("name")), _opt_str(fn.get("arguments")) or ""))
    return tuple(out)


def parse_chunk(data: Any, *, provider: str) -> Chunk | None:
    """A ``chat.completion.chunk`` dict as a :class:`Chunk`; ``None`` when it carries nothing.

    A chunk must have a ``choices`` list (empty on the usage chunk); the first choice's
    ``delta`` gives text and tool-call fragments; ``usage`` may come on any chunk (OpenAI
    sends it on a last chunk with no choices, TGI on the finish chunk).
    """
    try:
        choices = data["choices"]
        if not isinstance(choices, list):
            raise TypeError("choices must be a list")
        usage = _usage(data.get("usage"))
        if not choices:
            return None if usage is None else Chunk(usage=usage)
        choice = choices[0]
        delta = choice.get("delta") or {}
        text = _opt_str(delta.get("content")) or ""
        tools = _tool_deltas(delta.get("tool_calls"))
        reasoning = _reasoning_text(delta)
        finish = _finish(choice.get("finish_reason"))
    except _BAD_SHAPE as exc:
        raise malformed(provider, "a stream chunk", exc) from None
    if not (text or tools or finish or usage or reasoning):
        return None
    thinking = (ThinkingDelta(0, reasoning),) if reasoning else ()
    return Chunk(text, tool_calls=tools, finish_reason=finish, usage=usage, thinking=thinking)


def parse_embeddings(data: Any, *, provider: str, model: str, count: int) -> EmbedResponse:
    """An embeddings ``list`` dict as an :class:`EmbedResponse` in input order."""
    try:
        items = sorted(data["data"], key=lambda item: _count(item["index"]))
        vectors = tuple(vector(provider, item["embedding"]) for item in items)
        if len(vectors) != count:
            raise ValueError(f"{len(vectors)} vectors for {count} inputs")
        usage = data.get("usage")
        tokens = Usage(_count(usage["prompt_tokens"])) if usage else Usage()
        return EmbedResponse(vectors, _opt_str(data.get("model")) or model, provider, tokens)
    except _BAD_SHAPE as exc:
        raise malformed(provider, "embeddings", exc) from None


# -- errors -----------------------------------------------------------------------------


def _body_text(exc: Any) -> str:
    try:
        return str(exc.response.text)
    except Exception:  # stream not read, decoding failed: fall back to the parsed body
        try:
            return json.dumps({"error": exc.body})
        except (TypeError, ValueError):
            return str(getattr(exc, "message", ""))


def _stream_error(provider: str, exc: Any) -> ProviderError:
    body = exc.body if isinstance(getattr(exc, "body", None), Mapping) else {}
    kind = str(body.get("type") or body.get("code") or "")
    text = scrub(" ".join(str(getattr(exc, "message", exc)).split())[:200])
    if "rate_limit" in kind:
        return RateLimitError(f"{provider} rate limit hit mid-stream ({kind}): {text}.",
                              provider=provider)
    if filtered(body):
        return ContentFiltered(f"{provider} refused the content under its usage policy "
                               f"mid-stream ({kind}): {text}. Rephrase the request, or let "
                               "Fallback(on=(ContentFiltered,)) try another provider.",
                               provider=provider)
    return ProviderUnavailable(f"{provider} reported an error mid-stream ({kind or 'error'}): "
                               f"{text}. Retry the request.", provider=provider)


def map_error(provider: str, exc: BaseException) -> BaseException:
    """Our error for an exception raised inside the openai SDK's call (or its decoding).

    * ``APIStatusError`` -> by status, with the response headers (``Retry-After``,
      ``retry-after-ms``) and body (context length, content filter);
    * ``APITimeoutError`` -> ``Timeout``; ``APIConnectionError`` -> ``ProviderUnavailable``;
    * an ``APIError`` without a response (an error event mid-stream) -> ``ProviderUnavailable``
      (``RateLimitError`` when it says so);
    * ``ValueError``/``KeyError``/``IndexError`` (undecodable JSON) -> ``MalformedResponse``;
    * anything else -> :func:`~providers._failures.unexpected` (``ProviderUnavailable`` with
      the cause chained; a programming error such as ``TypeError`` raises itself).
    """
    if isinstance(exc, InsightForgeError):
        return exc
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if isinstance(status, int) and response is not None:
        if status < 400:  # a 2xx the SDK could not validate
            return malformed(provider, "a body", exc)
        headers = getattr(response, "headers", None) or {}
        return error_from_status(provider, status, _body_text(exc), headers)
    if name in ("APITimeoutError", "APIConnectionError") or "Timeout" in name:
        return error_from_transport(provider, exc)
    if name == "APIError" or (hasattr(exc, "body") and hasattr(exc, "request")):
        return _stream_error(provider, exc)
    if isinstance(exc, (ValueError, KeyError, IndexError)):
        return malformed(provider, "a body", exc)
    if type(exc).__module__.startswith(("openai", "httpx", "httpcore")):
        return error_from_transport(provider, exc)
    return unexpected(provider, exc)  # a bug raises itself (providers._failures)


def map_stream_error(provider: str, exc: BaseException, chunks: int) -> BaseException:
    """:func:`map_error` for a failure while an opened stream is read: a cut connection or
    a read timeout says so, and after how many chunks (``chunks``)."""
    name = type(exc).__name__
    if name in ("APITimeoutError", "APIConnectionError") or (
            type(exc).__module__.startswith(("httpx", "httpcore")) and "Decod" not in name):
        return mid_stream(provider, exc, chunks)
    return map_error(provider, exc)
