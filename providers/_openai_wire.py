"""The OpenAI wire format, both ways — shared by OpenAI, Azure, compatible servers and TGI.

What lives here: pure functions that turn a :class:`~insightforge.ChatRequest` /
:class:`~insightforge.EmbedRequest` into the JSON body of ``/chat/completions`` /
``/embeddings``, and the JSON an OpenAI-shaped server answers (a dict, a stream chunk dict,
an embeddings dict) into our :class:`ChatResponse` / :class:`Chunk` / :class:`EmbedResponse`;
plus :func:`map_error`, which turns an openai SDK exception into our error hierarchy.

What must not live here: clients, sockets, credentials, clocks. Every parser raises
:class:`~insightforge.errors.MalformedResponse` for anything it cannot read — never a
``KeyError``/``TypeError``/``AttributeError`` — so a misbehaving server is a typed,
retryable failure. Parsing works on plain dicts (``client.post(..., cast_to=object)``), not
on the SDK's pydantic models: it is faster (see ``bench/openai_mapping.py``) and the shape
checks are ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from insightforge.errors import (
    InsightForgeError,
    InvalidRequest,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimitError,
)
from insightforge.secrets import scrub
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbedRequest,
    EmbedResponse,
    Message,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from providers._errors import error_from_status, error_from_transport
from providers._wire import vector

__all__ = [
    "chat_body",
    "embed_body",
    "estimate_usage",
    "map_error",
    "message_json",
    "parse_chat",
    "parse_chunk",
    "parse_embeddings",
    "uses_completion_tokens",
]

_NEW_LIMIT = re.compile(r"^(o\d|gpt-5)")  # models that take max_completion_tokens
_JSON_MODE = {"type": "json_object"}
_FORMAT_TYPES = frozenset({"json_object", "json_schema", "text"})
_TOOL_CHOICES = frozenset({"auto", "none", "required"})
_BAD_SHAPE = (KeyError, IndexError, TypeError, AttributeError, ValueError)
# Other servers' words for OpenAI's finish reasons (TGI < 2.2; the legacy function_call).
_FINISH = {"eos_token": "stop", "stop_sequence": "stop", "function_call": "tool_calls"}


def uses_completion_tokens(model: str) -> bool:
    """True for models that reject ``max_tokens`` (o-series, gpt-5)."""
    return _NEW_LIMIT.match(model) is not None


# -- requests ---------------------------------------------------------------------------


def message_json(message: Message) -> dict[str, Any]:
    """One message in the wire shape."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls]
        if not message.content:
            out["content"] = None
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def _tool_json(tool: Tool) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": tool.name, "description": tool.description,
        "parameters": _plain(tool.parameters)}}


def _plain(value: Any) -> Any:
    """Read-only mappings (and nested ones) as plain dicts, for JSON."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _response_format(value: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, str):
        if value == "json":
            return _JSON_MODE
        if value == "text":
            return {"type": "text"}
        raise InvalidRequest(f"response_format must be 'json', 'text' or a mapping, got {value!r}")
    if value.get("type") in _FORMAT_TYPES:
        return _plain(value)  # type: ignore[no-any-return]
    return {"type": "json_schema",
            "json_schema": {"name": str(value.get("title") or "response"),
                            "schema": _plain(value)}}


def chat_body(request: ChatRequest, model: str, *, stream_usage: bool = True) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``request`` sent to ``model``.

    ``request.options`` are merged last, so a provider-specific parameter always wins.
    ``tags`` are never sent.
    """
    body: dict[str, Any] = {"model": model,
                            "messages": [message_json(m) for m in request.messages]}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_tokens is not None:
        key = "max_completion_tokens" if uses_completion_tokens(model) else "max_tokens"
        body[key] = request.max_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.tools:
        body["tools"] = [_tool_json(t) for t in request.tools]
    if request.tool_choice is not None:
        choice = request.tool_choice
        body["tool_choice"] = (choice if choice in _TOOL_CHOICES
                               else {"type": "function", "function": {"name": choice}})
    if request.response_format is not None:
        body["response_format"] = _response_format(request.response_format)
    if request.stream:
        body["stream"] = True
        if stream_usage:
            body["stream_options"] = {"include_usage": True}
    if request.options:
        body.update(_plain(request.options))
    return body


def embed_body(request: EmbedRequest, model: str) -> dict[str, Any]:
    """The JSON body of ``POST /embeddings``."""
    body: dict[str, Any] = {"model": model, "input": list(request.inputs),
                            "encoding_format": "float"}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.options:
        body.update(_plain(request.options))
    return body


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


def _usage(data: Any) -> Usage | None:
    if data is None:
        return None
    return Usage(_count(data["prompt_tokens"]), _count(data.get("completion_tokens") or 0))


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
        usage = _usage(data.get("usage")) or Usage()
        return ChatResponse(Message("assistant", content, tool_calls=calls),
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
        finish = _finish(choice.get("finish_reason"))
    except _BAD_SHAPE as exc:
        raise malformed(provider, "a stream chunk", exc) from None
    if not (text or tools or finish or usage):
        return None
    return Chunk(text, tool_calls=tools, finish_reason=finish, usage=usage)


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


def estimate_usage(request: ChatRequest, text: str) -> Usage:
    """Whitespace words as tokens (+3 per message, OpenAI's framing), for servers that report
    no usage — an estimate, documented as such."""
    words_in = sum(len(m.text.split()) + 3 for m in request.messages)
    return Usage(words_in, len(text.split()))


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
    return ProviderUnavailable(f"{provider} reported an error mid-stream ({kind or 'error'}): "
                               f"{text}. Retry the request.", provider=provider)


def map_error(provider: str, exc: BaseException) -> BaseException:
    """Our error for an openai SDK (or decoding) exception; other exceptions pass through.

    * ``APIStatusError`` -> by status, with the response headers (``Retry-After``,
      ``retry-after-ms``) and body (context length, content filter);
    * ``APITimeoutError`` -> ``Timeout``; ``APIConnectionError`` -> ``ProviderUnavailable``;
    * an ``APIError`` without a response (an error event mid-stream) -> ``ProviderUnavailable``
      (``RateLimitError`` when it says so);
    * ``ValueError``/``KeyError``/``TypeError`` (undecodable JSON) -> ``MalformedResponse``.
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
    if isinstance(exc, (ValueError, KeyError, TypeError, IndexError)):
        return malformed(provider, "a body", exc)
    if type(exc).__module__.startswith(("openai", "httpx", "httpcore")):
        return error_from_transport(provider, exc)
    return exc
