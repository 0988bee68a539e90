"""The InsightForge gateway: any stack behind an HTTP server speaking the OpenAI and the
Anthropic APIs, with virtual keys bound to tenants, many models and /metrics.

::

    from insightforge.gateway import start, serve
    with start(llm, api_keys=["gw-key"]) as server:        # background thread, free port
        openai.OpenAI(base_url=server.url, api_key="gw-key")
    serve(llm, port=8080)                                   # blocks (`insightforge serve`)

    gateway = Gateway.from_config("insightforge.yaml")      # models:, gateway: sections
    with start(gateway) as server: ...

Modules: ``wire`` / ``request_json`` / ``replies`` (the OpenAI format, pure),
``anthropic_wire`` (the Anthropic Messages format, pure), ``keystore`` (virtual keys and
their stores), ``auth`` (key -> caller), ``models`` (the model table), ``tenancy``
(per-key layers, tags), ``core`` (:class:`Gateway`), ``body`` (bounded bodies and JSON),
``exchange`` / ``edge`` / ``metrics`` / ``accesslog`` (per-request facts, request ids,
access log, Prometheus), ``openai_api`` / ``anthropic_api`` / ``sse`` / ``app`` (the ASGI
application), ``server`` (uvicorn). Docs: docs/gateway.md.

Importing this package is cheap; Starlette, uvicorn and prometheus-client load on use.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from insightforge.gateway.core import Gateway
    from insightforge.gateway.keystore import KeyRecord, KeyStore
    from insightforge.gateway.models import tenant_cache_key
    from insightforge.gateway.server import GatewayServer
    from insightforge.secrets import Secret
    from insightforge.stack import Handler

__all__ = ["Gateway", "GatewayServer", "KeyRecord", "KeyStore", "create_app", "serve",
           "start", "tenant_cache_key"]

_WHERE = {"Gateway": "core", "GatewayServer": "server", "KeyRecord": "keystore",
          "KeyStore": "keystore", "create_app": "app", "tenant_cache_key": "models"}


def _gateway(handler: Handler | Gateway, api_keys: Iterable[str | Secret],
             key_store: KeyStore | str | None) -> Gateway:
    from insightforge.gateway.core import Gateway

    if isinstance(handler, Gateway):
        if api_keys or key_store is not None:
            raise TypeError("give api_keys/key_store to Gateway.from_config, not with a "
                            "Gateway")
        return handler
    return Gateway.for_handler(handler, api_keys=api_keys, key_store=key_store)


def start(handler: Handler | Gateway, *, host: str = "127.0.0.1", port: int = 0,
          api_keys: Iterable[str | Secret] = (), key_store: KeyStore | str | None = None,
          access_log: bool = False) -> GatewayServer:
    """The gateway for ``handler`` (a stack, or a :class:`Gateway`), serving in a daemon
    thread (``port=0``: a free port). Stop it with ``stop()`` or a ``with`` block; a
    ``Gateway`` passed in is closed at the stop, a handler is left to its owner."""
    from insightforge.gateway.app import create_app
    from insightforge.gateway.server import GatewayServer

    gateway = _gateway(handler, api_keys, key_store)
    app = create_app(gateway, access_log=access_log, close=True)
    return GatewayServer(app, host, port, max_head=gateway.settings.max_header_bytes).start()


def serve(handler: Handler | Gateway, *, host: str = "127.0.0.1", port: int = 8080,
          api_keys: Iterable[str | Secret] = (), key_store: KeyStore | str | None = None,
          access_log: bool = True) -> None:
    """Serve the gateway for ``handler`` until interrupted (blocks; one process)."""
    import uvicorn

    from insightforge.gateway.accesslog import to_stderr
    from insightforge.gateway.app import create_app
    from insightforge.gateway.server import listen, uvicorn_config

    gateway = _gateway(handler, api_keys, key_store)
    if access_log:
        to_stderr()
    sock = listen(host, port)
    config = uvicorn_config(create_app(gateway, access_log=access_log),
                            max_head=gateway.settings.max_header_bytes)
    uvicorn.Server(config).run(sockets=[sock])


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"insightforge.gateway.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'insightforge.gateway' has no attribute {name!r}")
