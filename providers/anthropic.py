"""``providers.Anthropic``: Claude through the Messages API, over httpx, SSE streaming.

What lives here: the thin sync and async drivers around :mod:`providers._anthropic_wire`
(pure mapping) and :class:`~providers._httpx.HttpxProvider` (pooled clients, finite
timeouts, every failure mapped: 401/403, 429 and 529 with ``retry-after``, 5xx, cut or
truncated streams, ``error`` events mid-stream). Prices come from
:mod:`insightforge.pricing`. Anthropic has no embeddings API: embedding requests raise
:class:`~insightforge.errors.Unsupported` before any network call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from insightforge.errors import ConfigError, Unsupported
from insightforge.secrets import Secret
from insightforge.stack import AsyncResponse, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatRequest, ChatResponse, EmbedRequest
from providers import _anthropic_wire as wire
from providers._httpx import HttpxProvider, LineStream
from providers._wire import get

__all__ = ["Anthropic"]

_PATH = "/v1/messages"


class Anthropic(HttpxProvider):
    """Chat with Claude models.

    Args:
        model: the default model (``claude-sonnet-4-5``, ``claude-haiku-4-5``...).
        base_url: the API (default ``https://api.anthropic.com``).
        timeout: seconds for connect, each read and write (finite).
        api_key: the key; else ``ANTHROPIC_API_KEY``; else the keyring entry ``anthropic``.
        max_tokens_default: ``max_tokens`` when the request sets none (the API requires it).
        anthropic_version: the ``anthropic-version`` header.
        max_connections: the pool size of each client.
        structured_output: ``"native"`` (``output_config.format``), ``"tool"`` (a forced
            answer tool) or ``"auto"`` (native from Claude 4.5 on, by the model's name).
        thinking: ``"adaptive"`` (``thinking: {type: adaptive}`` and an effort),
            ``"enabled"`` (a token budget) or ``"auto"`` (adaptive from Claude 4.6 on).
        prefill: whether the model continues a final assistant message, so a cut stream
            is continued from the delivered text: ``"auto"`` (Claude before 4.6; later
            models reject prefill), ``True`` or ``False``.
        first_token_timeout, stall_timeout, context_window, malformed_events: as for
            every provider (docs/providers/anthropic.md).
    """

    name = "anthropic"
    env_vars = ("ANTHROPIC_API_KEY",)
    default_base_url = "https://api.anthropic.com"
    key_required = True
    default_timeout = 60.0
    capabilities = frozenset({"images", "files", "structured_output", "reasoning",
                              "prompt_caching", "parallel_tools"})

    def __init__(self, model: str = "claude-sonnet-4-5", *, base_url: str | None = None,
                 timeout: float | None = None, api_key: str | Secret | None = None,
                 max_tokens_default: int = 1024, anthropic_version: str = "2023-06-01",
                 max_connections: int = 20, structured_output: str = "auto",
                 thinking: str = "auto", prefill: str | bool = "auto", **kwargs: Any) -> None:
        if isinstance(max_tokens_default, bool) or not isinstance(max_tokens_default, int) \
                or max_tokens_default < 1:
            raise ConfigError("anthropic: max_tokens_default must be a positive integer, "
                              f"got {max_tokens_default!r}", path="max_tokens_default")
        if structured_output not in ("auto", "native", "tool"):
            raise ConfigError("anthropic: structured_output must be 'auto', 'native' or "
                              f"'tool', got {structured_output!r}", path="structured_output")
        if thinking not in ("auto", "adaptive", "enabled"):
            raise ConfigError("anthropic: thinking must be 'auto', 'adaptive' or 'enabled', "
                              f"got {thinking!r}", path="thinking")
        if prefill not in ("auto", True, False):
            raise ConfigError("anthropic: prefill must be 'auto', true or false, got "
                              f"{prefill!r}", path="prefill")
        self.structured_output = structured_output
        self.thinking = thinking
        self.prefill_mode = prefill
        super().__init__(model=model, base_url=base_url, timeout=timeout, api_key=api_key,
                         max_connections=max_connections, **kwargs)
        self.max_tokens_default = max_tokens_default
        self.anthropic_version = anthropic_version

    def continues_prefill(self, model: str | None = None) -> bool:
        return wire.continues_prefill(model or self.model, self.prefill_mode)

    def _headers(self) -> dict[str, str]:
        headers = super()._headers()
        headers["anthropic-version"] = self.anthropic_version
        if self._api_key:
            headers["x-api-key"] = self._api_key.reveal()
        return headers

    # -- chat ---------------------------------------------------------------------------
    def _body(self, request: ChatRequest) -> tuple[str, dict[str, Any]]:
        model = request.model or self.model
        return model, wire.chat_body(request, model=model, max_tokens=self.max_tokens_default,
                                     stream=request.stream,
                                     structured_output=self.structured_output,
                                     thinking=self.thinking)

    def _answer_tool(self, request: ChatRequest, model: str) -> str | None:
        return wire.answer_tool(request, model, self.structured_output)

    def _response(self, data: dict[str, Any], model: str, answer: str | None,
                  options: Mapping[str, Any]) -> ChatResponse:
        message, finish, usage, answered, id = wire.parse_message(data, answer)
        answered = answered or model
        return ChatResponse(message, answered, self.name, usage, finish, id,
                            cost_usd=self.cost(answered, usage,
                                               options=_billed_tier(data, options)))

    def _finish(self, decoder: wire.AnthropicStreamDecoder, model: str,
                options: Mapping[str, Any], opened: LineStream | None = None) -> Any:
        def on_end(response: ChatResponse) -> ChatResponse:
            answered = decoder.model or model
            skipped = opened.skips.events() if opened and opened.skips else ()
            return attrs.evolve(response, model=answered, id=decoder.id or response.id,
                                cost_usd=self.cost(answered, response.usage, options=options),
                                trace=(*response.trace, *skipped))
        return on_end

    def _chat(self, request: ChatRequest) -> Response:
        model, body = self._body(request)
        answer = self._answer_tool(request, model)
        if not request.stream:
            return self._response(self._send_json("POST", _PATH, body), model, answer,
                                  request.options)
        opened = self._open_lines(_PATH, body)
        decoder = wire.AnthropicStreamDecoder(answer)
        return ChatStream.from_chunks(self._chunks(opened, decoder), model=model,
                                      provider=self.name, close=opened.close,
                                      on_end=self._finish(decoder, model, request.options,
                                                          opened))

    async def _achat(self, request: ChatRequest) -> AsyncResponse:
        model, body = self._body(request)
        answer = self._answer_tool(request, model)
        if not request.stream:
            return self._response(await self._asend_json("POST", _PATH, body), model, answer,
                                  request.options)
        opened = await self._aopen_lines(_PATH, body)
        decoder = wire.AnthropicStreamDecoder(answer)
        return AsyncChatStream.from_chunks(self._achunks(opened, decoder),
                                           model=model, provider=self.name,
                                           close=opened.close,
                                           on_end=self._finish(decoder, model,
                                                               request.options, opened))

    # -- embeddings -----------------------------------------------------------------------
    def _unsupported(self) -> Unsupported:
        return Unsupported("anthropic has no embeddings API. Embed with another provider "
                           "(providers.OpenAI, providers.Ollama, providers.HuggingFace, or "
                           "Voyage AI, which Anthropic recommends) in a separate stack.",
                           provider=self.name)

    def _embed(self, request: EmbedRequest) -> Response:
        raise self._unsupported()

    async def _aembed(self, request: EmbedRequest) -> AsyncResponse:
        raise self._unsupported()

    # -- check ----------------------------------------------------------------------------
    def check(self) -> None:
        """An authenticated ``GET /v1/models``; raises the mapped error on failure."""
        self._send_json("GET", "/v1/models")

    async def acheck(self) -> None:
        await self._asend_json("GET", "/v1/models")

    # -- models ---------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        """The models ``GET /v1/models`` lists (one page of up to 1000), sorted."""
        data = self._send_json("GET", "/v1/models?limit=1000")
        items = get(self.name, data, "data", list, where="the models list")
        return sorted({item["id"] for item in items
                       if isinstance(item, dict) and isinstance(item.get("id"), str)})


def _billed_tier(data: Mapping[str, Any], options: Mapping[str, Any]) -> Mapping[str, Any]:
    """The options to price the answer at: the tier Anthropic says it billed
    (``usage.service_tier``) when it says so, else what the request asked for."""
    usage = data.get("usage")
    tier = usage.get("service_tier") if isinstance(usage, Mapping) else None
    if isinstance(tier, str) and tier in ("standard", "priority"):
        return {**options, "service_tier": tier}
    return options
