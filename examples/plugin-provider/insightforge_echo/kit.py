"""The conformance-kit factory for the ``echo`` provider.

Run: ``pytest --insightforge-provider insightforge_echo.kit:factory``.

The kit calls ``factory(emulator, **overrides)``; the emulator speaks the echo service's
wire format (Ollama's) at ``emulator.ollama_url``.
"""

from __future__ import annotations

from typing import Any

from insightforge.testing.conformance import conformance_factory
from insightforge_echo.provider import EchoProvider

__all__ = ["factory"]


@conformance_factory(api="ollama", embeddings=True, tools=True, env_var=None)
def factory(emulator: Any, **overrides: Any) -> EchoProvider:
    """An ``EchoProvider`` pointed at the kit's emulator (``overrides`` win)."""
    options: dict[str, Any] = {"base_url": emulator.ollama_url, "timeout": 10}
    return EchoProvider(**{**options, **overrides})
