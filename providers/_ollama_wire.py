"""The Ollama REST wire format, both ways — pure functions, no I/O.

What lives here: the ``/api/chat`` body from a :class:`ChatRequest` (options mapping,
tools, JSON mode and JSON Schemas as ``format``, images as a base64 ``images`` list on the
message, reasoning as ``think``, an assistant's reasoning sent back as ``thinking``), the
``/api/embed`` body, reading a chat answer (``message.thinking`` as reasoning) and an embed
answer, and :class:`OllamaStreamDecoder`, the NDJSON stream state machine. Anything the server sends
that does not have the documented shape raises :class:`MalformedResponse`; an ``error``
line mid-stream raises the mapped error. What must not: sockets, httpx, clocks.

Ollama reference: https://github.com/ollama/ollama/blob/main/docs/api.md
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from insightforge.errors import MalformedResponse, ProviderUnavailable
from insightforge.secrets import scrub
from insightforge.types import (
    ChatRequest,
    Chunk,
    EmbedRequest,
    ImagePart,
    Message,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from insightforge.types.messages import assistant_message
from providers._capabilities import unsupported
from providers._lines import ndjson_object
from providers._wire import (
    arguments_object,
    arguments_text,
    get,
    json_schema,
    optional_int,
    vector,
)

__all__ = ["NAME", "OllamaStreamDecoder", "chat_body", "embed_body", "finish_reason", "has_model",
           "model_names",
           "parse_chat", "parse_embed", "stream_error"]

NAME = "ollama"
_FINISH = {"stop": "stop", "length": "length", "load": "stop", "unload": "stop",
           "content_filter": "content_filter"}


# -- requests ---------------------------------------------------------------------------

def _images(message: Message) -> list[str]:
    images = []
    for part in message.media:
        if not isinstance(part, ImagePart):
            raise unsupported(NAME, f"a {part.kind} part", "send text and images only")
        if part.data is None:
            raise unsupported(NAME, "an image given by URL (ImagePart(url=...))",
                              "Ollama takes image bytes; pass ImagePart(data=..., "
                              "media_type=...)")
        images.append(base64.b64encode(part.data).decode("ascii"))
    return images


def _message(message: Message) -> dict[str, Any]:
    text = message.content if isinstance(message.content, str) else "\n".join(
        p.text for p in message.content if isinstance(p, TextPart))
    out: dict[str, Any] = {"role": message.role, "content": text}
    images = _images(message)
    if images:
        out["images"] = images
    thinking = "".join(p.text for p in message.thinking)
    if thinking:
        out["thinking"] = thinking
    if message.tool_calls:
        out["tool_calls"] = [
            {"function": {"name": call.name,
                          "arguments": arguments_object(NAME, call.arguments, call.name)}}
            for call in message.tool_calls]
    if message.role == "tool" and message.name:
        out["tool_name"] = message.name
    return out


def _tools(request: ChatRequest) -> list[dict[str, Any]]:
    choice = request.tool_choice
    if choice == "none":
        return []  # Ollama cannot forbid calls; not offering the tools does
    tools = request.tools
    if choice not in (None, "auto", "required"):
        tools = tuple(t for t in tools if t.name == choice) or tools  # force by name
    return [{"type": "function",
             "function": {"name": t.name, "description": t.description,
                          "parameters": dict(t.parameters)}} for t in tools]


def _think(request: ChatRequest, model: str) -> bool | str | None:
    """Ollama's ``think``: an effort word for gpt-oss models (which take one), else on."""
    setting = request.reasoning
    if setting is None:
        return None
    if model.startswith("gpt-oss") and setting.effort is not None:
        return "low" if setting.effort == "minimal" else setting.effort
    return True


def chat_body(request: ChatRequest, *, model: str, stream: bool,
              keep_alive: str | float | None = None) -> dict[str, Any]:
    """The ``/api/chat`` JSON body; ``request.options`` merge into Ollama ``options``."""
    if request.parallel_tool_calls is False:
        raise unsupported(NAME, "parallel_tool_calls=False", "Ollama has no switch for it; "
                          "leave parallel_tool_calls unset")
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.top_p is not None:
        options["top_p"] = request.top_p
    if request.max_tokens is not None:
        options["num_predict"] = request.max_tokens
    if request.stop:
        options["stop"] = list(request.stop)
    if request.seed is not None:
        options["seed"] = request.seed
    options.update(request.options)
    body: dict[str, Any] = {"model": model, "messages": [_message(m) for m in request.messages],
                            "stream": stream}
    if options:
        body["options"] = options
    tools = _tools(request)
    if tools:
        body["tools"] = tools
    json_mode, schema = json_schema(request.response_format)
    if json_mode:
        body["format"] = schema if schema is not None else "json"
    think = _think(request, model)
    if think is not None:
        body["think"] = think
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    return body


def embed_body(request: EmbedRequest, *, model: str,
               keep_alive: str | float | None = None) -> dict[str, Any]:
    """The ``/api/embed`` JSON body."""
    body: dict[str, Any] = {"model": model, "input": list(request.inputs)}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.options:
        body["options"] = dict(request.options)
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    return body


# -- answers ----------------------------------------------------------------------------

