"""The driver every OpenAI-wire provider shares: clients, sync/async calls, streams, errors.

What lives here: :class:`OpenAIFamily`, a :class:`~providers._base.BaseProvider` that sends
the bodies :mod:`providers._openai_wire` builds through the official openai SDK
(``client.post(path, body=..., cast_to=object)`` — the SDK's transport, auth, SSE decoding
and status errors, without its pydantic models; plain chat answers through the SDK's own
httpx2 client, :mod:`providers._openai_lean`) and parses the answers with the same module.
Subclasses (OpenAI, AzureOpenAI, OpenAICompatible, HuggingFace) only say how to build the
SDK client and which knobs differ (:attr:`stream_usage`, :attr:`estimate_usage`, paths).

What must not live here: mapping logic (that is :mod:`providers._openai_wire`), or anything
vendor-specific. ``openai`` is imported here, never from ``insightforge``.

Every HTTP stack the SDK may touch is imported with this module, before any provider exists
and never on a request thread: ``openai`` and its ``httpx2``, and the legacy ``httpx`` too —
the SDK looks ``sys.modules["httpx"]`` up on every request, so an ``httpx`` that another
thread is still importing (a lazily built client of another provider, say) would be seen
half-initialised (issue 12: ``AttributeError: partially initialized module 'httpx'``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from decimal import Decimal
from typing import Any

import attrs
import httpx  # noqa: F401  (imported whole before any request: see the module docstring)
import httpx2
import openai

from insightforge.errors import ConfigError, InsightForgeError, Unsupported
from insightforge.pricing import Price
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatRequest, ChatResponse, Chunk, EmbedRequest, EmbedResponse
from providers import _openai_lean as lean
from providers import _openai_wire as wire
from providers._base import LazyClient, PerLoop, PooledProvider
from providers._deadlines import StreamLimits, call_limits, restore_read_timeout, within
from providers._errors import detach
from providers._lines import truncated
from providers._openai_stream import AsyncEventStream, EventReader, EventStream
from providers._watch import aguard, guard, shutdown

__all__ = ["TRANSPORTS", "OpenAIFamily", "check_transport"]

TRANSPORTS = ("httpx", "aiohttp")


def check_transport(provider: str, value: str) -> str:
    """``value`` if it names a transport (``OpenAIFamily.transport``); else a
    ``ConfigError`` naming the choices."""
    if value not in TRANSPORTS:
        raise ConfigError(f"{provider}: transport must be 'httpx' (httpx2's own pool) or "
                          f"'aiohttp' (under half the CPU per async call), got {value!r}",
                          path="transport")
    return value


def _release(source: Any) -> None:
    """Close an SDK stream: its generator first (so no half-read SSE generator is left for
    the garbage collector to finalise later, at worst at interpreter exit), then its
    response. The SDK keeps the generator in ``_iterator``; ``close()`` alone only closes
    the response."""
    iterator = getattr(source, "_iterator", None)
    if iterator is not None and hasattr(iterator, "close"):
        with contextlib.suppress(Exception):
            iterator.close()
    source.close()


async def _arelease(source: Any) -> None:
    """The async twin of :func:`_release`."""
    iterator = getattr(source, "_iterator", None)
    if iterator is not None and hasattr(iterator, "aclose"):
        with contextlib.suppress(Exception):
            await iterator.aclose()
    await source.close()


class OpenAIFamily(PooledProvider):
    """Shared skeleton of the OpenAI-wire providers (see the module docstring).

    Attributes:
        stream_usage: ask for usage in streams (``stream_options.include_usage``).
        estimate_usage: when the server reports no usage, count whitespace words instead
            (the usage says ``estimated=True``); on by default.
        embeddings: whether the server offers ``/embeddings``.
        embedding_model: the default model for :class:`EmbedRequest`.
        lean_chat: send plain (not streamed) chat requests through the SDK client's own
            httpx2 client without the SDK's per-call machinery (:mod:`providers._openai_lean`:
            same headers, pool, timeout and errors, half the CPU); off for Azure, whose URLs
            and credentials stay the SDK's.
        transport: what carries the async calls: ``httpx`` (httpx2's own pool) or
            ``aiohttp`` (:mod:`providers._aiohttp`: under half the CPU per call; the
            gateway's default). Sync calls always use httpx2.
    """

    lean_chat = True
    transport = "httpx"

    chat_path = "/chat/completions"
    embed_path = "/embeddings"
    check_path = "/models"

    def _setup(self, *, embedding_model: str, stream_usage: bool = True,
               estimate_usage: bool = True, embeddings: bool = True) -> None:
        self.embedding_model = embedding_model
        self.stream_usage = stream_usage
        self.estimate_usage = estimate_usage
        self.embeddings = embeddings
        self._prices: dict[str, Price | None] = {}
        self._sync: LazyClient[Any] = LazyClient(self._new_client)
        # httpx2's pool checks every idle connection per request, so its connections are
        # split into shards (providers._base.shard_sizes); aiohttp's connector does not,
        # and one pool never leaves a request waiting while another shard has room
        self._async: PerLoop[Any] = PerLoop(
            self._new_async_client, lambda client: client.close(),
            None if self.transport == "aiohttp" else self.max_connections)

    # -- hooks for subclasses ---------------------------------------------------------------
    def _client_options(self) -> dict[str, Any]:
        """Keyword arguments for the SDK client (subclasses add theirs)."""
        raise NotImplementedError

    def _new_client(self) -> Any:
        return openai.OpenAI(**self._client_options(), http_client=openai.DefaultHttpxClient(
            limits=self._http_limits(), timeout=self.timeout))

    def _new_async_client(self, connections: int | None = None) -> Any:
        """An async SDK client; ``connections``: its pool's size (one shard of the
        provider's ``max_connections``: :func:`~providers._base.shard_sizes`)."""
        limits = self._http_limits(connections)
        extra: dict[str, Any] = {}
        if self.transport == "aiohttp":
            from providers._aiohttp import AiohttpTransport  # aiohttp loads only when used

            extra["transport"] = AiohttpTransport(
                connections=connections or self.max_connections)
        return openai.AsyncOpenAI(**self._client_options(),
                                  http_client=openai.DefaultAsyncHttpxClient(
                                      limits=limits, timeout=self.timeout, **extra))

    def _http_limits(self, connections: int | None = None) -> Any:
        size = self.max_connections if connections is None else connections
        return httpx2.Limits(max_connections=size, max_keepalive_connections=size)

    def _key(self) -> str:
        """The credential for the SDK; servers without auth get a harmless placeholder."""
        return self._api_key.reveal() if self._api_key else "no-key"

    def _price_model(self, model: str) -> str:
        """The model whose price applies when ``model`` answered (Azure: the deployed model)."""
        return model

    # -- money ------------------------------------------------------------------------------
    def _price_of(self, model: str) -> Price | None:
        try:
            return self._prices[model]
        except KeyError:
            price = self._prices[model] = self.price(self._price_model(model))
            return price

    def _cost(self, model: str, response: ChatResponse | EmbedResponse,
              options: Mapping[str, Any] | None = None) -> Decimal | None:
        """The exact price of the whole usage, at the service tier ``options`` ask for."""
        price = self._price_of(model)
        return None if price is None else price.cost(response.usage, options=options)

    def _finish(self, request: ChatRequest, model: str, response: ChatResponse,
                meta: EventReader | None = None) -> ChatResponse:
        usage = response.usage
        if self.estimate_usage and not usage.input_tokens and not usage.output_tokens:
            usage = wire.estimate_usage(request, response.text)
        changes: dict[str, Any] = {"usage": usage}
        if meta is not None:
            changes["id"] = meta.id or response.id
            changes["model"] = meta.model or response.model
            if meta.skipped:
                changes["trace"] = (*response.trace, *meta.events())
        response = attrs.evolve(response, **changes)
        return attrs.evolve(response, cost_usd=self._cost(model, response, request.options))

    # -- chat -------------------------------------------------------------------------------
    def _sdk(self, call: Callable[[], Any]) -> Any:
        """``call()``'s answer; an SDK failure leaves mapped, with no exception chain (the
        SDK's exception holds the request and its headers)."""
        try:
            return call()
        except Exception as exc:
            error = wire.map_error(self.name, exc)
        raise detach(error)

    async def _asdk(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except Exception as exc:
            error = wire.map_error(self.name, exc)
        raise detach(error)

    def _body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        return wire.chat_body(request, model=model, stream_usage=self.stream_usage,
                              prompt_caching="prompt_caching" in self.capabilities,
                              provider=self.name)

    def _chat(self, request: ChatRequest) -> ChatResponse | ChatStream:
        model = request.model or self.model
        body = self._body(request, model)
        client = self._sync.get()
        if request.stream:
            return self._open_stream(client, body, request, model)
        if self.lean_chat:
            data = self._sdk(lambda: lean.post(self.name, client, self._key(), self.chat_path,
                                               body))
        else:
            data = self._sdk(lambda: client.post(self.chat_path, body=body, cast_to=object))
        return self._answer(request, model, data)

    async def _achat(self, request: ChatRequest) -> ChatResponse | AsyncChatStream:
        model = request.model or self.model
        body = self._body(request, model)
        client = self._async.get()
        if request.stream:
            limits, started = call_limits(), time.monotonic()
            source = await within(self._asdk(client.post(
                self.chat_path, body=body, cast_to=object, stream=True,
                stream_cls=AsyncEventStream)), limits, self.name, started)
            return self._astream(source, request, model, limits, started)
        if self.lean_chat:
            data = await self._asdk(lean.apost(self.name, client, self._key(), self.chat_path,
                                               body))
        else:
            data = await self._asdk(client.post(self.chat_path, body=body, cast_to=object))
        return self._answer(request, model, data)

    def _open_stream(self, client: Any, body: Any, request: ChatRequest,
                     model: str) -> ChatStream:
        """Send, wait for the headers (within the first-token limit), and read the stream."""
        limits, started = call_limits(), time.monotonic()
        head = limits.head(self.timeout)
        options: Any = {} if head is None else {"timeout": httpx2.Timeout(self.timeout,
                                                                           read=head)}
        try:
            source = self._sdk(lambda: client.post(self.chat_path, body=body, cast_to=object,
                                                   options=options, stream=True,
                                                   stream_cls=EventStream))
        except InsightForgeError as err:
            error = limits.first_token_error(err, self.name, head)
        else:
            if head is not None:
                restore_read_timeout(source.response, self.timeout)
            return self._stream(source, request, model, limits, started)
        raise detach(error)

    def _answer(self, request: ChatRequest, model: str, data: Any) -> ChatResponse:
        response = wire.parse_chat(data, provider=self.name, model=model)
        if self.estimate_usage and response.usage.total_tokens == 0:
            return self._finish(request, model, response)
        return attrs.evolve(response, cost_usd=self._cost(model, response, request.options))

    def _ended_early(self, chunks: int, meta: EventReader | None = None) -> InsightForgeError:
        """A stream cut before its finish chunk: the same rule as every provider (retryable);
        one that skipped undecodable events on the way is a malformed stream."""
        if meta is not None and meta.skipped:
            return wire.malformed(self.name, f"a stream ({meta.skipped} undecodable "
                                  "event(s), then no finish chunk)")
        return truncated(self.name, "no finish chunk", chunks)

    def _reader(self) -> EventReader:
        return EventReader(self.name, skip=self.malformed_events == "skip",
                           usage_expected=self.stream_usage)

    def _stream(self, source: Any, request: ChatRequest, model: str, limits: StreamLimits,
                started: float) -> ChatStream:
        meta = self._reader()
        name = self.name
        asked = getattr(source.response, "request", None)

        def chunks() -> Generator[Chunk, None, None]:
            count = 0
            try:
                for event in source:
                    chunk = meta.feed(event.data, asked)
                    if chunk is not None:
                        count += 1
                        yield chunk
                    if meta.complete:  # finish (and usage) came: no need to wait for [DONE]
                        return
            except Exception as exc:
                error = wire.map_stream_error(name, exc, count)
            else:
                if meta.finished:
                    return
                error = self._ended_early(count, meta)
            finally:
                _release(source)
            raise detach(error)  # outside the except block: no SDK exception in the chain

        gen = chunks()
        guarded = guard(gen, limits, provider=name, started=started,
                        interrupt=shutdown(source.response))

        def close() -> None:
            guarded.close()  # type: ignore[attr-defined]
            gen.close()
            _release(source)

        return ChatStream.from_chunks(
            guarded, model=model, provider=name, close=close,
            on_end=lambda response: self._finish(request, model, response, meta))

    def _astream(self, source: Any, request: ChatRequest, model: str, limits: StreamLimits,
                 started: float) -> AsyncChatStream:
        meta = self._reader()
        name = self.name
        asked = getattr(source.response, "request", None)

        async def chunks() -> AsyncGenerator[Chunk, None]:
            count = 0
            try:
                async for event in source:
                    chunk = meta.feed(event.data, asked)
                    if chunk is not None:
                        count += 1
                        yield chunk
                    if meta.complete:
                        return
            except Exception as exc:
                error = wire.map_stream_error(name, exc, count)
            else:
                if meta.finished:
                    return
                error = self._ended_early(count, meta)
            finally:
                await _arelease(source)
            raise detach(error)

        gen = chunks()
        guarded = aguard(gen, limits, provider=name, started=started)

        async def close() -> None:
            await guarded.aclose()  # type: ignore[attr-defined]
            await gen.aclose()
            await _arelease(source)

        return AsyncChatStream.from_chunks(
            guarded, model=model, provider=name, close=close,
            on_end=lambda response: self._finish(request, model, response, meta))

    # -- embeddings -------------------------------------------------------------------------
    def _no_embeddings(self) -> Unsupported:
        return Unsupported(f"{self.name} does not offer embeddings (embeddings=False); use "
                           "another provider for EmbedRequest.", provider=self.name)

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        if not self.embeddings:
            raise self._no_embeddings()
        model = request.model or self.embedding_model
        client = self._sync.get()
        data = self._sdk(lambda: client.post(self.embed_path,
                                             body=wire.embed_body(request, model),
                                             cast_to=object))
        return self._embedded(request, model, data)

    async def _aembed(self, request: EmbedRequest) -> EmbedResponse:
        if not self.embeddings:
            raise self._no_embeddings()
        model = request.model or self.embedding_model
        data = await self._asdk(self._async.get().post(
            self.embed_path, body=wire.embed_body(request, model), cast_to=object))
        return self._embedded(request, model, data)

    def _embedded(self, request: EmbedRequest, model: str, data: Any) -> EmbedResponse:
        response = wire.parse_embeddings(data, provider=self.name, model=model,
                                         count=len(request.inputs))
        return attrs.evolve(response, cost_usd=self._cost(model, response, request.options))

    # -- check and life ---------------------------------------------------------------------
    def _checked(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise wire.malformed(self.name, f"an answer to GET {self.check_path}")

    def check(self) -> None:
        """List the models (a cheap authenticated call); raises the mapped error."""
        client = self._sync.get()
        data = self._sdk(lambda: client.get(self.check_path, cast_to=object))
        self._checked(data)

    async def acheck(self) -> None:
        data = await self._asdk(self._async.get().get(self.check_path, cast_to=object))
        self._checked(data)

    # -- models -------------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        """The models ``GET {check_path}`` lists (``/models``; TGI's ``/info``: its one
        model), sorted."""
        client = self._sync.get()
        data = self._sdk(lambda: client.get(self.check_path, cast_to=object))
        return listed_models(self.name, data, f"an answer to GET {self.check_path}")


def listed_models(provider: str, data: Any, what: str) -> list[str]:
    """The model ids of an OpenAI-style list (``{"data": [{"id": ...}]}``, Anthropic's too)
    or of TGI's ``/info`` (``{"model_id": ...}``), sorted. Pure."""
    if isinstance(data, dict) and isinstance(data.get("model_id"), str):
        return [data["model_id"]]
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise wire.malformed(provider, what)
    return sorted({item["id"] for item in items
                   if isinstance(item, dict) and isinstance(item.get("id"), str)})
