"""A layer stated as a flow: :class:`FlowLayer` (mix into the attrs configuration class) and
:class:`FlowHandler` (the handler every flow layer gets, with both drivers).

A flow layer implements ``flow(request, handler)`` — a generator, see
:mod:`insightforge.kit` — and optionally ``open(inner)``, which makes the per-handler state
(counters, flights, a cached route key) once when the layer wraps a handler, and ``close()``,
which releases what the layer holds (its store, its sink). The handler exposes the state's
public attributes, so ``llm.handler.in_flight`` reads the state of a bulkhead.
"""

from __future__ import annotations

from typing import Any

from insightforge.kit.drivers import Flow, adrive, drive
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response

__all__ = ["FlowHandler", "FlowLayer"]


class FlowLayer:
    """Mix-in for a layer whose per-call logic is one flow (see the module docstring)."""

    __slots__ = ()

    def __call__(self, inner: Handler) -> FlowHandler:
        return FlowHandler(self, inner)

    def open(self, inner: Handler) -> Any:
        """The per-handler state (``handler.state``); ``None`` by default."""
        return None

    def flow(self, request: Request, handler: FlowHandler) -> Flow:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        """Release the layer's own resources (a store, a sink); it may be used again after."""


class FlowHandler(Middleware):
    """Runs ``layer.flow`` with the sync or the async driver."""

    __slots__ = ("_flow", "state")
    layer: FlowLayer

    def __init__(self, layer: FlowLayer, inner: Handler) -> None:
        super().__init__(layer, inner)
        self.state = layer.open(inner)
        self._flow = layer.flow

    def __call__(self, request: Request, /) -> Response:
        return drive(self._flow(request, self), self.inner, request)  # type: ignore[no-any-return]

    async def acall(self, request: Request, /) -> AsyncResponse:
        return await adrive(self._flow(request, self), self.inner, request)  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            self.layer.close()
        finally:
            super().close()

    async def aclose(self) -> None:
        try:
            self.layer.close()
        finally:
            await super().aclose()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "state":
            raise AttributeError(name)
        return getattr(self.state, name)