def finish_reason(done_reason: Any, has_tool_calls: bool) -> str:
    """Ollama's ``done_reason`` in our words (a call to a tool is ``tool_calls``)."""
    if has_tool_calls:
        return "tool_calls"
    if not isinstance(done_reason, str) or not done_reason:
        return "stop"
    return _FINISH.get(done_reason, done_reason)


def tool_calls(raw: Any, start: int = 0) -> list[ToolCall]:
    """Ollama ``message.tool_calls`` (arguments are objects) as our calls (JSON text)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _malformed("message.tool_calls is not a list")
    calls = []
    for index, item in enumerate(raw, start=start):
        fn = get(NAME, item, "function", dict, where="tool call")
        name = get(NAME, fn, "name", str, where="tool call function")
        call_id = item.get("id") if isinstance(item.get("id"), str) else f"call_{index}"
        calls.append(ToolCall(call_id, name, arguments_text(NAME, fn.get("arguments"))))
    return calls


def usage(data: Mapping[str, Any]) -> Usage | None:
    """``prompt_eval_count``/``eval_count``; ``None`` when the server sent neither."""
    if data.get("prompt_eval_count") is None and data.get("eval_count") is None:
        return None
    return Usage(optional_int(data, "prompt_eval_count"), optional_int(data, "eval_count"))


def stream_error(data: Mapping[str, Any]) -> ProviderUnavailable | None:
    """The error an ``{"error": ...}`` object reports (mid-stream or in a 200 body).

    The server failed after it had accepted the request: retryable, like a 5xx.
    """
    error = data.get("error")
    if error is None:
        return None
    text = scrub(" ".join(str(error).split())[:300])
    return ProviderUnavailable(f"{NAME} reported an error mid-answer: {text}. Retry the "
                               "request.", provider=NAME)


def parse_chat(data: Mapping[str, Any]) -> tuple[Message, str, Usage | None, str]:
    """``(message, finish_reason, usage, model)`` of a non-streamed ``/api/chat`` answer
    (usage ``None`` when the server reported none)."""
    error = stream_error(data)
    if error is not None:
        raise error
    message = get(NAME, data, "message", dict)
    content = get(NAME, message, "content", str, "", where="message")
    thinking = get(NAME, message, "thinking", str, "", where="message")
    calls = tool_calls(message.get("tool_calls"))
    model = get(NAME, data, "model", str, "")
    reply = assistant_message(content, [ThinkingPart(thinking)] if thinking else [], calls)
    return reply, finish_reason(data.get("done_reason"), bool(calls)), usage(data), model


def parse_embed(data: Mapping[str, Any], count: int) -> tuple[tuple[tuple[float, ...], ...],
                                                              Usage]:
    """The vectors (one per input, checked) and usage of an ``/api/embed`` answer."""
    raw = get(NAME, data, "embeddings", list)
    vectors = [vector(NAME, item) for item in raw]
    if len(vectors) != count:
        raise _malformed(f"{len(vectors)} embeddings for {count} inputs")
    return tuple(vectors), Usage(optional_int(data, "prompt_eval_count"), 0)


def _malformed(what: str) -> MalformedResponse:
    return MalformedResponse(f"{NAME}: {what}.", provider=NAME)


class OllamaStreamDecoder:
    """NDJSON lines of ``/api/chat`` in, chunks out; ``done`` after the ``done: true`` line.

    Attributes:
        done: the end line arrived. model: the model the server named.
    """

    def __init__(self) -> None:
        self.done = False
        self.model = ""
        self._calls = 0

    def feed(self, line: str) -> list[Chunk]:
        data = ndjson_object(NAME, line)
        if data is None:
            return []
        error = stream_error(data)
        if error is not None:
            raise error
        done = get(NAME, data, "done", bool, where="stream line")
        self.model = get(NAME, data, "model", str, self.model, where="stream line")
        message = get(NAME, data, "message", dict, {}, where="stream line")
        if not done and "message" not in data:
            raise _malformed("a stream line has neither message nor done: true")
        text = get(NAME, message, "content", str, "", where="stream message")
        reasoning = get(NAME, message, "thinking", str, "", where="stream message")
        thinking = (ThinkingDelta(0, reasoning),) if reasoning else ()
        calls = tool_calls(message.get("tool_calls"), start=self._calls)
        deltas = tuple(ToolCallDelta(self._calls + i, c.id, c.name, c.arguments)
                       for i, c in enumerate(calls))
        self._calls += len(calls)
        if not done:
            if text or deltas or thinking:
                return [Chunk(text, tool_calls=deltas, thinking=thinking)]
            return []
        self.done = True
        finish = finish_reason(data.get("done_reason"), self._calls > 0)
        return [Chunk(text, tool_calls=deltas, finish_reason=finish, usage=usage(data),
                      thinking=thinking)]


def model_names(data: Mapping[str, Any]) -> set[str]:
    """The model names a ``/api/tags`` answer lists."""
    names = set()
    for item in get(NAME, data, "models", list):
        name = get(NAME, item, "name", str, "", where="model entry") or \
            get(NAME, item, "model", str, "", where="model entry")
        if name:
            names.add(name)
    return names


def has_model(names: set[str], wanted: str) -> bool:
    """``wanted`` is pulled; a name without a tag means ``:latest``."""
    full = wanted if ":" in wanted else f"{wanted}:latest"
    return wanted in names or full in names
