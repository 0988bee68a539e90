"""The OpenAI wire format, server side: request JSON in, our request types out.

What lives here: pure functions that read the JSON body of ``POST /v1/chat/completions`` and
``POST /v1/embeddings`` (plus the ``X-InsightForge-Tag-*`` headers) into a
:class:`~insightforge.ChatRequest` / :class:`~insightforge.EmbedRequest`. The inverse
(a ChatRequest as the body a client would send) lives in :mod:`.request_json`. Anything
we cannot read raises :class:`~insightforge.errors.InvalidRequest` naming the field
(``messages[2].role``) and the fix — never a ``KeyError``/``TypeError``.

What must not live here: sockets, the stack, response rendering (:mod:`.replies`). The core
must not import ``providers``, so this mapping is written here, not borrowed from
``providers._openai_wire``.

Tags (who and why; never sent upstream) come from ``metadata`` (string values), ``user``
(tag ``user``) and headers ``X-InsightForge-Tag-<name>: value`` — headers win.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from insightforge.errors import InvalidRequest
from insightforge.types import (
    CacheControl,
    ChatRequest,
    EmbedRequest,
    Message,
    Part,
    Reasoning,
    TextPart,
    Tool,
    ToolCall,
)
from insightforge.types.controls import cache_control
from insightforge.types.messages import Content
from insightforge.types.parts import to_part

__all__ = [
    "DEFAULT_MODEL",
    "TAG_HEADER",
    "embed_encoding",
    "parse_chat",
    "parse_embed",
    "resolve_model",
    "tags_from",
    "wants_usage",
]

DEFAULT_MODEL = "default"
TAG_HEADER = "x-insightforge-tag-"
_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file"})
_ROLES = {"system": "system", "developer": "system", "user": "user",
          "assistant": "assistant", "tool": "tool"}
_CHAT_FIELDS = frozenset({
    "messages", "model", "temperature", "top_p", "max_tokens", "max_completion_tokens",
    "stop", "seed", "tools", "tool_choice", "response_format", "stream", "stream_options",
    "metadata", "user", "n", "service_tier", "reasoning_effort", "parallel_tool_calls"})
_EMBED_FIELDS = frozenset({"input", "model", "dimensions", "encoding_format", "user",
                           "metadata"})
PASSED_ON = frozenset({"frequency_penalty", "presence_penalty", "logit_bias", "logprobs",
                       "top_logprobs", "store", "first_token_timeout", "stall_timeout"})
"""Fields that cannot raise the bill: passed to the provider in ``options`` (the stream
limits are read by the providers themselves and never sent upstream)."""
REFUSED = {
    "prediction": "predicted outputs are billed beyond the answer",
    "audio": "audio output is billed at audio prices", "modalities": "audio output is "
    "billed at audio prices", "web_search_options": "web search is billed per call",
    "functions": "the legacy functions field is not supported; send tools",
    "function_call": "the legacy function_call field is not supported; send tool_choice",
    "verbosity": "it changes how long (and how dear) the answer is",
}
"""Fields that change the price and have no typed field yet: refused, naming the field."""


def _bad(path: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{path}: {problem}")


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(path, f"expected a JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _bad(path, f"expected a string, got {_kind(value)}")
    return value


def _opt_str(value: Any, path: str) -> str | None:
    return None if value is None else _str(value, path)


def _number(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(path, f"expected a number, got {_kind(value)}")
    return float(value)


def _int(value: Any, path: str, *, minimum: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(path, f"expected an integer, got {_kind(value)}")
    if minimum is not None and value < minimum:
        raise _bad(path, f"must be at least {minimum}, got {value}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(path, f"expected an array, got {_kind(value)}")
    return value


# -- tags and model ---------------------------------------------------------------------


def tags_from(body: Mapping[str, Any], headers: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """Tags from ``metadata``, ``user`` and ``X-InsightForge-Tag-<name>`` headers (last wins)."""
    tags: dict[str, str] = {}
    metadata = body.get("metadata")
    if metadata is not None:
        for key, value in _obj(metadata, "metadata").items():
            tags[key] = _str(value, f"metadata.{key}")
    if body.get("user") is not None:
        tags["user"] = _str(body["user"], "user")
    for name, value in headers:
        if name.lower().startswith(TAG_HEADER) and len(name) > len(TAG_HEADER):
            tags[name[len(TAG_HEADER):].lower()] = value.strip()
    return tags


def resolve_model(name: Any, stack_models: Collection[str] = (), path: str = "model",
                  ) -> str | None:
    """``None`` (the stack's defaults) for a missing model, ``"default"`` or one the stack
    lists in ``/v1/models``; any other name is passed on to the providers as it is."""
    if name is None or name == "" or name == DEFAULT_MODEL:
        return None
    model = _str(name, path)
    return None if model in stack_models else model


def _options(body: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields passed on in ``options``: only :data:`PASSED_ON` ones.

    A price-changing field (:data:`REFUSED`) or one the gateway does not know is an
    :class:`InvalidRequest` naming it: nothing reaches the provider that the layers (the
    budget above all) did not see.
    """
    options = {}
    for name, value in body.items():
        if name in known:
            continue
        if name in REFUSED:
            raise _bad(name, f"not accepted by this gateway: {REFUSED[name]}, and the "
                       "budget cannot see it; remove the field")
        if name not in PASSED_ON:
            raise _bad(name, "unknown field; the gateway forwards only fields it knows "
                       f"(and {', '.join(sorted(PASSED_ON))}), so the budget sees every "
                       "field that can change the price; remove it")
        options[name] = value
    return options


# -- chat -------------------------------------------------------------------------------


def _content(value: Any, path: str) -> tuple[Content, CacheControl | None]:
    """A message's content — a string, or parts in OpenAI's form (``text``, ``image_url``,
    ``input_audio``, ``file``) — and the prompt-cache mark a part may carry
    (``cache_control``, as LiteLLM and Anthropic-minded clients send it). Text-only parts
    become one string, as every provider takes it."""
    if value is None or isinstance(value, str):
        return value or "", None
    parts: list[Part] = []
    mark: CacheControl | None = None
    for i, raw in enumerate(_list(value, path)):
        where = f"{path}[{i}]"
        data = _obj(raw, where)
        if data.get("cache_control") is not None:
            mark = _cache_mark(data["cache_control"], f"{where}.cache_control")
        kind = data.get("type")
        if kind not in _PART_TYPES:
            raise _bad(f"{where}.type", f"must be one of {sorted(_PART_TYPES)}, got {kind!r}")
        if kind == "text":
            _str(data.get("text"), f"{where}.text")
        try:
            parts.append(to_part({k: v for k, v in data.items() if k != "cache_control"}))
        except (TypeError, ValueError) as e:
            raise _bad(where, str(e)) from None
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart)), mark
    return tuple(parts), mark


