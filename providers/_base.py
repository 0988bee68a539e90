"""What every built-in provider shares: options, credential, price, routes, client life.

A provider subclasses :class:`BaseProvider`, sets the class attributes (``name``,
``env_vars``, ``default_base_url``, ``key_required``, ``capabilities``) and implements
``_chat``/``_achat`` and ``_embed``/``_aembed`` plus ``check``. This base validates the
common keyword options (``model``, ``base_url``, ``timeout`` — always finite — and the
credential), resolves the credential (argument, environment, keyring), prices usage, and
keeps one pooled client per world (sync, async) for the provider's life, created on first
use and closed by ``close``/``aclose``. No secret is ever part of ``repr``.

Around every chat call it refuses, before any network call, what the provider's
``capabilities`` do not cover (:func:`providers._capabilities.require`: an image, a JSON
Schema, reasoning...), and it sets ``response.parsed`` when the request asked for JSON
(plain and streamed answers alike).

It also keeps what every stream shares: the first-token and stall limits
(``first_token_timeout``, ``stall_timeout``; a request's ``options`` override them and are
taken off before the body is built, :mod:`providers._deadlines`), what to do with one
undecodable stream event (``malformed_events``: ``skip`` it with a trace event, or
``fail``), and what the routes say: the context window and whether the model continues a
prefill.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable, Coroutine, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

from insightforge import credentials
from insightforge.errors import ConfigError, InsightForgeError, InvalidRequest, Unsupported
from insightforge.pricing import Price, price_for
from insightforge.secrets import Secret
from insightforge.stack import AsyncResponse, Request, Response
from insightforge.types import ChatRequest, EmbedRequest, Route, Usage
from providers._capabilities import require
from providers._deadlines import CALL_LIMITS, StreamLimits, limits_for, local_options
from providers._errors import detach
from providers._parsing import parsed

__all__ = ["SHARD", "BaseProvider", "LazyClient", "PerLoop", "PooledProvider", "shard_sizes"]

C = TypeVar("C")
R = TypeVar("R")


class LazyClient(Generic[C]):
    """One client, built on first use under a lock, closed once."""

    def __init__(self, factory: Callable[[], C]) -> None:
        self._factory = factory
        self._client: C | None = None
        self._lock = threading.Lock()

    def get(self) -> C:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory()
                client = self._client
        return client

    def take(self) -> C | None:
        """Forget the client and hand it over for closing."""
        with self._lock:
            client, self._client = self._client, None
        return client


#: The most connections one async pool holds before a provider's pool is split (see
#: :func:`shard_sizes`).
SHARD = 16


def shard_sizes(connections: int) -> list[int]:
    """How ``connections`` are split into async pools: one pool up to ``2 * SHARD - 1``,
    above that pools of about ``SHARD`` each, summing to ``connections``.

    httpcore checks every idle connection of a pool with a ``poll()`` each time it assigns a
    request (``has_expired``): ~19 µs per idle connection per request on the development
    machine, so one pool of 200 spends ~5 ms of CPU per request where one of 16 spends
    ~1.3 ms. Several small pools, used in turn, keep that cost flat.
    """
    count = max(1, connections // SHARD)
    base, extra = divmod(connections, count)
    return [base + (i < extra) for i in range(count)]


class PerLoop(Generic[C]):
    """One async client per running event loop, built on first use there — or, for a pool
    larger than :data:`SHARD` allows, several clients of :func:`shard_sizes`, used in turn.

    An async client's connections belong to the loop that opened them, so a client is
    never shared across loops: code that calls ``asyncio.run(provider.acall(...))`` twice
    gets a fresh client the second time. Clients of loops that have since closed are
    dropped (they cannot be closed any more; ``aclose`` inside the loop avoids that).
    ``closer(client)`` returns the coroutine that closes one client. With ``connections``,
    ``factory(n)`` builds a client of ``n`` connections; without, ``factory()``.
    """

    def __init__(self, factory: Callable[..., C],
                 closer: Callable[[C], Coroutine[Any, Any, Any]],
                 connections: int | None = None) -> None:
        self._factory = factory
        self._closer = closer
        self._sizes: list[int] | None = None if connections is None else shard_sizes(connections)
        self._clients: dict[asyncio.AbstractEventLoop, tuple[C, ...]] = {}
        self._lock = threading.Lock()
        self._closing: set[asyncio.Task[Any]] = set()
        self._turn = 0

    def _build(self) -> tuple[C, ...]:
        if self._sizes is None:
            return (self._factory(),)
        return tuple(self._factory(size) for size in self._sizes)

    def get(self) -> C:
        loop = asyncio.get_running_loop()
        with self._lock:
            for old in [old for old in self._clients if old.is_closed()]:
                del self._clients[old]
            clients = self._clients.get(loop)
            if clients is None:
                clients = self._clients[loop] = self._build()
            if len(clients) == 1:
                return clients[0]
            self._turn += 1
            return clients[self._turn % len(clients)]

    async def aclose(self) -> None:
        """Close this loop's client (and, best-effort, the others; see :meth:`close`)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            clients = self._clients.pop(loop, ())
        for client in clients:
            await self._closer(client)
        self.close()

    def close(self) -> None:
        """Close every client best-effort from synchronous code.

        A client whose loop is running here is closed by a task on it; one whose loop is
        idle is closed by running that loop; one whose loop has closed is dropped.
        """
        with self._lock:
            clients, self._clients = self._clients, {}
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, pools in clients.items():
            for client in pools:
                if loop is running:
                    task = loop.create_task(self._closer(client))
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)
                elif not loop.is_closed() and not loop.is_running():
                    with contextlib.suppress(Exception):
                        loop.run_until_complete(self._closer(client))


