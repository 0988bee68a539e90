"""``providers.OpenAICompatible``: any server that speaks the OpenAI wire format.

vLLM, LM Studio, llama.cpp's server, OpenRouter, Groq, Together... What lives here: the
options (a required ``base_url``, an optional key whose environment variable is
configurable, an instance ``name``) and the quirk switches:

* ``stream_usage=False`` — the server sends no usage in streams (or rejects
  ``stream_options``): we do not ask for it, and usage is *estimated* as whitespace words;
* ``embeddings=False`` — the server has no ``/embeddings``: ``EmbedRequest`` raises
  :class:`~insightforge.errors.Unsupported`;
* ``capabilities=`` — what the server's model can take beyond text (default
  :data:`DEFAULT_CAPABILITIES`: images, structured output, parallel tool calls); add
  ``"reasoning"`` for a reasoning server (``reasoning_effort`` is sent, and the
  ``reasoning_content`` vLLM and DeepSeek return becomes ``response.reasoning``),
  ``"audio"``/``"files"`` for one that takes them, ``"prompt_caching"`` for one that
  understands ``prompt_cache_key``.

Whenever such a server reports no usage at all, usage is estimated the same way. Prices are
unknown (cost ``None``) unless ``price=`` is given. Docs: docs/providers/compatible.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from insightforge.errors import ConfigError
from insightforge.pricing import Price
from insightforge.secrets import Secret
from providers._capabilities import CAPABILITIES
from providers.openai import OpenAI

__all__ = ["DEFAULT_CAPABILITIES", "OpenAICompatible"]

DEFAULT_CAPABILITIES = frozenset({"images", "structured_output", "parallel_tools"})
"""What most OpenAI-compatible servers take (vLLM, LM Studio, llama.cpp with a vision model)."""


class OpenAICompatible(OpenAI):
    """An OpenAI-wire server at ``base_url``; see the module docstring for the quirks.

    >>> local = OpenAICompatible("llama-3.1-8b", base_url="http://localhost:8000/v1")
    >>> groq = OpenAICompatible("llama-3.1-8b-instant", name="groq",
    ...                         base_url="https://api.groq.com/openai/v1",
    ...                         api_key_env="GROQ_API_KEY")
    """

    key_required = False

    def __init__(self, model: str, *, base_url: str, api_key: str | Secret | None = None,
                 api_key_env: str | None = None, name: str = "compatible",
                 stream_usage: bool = True, embeddings: bool = True,
                 embedding_model: str | None = None, timeout: float = 60,
                 max_connections: int = 20, price: Price | dict[str, Any] | None = None,
                 keyring_entry: str | None = None,
                 capabilities: Iterable[str] | None = None, prefill: bool = False,
                 first_token_timeout: float | None = None,
                 stall_timeout: float | None = None, context_window: int | None = None,
                 malformed_events: str = "skip") -> None:
        chosen = DEFAULT_CAPABILITIES if capabilities is None else frozenset(capabilities)
        unknown = sorted(chosen - CAPABILITIES)
        if unknown:
            raise ConfigError(f"compatible: unknown capabilities {unknown}; choose from "
                              f"{sorted(CAPABILITIES)}", path="capabilities")
        self.capabilities = chosen
        if not base_url:
            raise ConfigError("compatible: base_url is required (the server's OpenAI-style "
                              "root, e.g. http://localhost:8000/v1)", path="base_url")
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"compatible: name must be a short identifier, got {name!r}",
                              path="name")
        # Instance-level name and env var: one class serves many differently named servers.
        self.name = name
        self.env_vars = (api_key_env,) if api_key_env else ()
        self.prefill = bool(prefill)
        super().__init__(model, base_url=base_url, timeout=timeout, api_key=api_key,
                         embedding_model=embedding_model or model,
                         max_connections=max_connections, price=price,
                         keyring_entry=keyring_entry, first_token_timeout=first_token_timeout,
                         stall_timeout=stall_timeout, context_window=context_window,
                         malformed_events=malformed_events)
        self._setup(embedding_model=embedding_model or model, stream_usage=stream_usage,
                    estimate_usage=True, embeddings=embeddings)

    def __repr__(self) -> str:
        return f"OpenAICompatible({self.model!r}, base_url={self.base_url!r}, name={self.name!r})"
