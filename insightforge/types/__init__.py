"""The value types every layer and provider speaks: requests, responses, chunks, trace.

All are frozen attrs classes with slots. Containers are tuples and read-only mappings, so a
request handed down the onion cannot be changed under another layer's feet; a layer that
needs a different request builds one with :func:`attrs.evolve`.

Converting to and from plain dicts lives in :mod:`insightforge.serialize` (one converter).
This module imports nothing heavy: it is on the ``import insightforge`` path.
"""

from __future__ import annotations

from insightforge.types.controls import CacheControl, Reasoning
from insightforge.types.messages import Message, Tool, ToolCall
from insightforge.types.parts import (
    AudioPart,
    FilePart,
    ImagePart,
    Part,
    TextPart,
    ThinkingPart,
)
from insightforge.types.requests import ChatRequest, EmbedRequest
from insightforge.types.responses import (
    ChatResponse,
    Chunk,
    EmbedResponse,
    Route,
    ThinkingDelta,
    ToolCallDelta,
    TraceEvent,
    Usage,
)

__all__ = [
    "AudioPart",
    "CacheControl",
    "ChatRequest",
    "ChatResponse",
    "Chunk",
    "EmbedRequest",
    "EmbedResponse",
    "FilePart",
    "ImagePart",
    "Message",
    "Part",
    "Reasoning",
    "Route",
    "TextPart",
    "ThinkingDelta",
    "ThinkingPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "TraceEvent",
    "Usage",
]
