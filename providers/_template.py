"""A complete provider to subclass or copy: start here when you add a provider.

HOW TO USE THIS FILE
  0. If your vendor speaks this wire format (Ollama's), subclass it —
     ``from providers.kit import TemplateProvider`` — and set ``name``, ``env_vars`` and
     ``default_base_url``: ``examples/plugin-provider`` does exactly that in a few lines.
     Otherwise:
  1. Copy it to ``providers/<vendor>.py`` (or to your plugin package) and rename
     ``TemplateProvider`` and ``NAME``.
  2. Rewrite the three PURE sections (request body, answer, stream decoder) for your
     vendor's wire format. Keep them pure: dicts in, our types out, no sockets — they are
     what your unit and hypothesis tests exercise.
  3. Keep the DRIVER section almost as is: it is thin on purpose, and it is where the
     consistency with every other provider comes from (pooled clients, finite timeouts,
     one error table).
  4. Run the conformance kit: ``pytest --insightforge-provider yourmodule:factory``
     (see docs/writing-a-provider.md).

THE FICTIONAL API
  This template talks to a made-up "line-chat" service that is deliberately *not*
  OpenAI-shaped: ``POST /api/chat`` with ``{"model", "messages", "stream", "options"}``,
  answers with ``{"message": {...}, "done": true, "prompt_eval_count", "eval_count"}``,
  streams newline-delimited JSON objects, and embeds with ``POST /api/embed``. That happens
  to be exactly Ollama's wire format — on purpose, so this file really works: point it at
  the emulator (``Emulator().ollama_url``) or at a real Ollama, and the kit tests it
  (tests/providers/test_template.py).

RULES EVERY PROVIDER FOLLOWS (docs/writing-a-provider.md has the full table)
  * Never let a vendor's exception, ``KeyError`` or ``TypeError`` escape: HTTP errors go
    through ``providers._errors.error_from_status``, transport errors through
    ``error_from_transport`` (``HttpxProvider`` does both for you); a body of the wrong
    shape is ``MalformedResponse`` (``providers._wire.get`` raises it for you); a stream
    that ends before the vendor's end marker is ``ProviderUnavailable`` (``drive`` does).
  * Every network call has a finite timeout; one pooled client per provider, closed by
    ``close()``/``aclose()``.
  * No secret in a repr, an error or a log: keep the key a ``Secret``, ``reveal()`` it
    only in ``_headers``.
  * Streamed and non-streamed answers assemble to the same ``ChatResponse``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from insightforge.errors import MalformedResponse, ProviderUnavailable
from insightforge.pricing import Price
from insightforge.secrets import Secret
from insightforge.stack import AsyncResponse, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbedRequest,
    EmbedResponse,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from providers._httpx import HttpxProvider, ndjson_object
from providers._wire import arguments_object, arguments_text, get, json_schema, optional_int

__all__ = ["TemplateProvider"]

NAME = "template"  # the provider's name: routes, traces, prices, keyring entry


# == PURE 1: our request -> the vendor's body ===========================================

def chat_body(request: ChatRequest, *, model: str, provider: str = NAME) -> dict[str, Any]:
    """The vendor's chat body. Map every ChatRequest field the vendor understands."""
    options: dict[str, Any] = {}
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"),
                         ("max_tokens", "num_predict"), ("seed", "seed")):
        value = getattr(request, ours)
        if value is not None:
            options[theirs] = value
    if request.stop:
        options["stop"] = list(request.stop)
    options.update(request.options)  # provider-specific parameters pass through as they are
    messages = []
    for m in request.messages:
        wire: dict[str, Any] = {"role": m.role, "content": m.text}  # text parts only
        if m.tool_calls:  # this vendor wants tool arguments as objects, not JSON text
            wire["tool_calls"] = [{"function": {"name": c.name, "arguments":
                                   arguments_object(provider, c.arguments, c.name)}}
                                  for c in m.tool_calls]
        messages.append(wire)
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": request.stream}
    if options:
        body["options"] = options
    if request.tools and request.tool_choice != "none":
        body["tools"] = [{"type": "function", "function": {
            "name": t.name, "description": t.description, "parameters": dict(t.parameters)}}
            for t in request.tools]
    json_mode, schema = json_schema(request.response_format)
    if json_mode:  # a JSON Schema here needs "structured_output" in capabilities
        body["format"] = schema or "json"
    return body


# == PURE 2: the vendor's answer -> our types ===========================================

def _calls(raw: Any, start: int, provider: str) -> list[ToolCall]:
    if not isinstance(raw, list):
        return []
    return [ToolCall(f"call_{start + i}",
                     get(provider, get(provider, item, "function", dict, where="tool call"),
                         "name", str, where="tool call"),
                     arguments_text(provider, item["function"].get("arguments")))
            for i, item in enumerate(raw)]


def _usage(data: Mapping[str, Any]) -> Usage:
    return Usage(optional_int(data, "prompt_eval_count"), optional_int(data, "eval_count"))


def _finish(data: Mapping[str, Any], has_calls: bool) -> str:
    if has_calls:
        return "tool_calls"
    reason = data.get("done_reason")
    return reason if isinstance(reason, str) and reason else "stop"


def parse_chat(data: Mapping[str, Any], provider: str = NAME) -> tuple[Message, str, Usage]:
    """``get`` raises MalformedResponse for a missing or mistyped field — never KeyError."""
    message = get(provider, data, "message", dict)
    calls = _calls(message.get("tool_calls"), 0, provider)
    text = get(provider, message, "content", str, "", where="message")
    return Message("assistant", text, tool_calls=calls), _finish(data, bool(calls)), _usage(data)


# == PURE 3: the stream decoder (lines in, chunks out) ==================================

