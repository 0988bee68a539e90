"""The ASGI application: Starlette routes around a :class:`~.core.Gateway`.

Routes: ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models``,
``GET /v1/models/{id}`` (OpenAI); ``POST /v1/messages`` (Anthropic); ``GET /healthz``
(alive), ``GET /readyz`` (stores reachable, providers built), ``GET /metrics``
(Prometheus). The :class:`~.edge.Edge` wraps them all. On shutdown (after in-flight
requests and streams finish) the lifespan closes what the gateway built.

What must not live here: endpoint logic (:mod:`.openai_api`, :mod:`.anthropic_api`),
sockets (:mod:`.server`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from insightforge.gateway import anthropic_api, openai_api
from insightforge.gateway.body import HTTPRefusal
from insightforge.gateway.core import Gateway
from insightforge.gateway.edge import Edge

__all__ = ["create_app"]


async def healthz(request: Request) -> Response:
    return openai_api._JSON({"status": "ok"})


async def readyz(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    problems = await gateway.problems()
    if problems:
        return openai_api._JSON({"status": "not ready", "problems": problems}, 503)
    return openai_api._JSON({"status": "ready", "models": len(gateway.table)})


async def scrape(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    body, content_type = gateway.metrics.get().exposition()
    return Response(body, media_type=content_type)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        problem = HTTPRefusal(405, f"{request.url.path} does not take {request.method}", None,
                              (("Allow", (exc.headers or {}).get("Allow", "")),))
    else:
        problem = HTTPRefusal(exc.status_code, f"No route {request.method} {request.url.path}: "
                              "the gateway serves /v1/chat/completions, /v1/embeddings, "
                              "/v1/messages, /v1/models, /healthz, /readyz and /metrics",
                              "not_found")
    exchange = openai_api.exchange_of(request)
    if request.url.path == "/v1/messages":
        return anthropic_api.error_response(problem, exchange)
    return openai_api.error_response(problem, exchange)


def create_app(gateway: Gateway, *, access_log: bool = True, close: bool = True) -> Any:
    """The ASGI application serving ``gateway`` (``close``: close it at shutdown)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close:
                await gateway.aclose()

    routes = [
        Route("/v1/chat/completions", openai_api.chat, methods=["POST"]),
        Route("/v1/embeddings", openai_api.embeddings, methods=["POST"]),
        Route("/v1/messages", anthropic_api.messages, methods=["POST"]),
        Route("/v1/models", openai_api.models, methods=["GET"]),
        Route("/v1/models/{name:path}", openai_api.model, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", scrape, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error})
    app.state.gateway = gateway
    return Edge(app, gateway=gateway, access_log=access_log)
