"""Request defaults from config (``defaults: {temperature: 0.2}``) as a tiny layer.

:class:`ApplyDefaults` fills request fields the caller left unset, nothing more; it is the
innermost layer around the provider instance whose config declares ``defaults:`` (the
legacy ``llm.temperature`` lands here).
"""

from __future__ import annotations

from typing import Any

import attrs

from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
from insightforge.types import ChatRequest

__all__ = ["ApplyDefaults"]


@attrs.frozen
class ApplyDefaults:
    """Fill unset ChatRequest fields. Attributes: values: field name -> default."""

    values: tuple[tuple[str, Any], ...]

    def apply(self, request: Request) -> Request:
        if not isinstance(request, ChatRequest):
            return request
        missing = {k: v for k, v in self.values if getattr(request, k, None) is None}
        return attrs.evolve(request, **missing) if missing else request

    def __call__(self, inner: Handler) -> Handler:
        return _Defaults(self, inner)

    def __repr__(self) -> str:
        return "ApplyDefaults(" + ", ".join(f"{k}={v!r}" for k, v in self.values) + ")"


class _Defaults(Middleware):
    __slots__ = ()
    layer: ApplyDefaults

    def __call__(self, request: Request, /) -> Response:
        return self.inner(self.layer.apply(request))

    async def acall(self, request: Request, /) -> AsyncResponse:
        return await self.inner.acall(self.layer.apply(request))