def _cache_mark(value: Any, path: str) -> CacheControl:
    try:
        mark = cache_control(_obj(value, path))
    except (TypeError, ValueError) as e:
        raise _bad(path, str(e)) from None
    assert mark is not None
    return mark


def _reasoning(value: Any) -> Reasoning | None:
    if value is None:
        return None
    try:
        return Reasoning(_str(value, "reasoning_effort"))
    except ValueError as e:
        raise _bad("reasoning_effort", str(e)) from None


def _flag(value: Any, path: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _bad(path, f"expected a boolean, got {_kind(value)}")


def _tool_call(value: Any, path: str) -> ToolCall:
    call = _obj(value, path)
    fn = _obj(call.get("function"), f"{path}.function")
    return ToolCall(_str(call.get("id", ""), f"{path}.id"),
                    _str(fn.get("name"), f"{path}.function.name"),
                    _str(fn.get("arguments", "{}"), f"{path}.function.arguments"))


def _message(value: Any, path: str) -> Message:
    data = _obj(value, path)
    role = data.get("role")
    if role not in _ROLES:
        raise _bad(f"{path}.role", f"must be one of {sorted(_ROLES)}, got {role!r}")
    calls = tuple(_tool_call(c, f"{path}.tool_calls[{i}]")
                  for i, c in enumerate(_list(data.get("tool_calls") or [], f"{path}.tool_calls")))
    content, mark = _content(data.get("content"), f"{path}.content")
    if data.get("cache_control") is not None:
        mark = _cache_mark(data["cache_control"], f"{path}.cache_control")
    return Message(_ROLES[role], content,
                   name=_opt_str(data.get("name"), f"{path}.name"), tool_calls=calls,
                   tool_call_id=_opt_str(data.get("tool_call_id"), f"{path}.tool_call_id"),
                   cache=mark)


def _tool(value: Any, path: str) -> Tool:
    data = _obj(value, path)
    if data.get("type", "function") != "function":
        raise _bad(f"{path}.type", f"only function tools are supported, got {data.get('type')!r}")
    fn = _obj(data.get("function"), f"{path}.function")
    params = fn.get("parameters")
    mark = data.get("cache_control")
    return Tool(_str(fn.get("name"), f"{path}.function.name"),
                _str(fn.get("description", ""), f"{path}.function.description"),
                _obj(params, f"{path}.function.parameters") if params is not None
                else {"type": "object", "properties": {}},
                cache=None if mark is None else _cache_mark(mark, f"{path}.cache_control"))


def _tool_choice(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    fn = _obj(_obj(value, "tool_choice").get("function"), "tool_choice.function")
    return _str(fn.get("name"), "tool_choice.function.name")


def _response_format(value: Any) -> str | Mapping[str, Any] | None:
    if value is None:
        return None
    data = _obj(value, "response_format")
    kind = data.get("type")
    if kind == "json_object":
        return "json"
    if kind == "text":
        return "text"
    if kind == "json_schema":
        return data
    raise _bad("response_format.type", "must be 'text', 'json_object' or 'json_schema', "
               f"got {kind!r}")


def _stop(value: Any) -> tuple[str, ...]:
    if value is None or isinstance(value, str):
        return () if value is None else (value,)
    return tuple(_str(s, f"stop[{i}]") for i, s in enumerate(_list(value, "stop")))


def parse_chat(body: Any, headers: Iterable[tuple[str, str]] = (), *,
               stack_models: Collection[str] = ()) -> ChatRequest:
    """The :class:`ChatRequest` a ``/v1/chat/completions`` body (and its headers) ask for.

    Price-neutral fields we do not model (``frequency_penalty``, ``logit_bias``...) go to
    ``options``, which providers pass upstream; price-changing ones are mapped to typed
    fields (``max_completion_tokens`` -> ``max_tokens``, the smaller of both) or refused
    (``n`` above 1, a ``service_tier`` other than ``default``, :data:`REFUSED`), and unknown
    ones refused, each with an :class:`InvalidRequest` naming the field.
    """
    data = _obj(body, "body")
    messages = _list(data.get("messages"), "messages")
    if not messages:
        raise _bad("messages", "must not be empty: send at least one message")
    if _int(data.get("n"), "n", minimum=1) not in (None, 1):
        raise _bad("n", "only n=1 is supported; send several requests for several answers")
    if data.get("service_tier") not in (None, "default"):
        raise _bad("service_tier", "only 'default' is accepted: other tiers change the price "
                   "and the budget cannot see them; remove the field")
    limits = [_int(data.get(name), name, minimum=1)
              for name in ("max_tokens", "max_completion_tokens")]
    limit = min((v for v in limits if v is not None), default=None)
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream", f"expected a boolean, got {_kind(stream)}")
    return ChatRequest(
        tuple(_message(m, f"messages[{i}]") for i, m in enumerate(messages)),
        model=resolve_model(data.get("model"), stack_models),
        temperature=_number(data.get("temperature"), "temperature"),
        top_p=_number(data.get("top_p"), "top_p"),
        max_tokens=limit,
        stop=_stop(data.get("stop")),
        seed=_int(data.get("seed"), "seed"),
        tools=tuple(_tool(t, f"tools[{i}]")
                    for i, t in enumerate(_list(data.get("tools") or [], "tools"))),
        tool_choice=_tool_choice(data.get("tool_choice")),
        response_format=_response_format(data.get("response_format")),
        reasoning=_reasoning(data.get("reasoning_effort")),
        parallel_tool_calls=_flag(data.get("parallel_tool_calls"), "parallel_tool_calls"),
        stream=stream, options=_options(data, _CHAT_FIELDS), tags=tags_from(data, headers))


def wants_usage(body: Mapping[str, Any]) -> bool:
    """True when a streaming client asked for the final usage chunk."""
    options = body.get("stream_options")
    return isinstance(options, Mapping) and options.get("include_usage") is True


# -- embeddings -------------------------------------------------------------------------


def parse_embed(body: Any, headers: Iterable[tuple[str, str]] = (), *,
                stack_models: Collection[str] = ()) -> EmbedRequest:
    """The :class:`EmbedRequest` a ``/v1/embeddings`` body asks for (text inputs only)."""
    data = _obj(body, "body")
    raw = data.get("input")
    inputs = [raw] if isinstance(raw, str) else _list(raw, "input")
    if not inputs:
        raise _bad("input", "must not be empty: send a string or an array of strings")
    for i, item in enumerate(inputs):
        if not isinstance(item, str):
            raise _bad(f"input[{i}]", "expected a string; token arrays are not supported, "
                       "send the text")
    embed_encoding(data)
    return EmbedRequest(tuple(inputs), model=resolve_model(data.get("model"), stack_models),
                        dimensions=_int(data.get("dimensions"), "dimensions", minimum=1),
                        options=_options(data, _EMBED_FIELDS), tags=tags_from(data, headers))


def embed_encoding(body: Mapping[str, Any]) -> str:
    """``float`` or ``base64`` (the openai SDK asks for base64 unless told otherwise)."""
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _bad("encoding_format", f"must be 'float' or 'base64', got {encoding!r}")
    return str(encoding)
