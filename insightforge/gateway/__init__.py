"""An OpenAI-compatible HTTP gateway in front of any InsightForge stack.

Any OpenAI client — another language, ``curl``, the openai SDK — talks to the gateway, and
every request goes through the stack's middleware onion (cache, budget, rate limits,
fallback, audit)::

    from insightforge.gateway import serve
    serve(llm, port=8080, api_keys=["gw-key"])          # blocks; `insightforge serve` CLI

    with start(llm, port=0) as server:                  # background thread
        openai.OpenAI(base_url=server.url, api_key="gw-key")

Modules: ``wire`` (OpenAI request JSON -> our requests), ``request_json`` (the inverse),
``replies`` (our responses and errors -> OpenAI JSON), ``app`` (routing, auth, SSE events;
no sockets), ``server`` (the stdlib HTTP server). Standard library only. Docs:
docs/gateway.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from insightforge.gateway.app import Gateway, Reply, StreamReply
from insightforge.gateway.server import GatewayServer
from insightforge.secrets import Secret
from insightforge.stack import Handler

__all__ = ["Gateway", "GatewayServer", "Reply", "StreamReply", "serve", "start"]


def start(handler: Handler, *, host: str = "127.0.0.1", port: int = 0,
          api_keys: Iterable[str | Secret] = (), access_log: bool = False) -> GatewayServer:
    """The gateway for ``handler``, serving in a daemon thread (``port=0``: a free port)."""
    return GatewayServer(Gateway(handler, api_keys=api_keys), host, port,
                         access_log=access_log).start()


def serve(handler: Handler, *, host: str = "127.0.0.1", port: int = 8080,
          api_keys: Iterable[str | Secret] = (), access_log: bool = True) -> None:
    """Serve the gateway for ``handler`` until interrupted (blocks)."""
    with GatewayServer(Gateway(handler, api_keys=api_keys), host, port,
                       access_log=access_log) as server:
        server.serve_forever()
