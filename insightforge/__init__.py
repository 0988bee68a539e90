"""InsightForge: one interface to every LLM provider, wrapped in an onion of middleware.

>>> from insightforge import stack, ChatRequest, Message
>>> from middleware import Retry
>>> from providers import OpenAI
>>> llm = stack(Retry(attempts=3), provider=OpenAI(model="gpt-4o-mini"))  # doctest: +SKIP
>>> llm(ChatRequest(messages=[Message("user", "Hello")])).text              # doctest: +SKIP

This package stays light: importing it loads neither the openai SDK nor httpx (providers
import those), nor cattrs, structlog or YAML (loaded on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from insightforge.errors import (
    AllProvidersFailed,
    AuditUnavailable,
    AuthenticationError,
    BudgetExceeded,
    ConfigError,
    ContentFiltered,
    ContextLengthExceeded,
    CredentialError,
    FirstTokenTimeout,
    InsightForgeError,
    InvalidRequest,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    RateLimitError,
    StallTimeout,
    StoreUnavailable,
    StreamInterrupted,
    Timeout,
    Unsupported,
)
from insightforge.pricing import Price
from insightforge.registry import create_provider, register_provider
from insightforge.secrets import Secret
from insightforge.stack import Handler, Layer, LLMProvider, Middleware, Stack, stack
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import (
    AudioPart,
    CacheControl,
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbedRequest,
    EmbedResponse,
    FilePart,
    ImagePart,
    Message,
    Part,
    Reasoning,
    Route,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    TraceEvent,
    Usage,
)

if TYPE_CHECKING:
    from insightforge.config import from_config

__version__ = "0.1.0"

__all__ = [
    "AllProvidersFailed",
    "AsyncChatStream",
    "AuditUnavailable",
    "AudioPart",
    "AuthenticationError",
    "BudgetExceeded",
    "CacheControl",
    "ChatRequest",
    "ChatResponse",
    "ChatStream",
    "Chunk",
    "ConfigError",
    "ContentFiltered",
    "ContextLengthExceeded",
    "CredentialError",
    "EmbedRequest",
    "EmbedResponse",
    "FilePart",
    "FirstTokenTimeout",
    "Handler",
    "ImagePart",
    "InsightForgeError",
    "InvalidRequest",
    "LLMProvider",
    "Layer",
    "MalformedResponse",
    "Message",
    "Middleware",
    "Part",
    "Price",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimitError",
    "RateLimited",
    "Reasoning",
    "Route",
    "Secret",
    "Stack",
    "StallTimeout",
    "StoreUnavailable",
    "StreamInterrupted",
    "TextPart",
    "ThinkingDelta",
    "ThinkingPart",
    "Timeout",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "TraceEvent",
    "Unsupported",
    "Usage",
    "__version__",
    "create_provider",
    "from_config",
    "register_provider",
    "stack",
]


def __getattr__(name: str) -> Any:
    if name == "from_config":  # lazy: YAML and cattrs load only when a config is read
        from insightforge.config import from_config

        return from_config
    raise AttributeError(f"module 'insightforge' has no attribute {name!r}")
