"""The value types every layer and provider speaks: requests, responses, chunks, trace.

All are frozen attrs classes with slots. Containers are tuples and read-only mappings, so a
request handed down the onion cannot be changed under another layer's feet; a layer that
needs a different request builds one with :func:`attrs.evolve`.

Converting to and from plain dicts lives in :mod:`insightforge.serialize` (one converter).
This module imports nothing heavy: it is on the ``import insightforge`` path.
"""

from __future__ import annotations

from insightforge.types.messages import Message, Tool, ToolCall
from insightforge.types.requests import ChatRequest, EmbedRequest
from insightforge.types.responses import (
    ChatResponse,
    Chunk,
    EmbedResponse,
    Route,
    ToolCallDelta,
    TraceEvent,
    Usage,
)

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "Chunk",
    "EmbedRequest",
    "EmbedResponse",
    "Message",
    "Route",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "TraceEvent",
    "Usage",
]
