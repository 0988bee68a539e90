"""The gateway's state, apart from HTTP: models, keys, per-key limits, settings, metrics.

:class:`Gateway` is what the ASGI application (:mod:`.app`) serves: it answers "who is
calling" (:meth:`Gateway.caller`), "what answers this model for them" (:meth:`Gateway.route`)
and "is everything reachable" (:meth:`Gateway.problems`), and closes what it built. Build it
from a config (:meth:`Gateway.from_config`: the ``models:`` and ``gateway:`` sections) or
around one handler (:meth:`Gateway.for_handler`).

What must not live here: request parsing and rendering (:mod:`.wire`, :mod:`.replies`,
:mod:`.anthropic_wire`), sockets (:mod:`.server`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from insightforge.config.models import GatewaySettings
from insightforge.config.problems import Problems
from insightforge.config.schema import LayerConfig
from insightforge.errors import StoreUnavailable
from insightforge.gateway.auth import Caller, Keys
from insightforge.gateway.body import HTTPRefusal
from insightforge.gateway.keystore import KeyStore, keystore_from
from insightforge.gateway.metrics import Lazy
from insightforge.gateway.models import ModelTable, Served
from insightforge.gateway.tenancy import Tenancy
from insightforge.secrets import Secret
from insightforge.stack import Handler

__all__ = ["Gateway"]

Source = str | os.PathLike[str] | Mapping[str, Any]


def _no_layer_prometheus(layers: Iterable[LayerConfig], path: str, problems: Problems) -> None:
    """An ``otel`` layer may not also record into Prometheus: the gateway's /metrics records
    the same instruments for every request, so they would count twice or not be served."""
    for layer in layers:
        if layer.name == "otel" and layer.options.get("metrics") == "prometheus":
            problems.add(f"{path}[{layer.index}].otel.metrics",
                         "the gateway's /metrics records these instruments for every request "
                         "itself; remove metrics: prometheus (keep the layer for spans, or "
                         "use metrics: otel to export through OpenTelemetry)")
        for alternate in layer.alternates:
            if not isinstance(alternate, str):
                _no_layer_prometheus(alternate.layers, f"{path}[{layer.index}].fallback",
                                     problems)


class Gateway:
    """What the HTTP application serves (see the module docstring).

    Attributes:
        table: the model table. keys: the key check. tenancy: the per-key layers.
        settings: the ``gateway:`` settings. metrics: its /metrics instruments, made on
        first use (``metrics.get()``: a :class:`~.metrics.GatewayMetrics`).
    """

    def __init__(self, table: ModelTable, *, keys: Keys | None = None,
                 tenancy: Tenancy | None = None, settings: GatewaySettings | None = None,
                 owned: Iterable[Any] = ()) -> None:
        self.table = table
        self.settings = settings or GatewaySettings()
        self.keys = keys or Keys()
        self.tenancy = tenancy or Tenancy(self.settings.store,
                                          rate_limit_wait=self.settings.rate_limit_wait)
        self.metrics = Lazy(self.settings.tenant_label_limit)
        self._owned = tuple(owned)

    # -- making one ---------------------------------------------------------------------
    @classmethod
    def for_handler(cls, handler: Handler, *, api_keys: Iterable[str | Secret] = (),
                    key_store: KeyStore | str | None = None,
                    settings: GatewaySettings | None = None) -> Gateway:
        """One handler (a stack) behind the gateway; the caller closes ``handler``."""
        settings = settings or GatewaySettings()
        store = None if key_store is None else keystore_from(key_store)
        keys = Keys(api_keys, store, ttl=settings.key_cache_seconds)
        return cls(ModelTable.single(handler), keys=keys, settings=settings,
                   owned=() if store is None or store is key_store else (store,))

    @classmethod
    def from_config(cls, source: Source, *, api_keys: Iterable[str | Secret] = (),
                    key_store: KeyStore | str | None = None, provider: str | None = None,
                    env: Mapping[str, str] | None = None) -> Gateway:
        """The gateway a config describes: ``models:`` (else the one stack), ``gateway:``.

        ``key_store`` (``--store``) overrides ``gateway.keys``; ``provider`` picks the
        primary instance when there is no ``models:`` section.
        """
        from insightforge.config.build import build
        from insightforge.config.load import prepare
        from insightforge.config.models import parse_gateway, parse_models
        from insightforge.config.parse import _layers, parse_config

        doc, problems = prepare(source, env)
        config = _lean_upstream(parse_config(doc, problems))
        scratch = Problems()
        entries = parse_models(doc.get("models"), scratch, set(config.providers), _layers)
        settings = parse_gateway(doc.get("gateway"), scratch)
        _no_layer_prometheus(config.stack, "$.stack", scratch)
        for entry in entries:
            if entry.stack is not None:
                _no_layer_prometheus(entry.stack, f"$.models.{entry.name}.stack", scratch)
        scratch.raise_if_any()
        if entries:
            table = ModelTable.from_config(config, entries,
                                           per_tenant_cache=settings.cache_per_tenant)
        else:
            if settings.cache_per_tenant:
                from insightforge.gateway.models import _with_cache_key

                config = attrs.evolve(config, stack=_with_cache_key(config.stack))
            table = ModelTable.single(build(config, provider=provider), own=True)
        spec = key_store if key_store is not None else settings.keys
        store = None if spec is None else keystore_from(spec)
        keys = Keys(api_keys, store, ttl=settings.key_cache_seconds)
        return cls(table, keys=keys, settings=settings,
                   owned=() if store is None or store is key_store else (store,))

    # -- per request --------------------------------------------------------------------
    async def caller(self, token: str | None) -> Caller:
        """Who ``token`` speaks for (raises :class:`~.auth.Unauthorized`)."""
        return await self.keys.caller(token)

    def route(self, caller: Caller, name: Any) -> tuple[Served, str | None, Handler]:
        """``(served, upstream model, handler)`` for ``caller`` asking for ``name``.

        An unknown name is a 404 :class:`~.body.HTTPRefusal`; one the key may not use, a 403.
        """
        if name is not None and not isinstance(name, str):
            raise HTTPRefusal(400, "model: expected a string naming a model the gateway lists")
        found = self.table.resolve(name)
        if found is None:
            raise HTTPRefusal(404, f"The model {name!r} does not exist on this gateway; "
                              "GET /v1/models lists the models you may ask for",
                              "model_not_found")
        served, upstream = found
        if not caller.may_use(served.name if upstream is None else upstream):
            raise HTTPRefusal(403, f"Your gateway key may not use the model {name!r}; "
                              "GET /v1/models lists the models it may ask for",
                              "model_not_allowed")
        return served, upstream, self.tenancy.handler(caller, served)

    def listing(self, caller: Caller) -> list[tuple[str, str]]:
        """``(name, owner)`` of every name ``caller`` may ask for (``/v1/models``)."""
        return self.table.listing(caller.may_use)

    # -- operations ---------------------------------------------------------------------
    async def problems(self) -> list[str]:
        """What is not ready (``/readyz``): unreachable key store or shared store."""
        out = []
        checks = [("key store", self.keys.store.ping)] if self.keys.store is not None else []
        checks.append(("budget/rate-limit store", self.tenancy.ping))
        for what, check in checks:
            try:
                await asyncio.wait_for(asyncio.to_thread(check), timeout=3.0)
            except StoreUnavailable as exc:  # the store's own kind of failure, no address
                out.append(f"{what} unreachable ({exc.reason.partition(':')[0]})")
            except Exception as exc:
                out.append(f"{what} unreachable ({type(exc).__name__})")
        if len(self.table) == 0:
            out.append("no models")
        return out

    async def aclose(self) -> None:
        """Close the providers and stores this gateway built (never a handler passed in)."""
        await self.table.aclose()
        self.tenancy.close()
        for item in self._owned:
            item.close()


def _takes_transport(kind: str) -> bool:
    import inspect

    from insightforge import registry

    try:
        factory = registry.provider_factory(kind)
        return "transport" in inspect.signature(factory).parameters
    except (ValueError, TypeError, LookupError):  # ConfigError is a ValueError
        return False


def _lean_upstream(config: Any) -> Any:
    """``config`` with every provider that can carry its async calls over aiohttp doing so
    (:mod:`providers._aiohttp`: under half the CPU of httpx2's pool per upstream call, the
    gateway's largest cost) unless its ``options`` name a ``transport``."""
    providers = {
        name: attrs.evolve(spec, options={**spec.options, "transport": "aiohttp"})
        if "transport" not in spec.options and _takes_transport(spec.type) else spec
        for name, spec in config.providers.items()}
    return attrs.evolve(config, providers=providers)
