"""insightforge-echo: an InsightForge provider plugin built on ``providers.kit``.

The provider speaks to any server with Ollama's REST wire format (the InsightForge emulator
answers ``Echo: <message>``). It registers as ``echo`` in the entry-point group
``insightforge.providers`` (see ``pyproject.toml``), so ``create_provider("echo", ...)``
and ``insightforge providers list`` find it once the package is installed.
"""

from __future__ import annotations

from insightforge_echo.provider import EchoProvider

__all__ = ["EchoProvider"]
__version__ = "0.1.0"
