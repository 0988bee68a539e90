"""``providers.Ollama``: a local (or proxied) Ollama server over its REST API, via httpx.

What lives here: the thin sync and async drivers — build the body with
:mod:`providers._ollama_wire`, send it through :class:`~providers._httpx.HttpxProvider`
(pooled clients, finite timeouts, every failure mapped), read the answer back with the
same pure module. Chat is ``POST /api/chat`` (NDJSON streaming when ``stream=True``; the
``stream`` flag is always sent, since Ollama streams by default), embeddings are
``POST /api/embed``, ``check()`` is ``GET /api/tags``. Local models cost nothing: the price
is zero, so ``cost_usd`` is ``Decimal(0)``.
"""

from __future__ import annotations

from typing import Any

import attrs

from insightforge.errors import ConfigError
from insightforge.secrets import Secret
from insightforge.stack import AsyncResponse, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatRequest, ChatResponse, EmbedRequest, EmbedResponse
from providers import _ollama_wire as wire
from providers._httpx import HttpxProvider, LineStream
from providers._wire import estimate_usage

__all__ = ["Ollama"]


class Ollama(HttpxProvider):
    """Chat and embeddings from an Ollama server.

    Args:
        model: the chat model (``llama3.1``, ``qwen2.5:7b``...).
        base_url: the server (default ``http://localhost:11434``).
        timeout: seconds for connect, each read and write (finite; local models can be slow).
        embedding_model: the model for embeddings (default: ``model``).
        keep_alive: how long Ollama keeps the model loaded (``"5m"``, seconds, ``-1``).
        api_key: only for an Ollama behind an authenticating proxy; sent as a Bearer token
            (else read from ``OLLAMA_API_KEY``; never required).
        max_connections: the pool size of each client.
        first_token_timeout, stall_timeout, context_window, malformed_events: as for every
            provider (docs/providers/ollama.md). Ollama continues a final assistant message,
            so a stream cut mid-way is continued from the delivered text.
    """

    name = "ollama"
    env_vars = ("OLLAMA_API_KEY",)
    default_base_url = "http://localhost:11434"
    key_required = False
    default_timeout = 120.0
    capabilities = frozenset({"images", "structured_output", "reasoning", "parallel_tools"})
    prefill = True  # Ollama continues a conversation that ends with an assistant message

    def __init__(self, model: str = "llama3.1", *, base_url: str | None = None,
                 timeout: float | None = None, embedding_model: str | None = None,
                 keep_alive: str | float | None = None, api_key: str | Secret | None = None,
                 max_connections: int = 20, **kwargs: Any) -> None:
        super().__init__(model=model, base_url=base_url, timeout=timeout, api_key=api_key,
                         max_connections=max_connections, **kwargs)
        if embedding_model is not None and (not isinstance(embedding_model, str)
                                            or not embedding_model):
            raise ConfigError("ollama: embedding_model must be a non-empty string",
                              path="embedding_model")
        self.embedding_model = embedding_model or model
        self.keep_alive = keep_alive

    def _headers(self) -> dict[str, str]:
        headers = super()._headers()
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key.reveal()}"
        return headers

    # -- chat ---------------------------------------------------------------------------
    def _body(self, request: ChatRequest) -> tuple[str, dict[str, Any]]:
        model = request.model or self.model
        return model, wire.chat_body(request, model=model, stream=request.stream,
                                     keep_alive=self.keep_alive)

    def _response(self, request: ChatRequest, data: dict[str, Any],
                  model: str) -> ChatResponse:
        message, finish, usage, answered = wire.parse_chat(data)
        usage = usage or estimate_usage(request, message.text)
        return ChatResponse(message, answered or model, self.name, usage, finish,
                            cost_usd=self.cost(answered or model, usage))

    def _finish(self, request: ChatRequest, decoder: wire.OllamaStreamDecoder,
                model: str, opened: LineStream | None = None) -> Any:
        def on_end(response: ChatResponse) -> ChatResponse:
            answered = decoder.model or model
            usage = response.usage
            if usage.total_tokens == 0:  # the server reported no counts
                usage = estimate_usage(request, response.text)
            skipped = opened.skips.events() if opened and opened.skips else ()
            return attrs.evolve(response, model=answered, usage=usage,
                                cost_usd=self.cost(answered, usage),
                                trace=(*response.trace, *skipped))
        return on_end

    def _chat(self, request: ChatRequest) -> Response:
        model, body = self._body(request)
        if not request.stream:
            return self._response(request, self._send_json("POST", "/api/chat", body), model)
        opened: LineStream = self._open_lines("/api/chat", body)
        decoder = wire.OllamaStreamDecoder()
        on_end = self._finish(request, decoder, model, opened)
        return ChatStream.from_chunks(self._chunks(opened, decoder), model=model,
                                      provider=self.name, close=opened.close, on_end=on_end)

    async def _achat(self, request: ChatRequest) -> AsyncResponse:
        model, body = self._body(request)
        if not request.stream:
            return self._response(request, await self._asend_json("POST", "/api/chat", body),
                                  model)
        opened = await self._aopen_lines("/api/chat", body)
        decoder = wire.OllamaStreamDecoder()
        on_end = self._finish(request, decoder, model, opened)
        return AsyncChatStream.from_chunks(self._achunks(opened, decoder), model=model,
                                           provider=self.name, close=opened.close,
                                           on_end=on_end)

    # -- embeddings -----------------------------------------------------------------------
    def _embed_body(self, request: EmbedRequest) -> tuple[str, dict[str, Any]]:
        model = request.model or self.embedding_model
        return model, wire.embed_body(request, model=model, keep_alive=self.keep_alive)

    def _embed_response(self, data: dict[str, Any], model: str,
                        count: int) -> EmbedResponse:
        vectors, usage = wire.parse_embed(data, count)
        return EmbedResponse(vectors, model, self.name, usage, self.cost(model, usage))

    def _embed(self, request: EmbedRequest) -> Response:
        model, body = self._embed_body(request)
        data = self._send_json("POST", "/api/embed", body)
        return self._embed_response(data, model, len(request.inputs))

    async def _aembed(self, request: EmbedRequest) -> AsyncResponse:
        model, body = self._embed_body(request)
        data = await self._asend_json("POST", "/api/embed", body)
        return self._embed_response(data, model, len(request.inputs))

    # -- check ----------------------------------------------------------------------------
    def check(self) -> None:
        """Reach the server (``GET /api/tags``) and make sure ``model`` is pulled."""
        self._check_models(self._send_json("GET", "/api/tags"))

    async def acheck(self) -> None:
        self._check_models(await self._asend_json("GET", "/api/tags"))

    def _check_models(self, data: dict[str, Any]) -> None:
        names = wire.model_names(data)
        for wanted in {self.model, self.embedding_model}:
            if not wire.has_model(names, wanted):
                shown = ", ".join(sorted(names)[:10]) or "none"
                raise ConfigError(f"ollama at {self.base_url} has no model {wanted!r} "
                                  f"(pulled: {shown}); run `ollama pull {wanted}`.",
                                  path="model")

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.embedding_model != self.model:
            text = text[:-1] + f", embedding_model={self.embedding_model!r})"
        return text

    # -- models ---------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        """The models pulled on the server (``GET /api/tags``), sorted."""
        return sorted(wire.model_names(self._send_json("GET", "/api/tags")))
