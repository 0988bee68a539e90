"""A Server-Sent Events response that closes the upstream stream however it ends.

:class:`SSEResponse` is an ASGI application: it sends the status and headers, then each
event as a body part, while a second task listens for the client's disconnect. When the
events run out or fail, or the client has gone away (noticed at the next chunk: the
upstream read is never cancelled half way, so the stream ends as *abandoned*, not failed),
the event generator and the stack's stream are closed, shielded from cancellation, so
every layer sees the end or the abandonment: budgets settle or release, the audit log
writes, the provider connection is dropped. A silent upstream is bounded by the
provider's ``timeout``.
What must not live here: what the events say (:mod:`.openai_api`, :mod:`.anthropic_api`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from insightforge.streams import AsyncChatStream

__all__ = ["SSEResponse"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class SSEResponse:
    """Stream ``events`` as ``text/event-stream``; close ``stream`` at the end, always."""

    def __init__(self, events: AsyncGenerator[bytes, None], stream: AsyncChatStream,
                 headers: list[tuple[bytes, bytes]]) -> None:
        self.events = events
        self.stream = stream
        self.headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"),
                        *headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        try:
            async with anyio.create_task_group() as group:
                gone = anyio.Event()

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    gone.set()

                group.start_soon(watch)
                async for event in self.events:
                    if gone.is_set():
                        break
                    await send({"type": "http.response.body", "body": event,
                                "more_body": True})
                else:
                    await send({"type": "http.response.body", "body": b"",
                                "more_body": False})
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.events.aclose()
                await self.stream.aclose()