class StreamDecoder:
    """One NDJSON line at a time; ``done`` turns true at the vendor's end marker.

    ``drive``/``adrive`` raise ``ProviderUnavailable`` when the lines run out before it.
    """

    def __init__(self, provider: str = NAME) -> None:
        self.provider = provider
        self.done = False
        self._calls = 0

    def feed(self, line: str) -> list[Chunk]:
        name = self.provider
        data = ndjson_object(name, line)  # MalformedResponse on bad JSON
        if data is None:
            return []
        if "error" in data:  # the vendor reports a failure mid-stream: retryable
            raise ProviderUnavailable(f"{name} failed mid-answer; retry.", provider=name)
        done = get(name, data, "done", bool, where="stream line")
        message = get(name, data, "message", dict, {}, where="stream line")
        calls = _calls(message.get("tool_calls"), self._calls, name)
        deltas = tuple(ToolCallDelta(self._calls + i, c.id, c.name, c.arguments)
                       for i, c in enumerate(calls))
        self._calls += len(calls)
        text = get(name, message, "content", str, "", where="stream message")
        if not done:
            return [Chunk(text, tool_calls=deltas)] if text or deltas else []
        self.done = True
        return [Chunk(text, tool_calls=deltas, finish_reason=_finish(data, self._calls > 0),
                      usage=_usage(data))]


# == DRIVER: thin, sync and async side by side ==========================================

class TemplateProvider(HttpxProvider):
    """A provider for the fictional line-chat API (Ollama's wire format; see the top).

    Args:
        model: the default model. base_url: the server. timeout: seconds, finite.
        api_key: optional here (``key_required = False``); else ``TEMPLATE_API_KEY``.
        price: USD per million tokens (a ``Price`` or ``{"input": .., "output": ..}``);
            without one, cost is ``None`` and a ``Budget`` layer will refuse to guess.
    """

    name = NAME
    env_vars = ("TEMPLATE_API_KEY",)  # credentials: argument, then these, then the keyring
    default_base_url = "http://localhost:11434"
    key_required = False  # True for a hosted API: a missing key raises CredentialError
    default_timeout = 60.0
    # What this provider maps beyond text chat (names in providers._capabilities); the base
    # class refuses anything else with Unsupported before any network call, and the kit
    # checks both halves. Add "images" etc. only once chat_body maps them.
    capabilities = frozenset({"structured_output"})

    def __init__(self, model: str = "llama3.1", *, base_url: str | None = None,
                 timeout: float | None = None, api_key: str | Secret | None = None,
                 price: Price | dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(model=model, base_url=base_url, timeout=timeout, api_key=api_key,
                         price=price if price is not None else Price(0, 0), **kwargs)

    def _headers(self) -> dict[str, str]:  # the only place the secret is revealed
        headers = super()._headers()
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key.reveal()}"
        return headers

    def _done(self, response: ChatResponse) -> ChatResponse:  # a stream's on_end hook
        return attrs.evolve(response, cost_usd=self.cost(response.model, response.usage))

    def _reply(self, data: dict[str, Any], model: str) -> ChatResponse:
        message, finish, usage = parse_chat(data, self.name)
        return ChatResponse(message, model, self.name, usage, finish,
                            cost_usd=self.cost(model, usage))

    def _chat(self, request: ChatRequest) -> Response:
        model = request.model or self.model
        body = chat_body(request, model=model, provider=self.name)
        if not request.stream:
            return self._reply(self._send_json("POST", "/api/chat", body), model)
        opened = self._open_lines("/api/chat", body)  # HTTP errors raise here, before chunk 1
        # _chunks: decoded lines, a malformed one skipped, first-token and stall limits kept
        return ChatStream.from_chunks(self._chunks(opened, StreamDecoder(self.name)),
                                      model=model, provider=self.name, close=opened.close,
                                      on_end=self._done)

    async def _achat(self, request: ChatRequest) -> AsyncResponse:
        model = request.model or self.model
        body = chat_body(request, model=model, provider=self.name)
        if not request.stream:
            return self._reply(await self._asend_json("POST", "/api/chat", body), model)
        opened = await self._aopen_lines("/api/chat", body)
        return AsyncChatStream.from_chunks(self._achunks(opened, StreamDecoder(self.name)),
                                           model=model, provider=self.name,
                                           close=opened.close, on_end=self._done)

    def _embed_reply(self, data: dict[str, Any], model: str, count: int) -> EmbedResponse:
        raw = get(self.name, data, "embeddings", list)
        good = all(isinstance(vec, list) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in vec) for vec in raw)
        if not good or len(raw) != count:  # check shapes before touching values
            raise MalformedResponse(f"{self.name}: expected {count} vectors of numbers.",
                                    provider=self.name)
        vectors = tuple(tuple(float(v) for v in vec) for vec in raw)
        usage = Usage(optional_int(data, "prompt_eval_count"), 0)
        return EmbedResponse(vectors, model, self.name, usage, self.cost(model, usage))

    def _embed(self, request: EmbedRequest) -> Response:
        # A vendor without embeddings raises insightforge.errors.Unsupported here instead.
        model = request.model or self.model
        data = self._send_json("POST", "/api/embed", {"model": model,
                                                      "input": list(request.inputs)})
        return self._embed_reply(data, model, len(request.inputs))

    async def _aembed(self, request: EmbedRequest) -> AsyncResponse:
        model = request.model or self.model
        data = await self._asend_json("POST", "/api/embed", {"model": model,
                                                             "input": list(request.inputs)})
        return self._embed_reply(data, model, len(request.inputs))

    def check(self) -> None:
        """The cheapest call that proves the server and the credential work."""
        self._send_json("GET", "/api/tags")

    async def acheck(self) -> None:
        await self._asend_json("GET", "/api/tags")
