"""``providers.OpenAI``: the OpenAI API through the official openai SDK.

What lives here: the public class — its options, its credential (``OPENAI_API_KEY``), and
how it builds its SDK clients (``max_retries=0``: retrying is the ``Retry`` layer's job;
a finite timeout; one pooled connection set per world). Calls, streams and the error
mapping are shared with the other OpenAI-wire providers (:mod:`providers._openai_family`,
:mod:`providers._openai_wire`). Docs: docs/providers/openai.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from insightforge.pricing import Price
from insightforge.secrets import Secret
from providers._openai_family import OpenAIFamily, check_transport

__all__ = ["OpenAI"]


class OpenAI(OpenAIFamily):
    """Chat, streaming (with usage), tools, JSON mode and embeddings on the OpenAI API;
    images, audio and files in user messages, structured output, reasoning models, prompt
    caching and parallel tool calls (``capabilities``).

    >>> llm = OpenAI(model="gpt-4o-mini")            # key from OPENAI_API_KEY or the keyring
    >>> llm(ChatRequest("Hello")).text

    Attributes:
        model: the default chat model; embedding_model: the default embedding model.
        base_url, timeout, organization, max_connections: as given.
        stream_limits: ``first_token_timeout`` and ``stall_timeout`` (seconds or ``None``;
            a request's ``options`` override them). context_window: as given (else
            genai-prices'). malformed_events: ``skip`` or ``fail`` one undecodable event.
        transport: ``httpx`` (default) or ``aiohttp`` for async calls: the same answers
            and errors for under half the CPU per call (the gateway's default); close the
            provider with ``aclose()`` inside its loop.
    """

    name = "openai"
    env_vars: tuple[str, ...] = ("OPENAI_API_KEY",)
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    capabilities = frozenset({"images", "audio", "files", "structured_output", "reasoning",
                              "prompt_caching", "parallel_tools"})

    def __init__(self, model: str = "gpt-4o-mini", *, base_url: str | None = None,
                 timeout: float = 60, api_key: str | Secret | None = None,
                 organization: str | None = None,
                 embedding_model: str = "text-embedding-3-small", max_connections: int = 20,
                 price: Price | dict[str, Any] | None = None,
                 keyring_entry: str | None = None,
                 first_token_timeout: float | None = None,
                 stall_timeout: float | None = None, context_window: int | None = None,
                 malformed_events: str = "skip", transport: str = "httpx") -> None:
        self.transport = check_transport(self.name, transport)
        super().__init__(model=model, base_url=base_url, timeout=timeout, api_key=api_key,
                         keyring_entry=keyring_entry, price=price,
                         max_connections=max_connections,
                         first_token_timeout=first_token_timeout, stall_timeout=stall_timeout,
                         context_window=context_window, malformed_events=malformed_events)
        self.organization = organization
        self._setup(embedding_model=embedding_model)

    def _client_options(self) -> dict[str, Any]:
        return {"api_key": self._key(), "organization": self.organization,
                "base_url": self.base_url, "timeout": self.timeout, "max_retries": 0}
