"""The ``echo`` provider: the provider kit's template, subclassed.

The echo service speaks the template's wire format (Ollama's REST format), so the plugin
inherits the whole provider — request body, answer, stream decoder, pooled clients, finite
timeouts, the error table — from :class:`providers.kit.TemplateProvider`, and says only what
makes it *echo*: its name (routes, traces, prices, keyring entry), where its key may come
from, where its server is and its default model. A plugin for a different wire format copies
``providers/_template.py`` instead and rewrites its three pure sections
(docs/writing-a-provider.md).
"""

from __future__ import annotations

from typing import Any

from providers.kit import TemplateProvider

__all__ = ["EchoProvider"]


class EchoProvider(TemplateProvider):
    """Chat and embeddings from an echo server (Ollama's wire format).

    Args:
        model: the default model. base_url: the server (default: the emulator started by
            ``insightforge emulator --port 8765``). api_key: optional; else ``ECHO_API_KEY``.
        **kwargs: the template's (``timeout``, ``price``, ``max_connections``...).
    """

    name = "echo"
    env_vars = ("ECHO_API_KEY",)
    default_base_url = "http://127.0.0.1:8765"

    def __init__(self, model: str = "echo-1", **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