class BaseProvider:
    """Shared skeleton of the built-in providers (see the module docstring)."""

    # Class-level defaults; a subclass whose instances differ (an OpenAI-compatible server
    # with its own name, Azure with a token provider) assigns them before ``super().__init__``.
    name: str = "provider"
    env_vars: tuple[str, ...] = ()
    default_base_url: ClassVar[str] = ""
    key_required: bool = True
    default_timeout: ClassVar[float] = 60.0
    capabilities: frozenset[str] = frozenset()
    """What the provider can take beyond text chat (see :data:`providers._capabilities.
    CAPABILITIES`); requests needing anything else raise ``Unsupported``."""
    prefill: bool = False
    """The model continues a conversation that ends with an assistant message (so a cut
    stream is continued by prefill); a provider whose models differ overrides
    :meth:`continues_prefill`."""

    def __init__(self, *, model: str, base_url: str | None = None,
                 timeout: float | None = None, api_key: str | Secret | None = None,
                 keyring_entry: str | None = None, price: Price | dict[str, Any] | None = None,
                 max_connections: int = 20, first_token_timeout: float | None = None,
                 stall_timeout: float | None = None, context_window: int | None = None,
                 malformed_events: str = "skip") -> None:
        if not isinstance(model, str) or not model:
            raise ConfigError(f"{self.name}: model must be a non-empty string, got {model!r}",
                              path="model")
        timeout = self.default_timeout if timeout is None else timeout
        if not _positive(timeout):
            raise ConfigError(f"{self.name}: timeout must be a finite number of seconds > 0, "
                              f"got {timeout!r}", path="timeout")
        for option, value in (("first_token_timeout", first_token_timeout),
                              ("stall_timeout", stall_timeout)):
            if value is not None and not _positive(value):
                raise ConfigError(f"{self.name}: {option} must be a finite number of seconds "
                                  f"> 0 (or None for no limit), got {value!r}", path=option)
        if context_window is not None and (isinstance(context_window, bool) or not isinstance(
                context_window, int) or context_window < 1):
            raise ConfigError(f"{self.name}: context_window must be a number of tokens >= 1, "
                              f"got {context_window!r}", path="context_window")
        if malformed_events not in ("skip", "fail"):
            raise ConfigError(f"{self.name}: malformed_events must be 'skip' (drop one "
                              "undecodable stream event, with a trace event) or 'fail', got "
                              f"{malformed_events!r}", path="malformed_events")
        self.stream_limits = StreamLimits(
            None if first_token_timeout is None else float(first_token_timeout),
            None if stall_timeout is None else float(stall_timeout))
        self.context_window = context_window
        self.malformed_events = malformed_events
        if max_connections < 1:
            raise ConfigError(f"{self.name}: max_connections must be >= 1", path="max_connections")
        self.model = model
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        if not self.base_url:
            raise ConfigError(f"{self.name}: base_url is required", path="base_url")
        self.timeout = float(timeout)
        self.max_connections = max_connections
        self.keyring_entry = keyring_entry or self.name
        self._price_override = (price if isinstance(price, Price) or price is None
                                else Price(**price))
        self._api_key = credentials.resolve(api_key, provider=self.name, env=self.env_vars,
                                            keyring_entry=self.keyring_entry,
                                            required=self.key_required)

    # -- money and routes ---------------------------------------------------------------
    def price(self, model: str | None = None) -> Price | None:
        """The price of ``model`` (default: this provider's model), ``None`` if unknown."""
        if self._price_override is not None and (model is None or model == self.model):
            return self._price_override
        return price_for(self.name, model or self.model)

    def cost(self, model: str, usage: Usage, *,
             options: Mapping[str, object] | None = None) -> Decimal | None:
        """The exact price of the whole ``usage`` (cache reads and writes, reasoning, the
        long-context tier), at the variant ``options`` select (``service_tier``)."""
        price = self.price(model)
        return None if price is None else price.cost(usage, options=options)

    def window(self, model: str | None = None) -> int | None:
        """The context window of ``model`` (default: this provider's) in tokens: the one
        given as ``context_window``, else the one genai-prices lists, else ``None``."""
        if self.context_window is not None and (model is None or model == self.model):
            return self.context_window
        from insightforge.pricing import context_window

        return context_window(self.name, model or self.model)

    def continues_prefill(self, model: str | None = None) -> bool:
        """Whether ``model`` continues a final assistant message (:attr:`prefill`)."""
        return self.prefill

    def routes(self) -> tuple[Route, ...]:
        return (Route(self.name, self.model, self.price(), self.base_url,
                      context_window=self.window(), prefill=self.continues_prefill()),)

    # -- dispatch -----------------------------------------------------------------------
    def _limited(self, request: ChatRequest) -> tuple[ChatRequest, Any]:
        """The request without InsightForge's own options, and the call's stream limits
        set for the provider's stream code to read (:data:`providers._deadlines.
        CALL_LIMITS`)."""
        limits = limits_for(self.name, self.stream_limits, request) if request.stream \
            else StreamLimits()
        return local_options(request), CALL_LIMITS.set(limits)

    def __call__(self, request: Request, /) -> Response:
        try:
            if isinstance(request, ChatRequest):
                require(self, request)
                request, token = self._limited(request)
                try:
                    return self._parsed(request, self._chat(request))
                finally:
                    CALL_LIMITS.reset(token)
            if isinstance(request, EmbedRequest):
                return self._embed(request)
        except InsightForgeError as err:
            error = err
        else:
            error = self._not_a_request(request)
        raise detach(error)  # outside the except block: no SDK exception in the chain

    async def acall(self, request: Request, /) -> AsyncResponse:
        try:
            if isinstance(request, ChatRequest):
                require(self, request)
                request, token = self._limited(request)
                try:
                    return self._parsed(request, await self._achat(request))
                finally:
                    CALL_LIMITS.reset(token)
            if isinstance(request, EmbedRequest):
                return await self._aembed(request)
        except InsightForgeError as err:
            error = err
        else:
            error = self._not_a_request(request)
        raise detach(error)

    def _parsed(self, request: ChatRequest, result: R) -> R:
        """``result`` with ``parsed`` set at its end when the request asked for JSON."""
        return parsed(self.name, request, result)

    def _not_a_request(self, request: object) -> InvalidRequest:
        return InvalidRequest(f"{self.name} got {type(request).__name__}; "
                              "pass a ChatRequest or an EmbedRequest")

    def _chat(self, request: ChatRequest) -> Response:
        raise NotImplementedError

    async def _achat(self, request: ChatRequest) -> AsyncResponse:
        raise NotImplementedError

    def _embed(self, request: EmbedRequest) -> Response:
        raise NotImplementedError

    async def _aembed(self, request: EmbedRequest) -> AsyncResponse:
        raise NotImplementedError

    def check(self) -> None:
        """A cheap authenticated call; raises the mapped error on failure."""
        raise NotImplementedError

    async def acheck(self) -> None:
        raise NotImplementedError

    def list_models(self) -> list[str]:
        """The models the server offers now (its own list, not the price table), sorted;
        ``Unsupported`` where the API cannot list them (``insightforge models``)."""
        raise Unsupported(f"{self.name} cannot list the models its server offers",
                          provider=self.name)

    # -- life -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the pooled clients (sync; an async client is closed best-effort)."""

    async def aclose(self) -> None:
        self.close()

    def __enter__(self) -> BaseProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> BaseProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        default = self.base_url == self.default_base_url
        where = "" if default else f", base_url={self.base_url!r}"
        return f"{type(self).__name__}(model={self.model!r}{where})"


def _positive(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


class PooledProvider(BaseProvider):
    """A provider with one pooled sync client for its life and one async client per event
    loop (:class:`LazyClient`, :class:`PerLoop`), both closed by ``close``/``aclose``.

    Subclasses make ``self._sync`` and ``self._async`` in ``__init__`` from their
    ``_new_client``/``_new_async_client``; this class owns closing them, once, for all.
    """

    _sync: LazyClient[Any]
    _async: PerLoop[Any]

    def close(self) -> None:
        """Close the sync client and, best-effort, the async ones (see :class:`PerLoop`)."""
        client = self._sync.take()
        if client is not None:
            client.close()
        self._async.close()

    async def aclose(self) -> None:
        """Close this loop's async client, then everything else."""
        await self._async.aclose()
        self.close()
