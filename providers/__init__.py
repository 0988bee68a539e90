"""Built-in providers, one module each; imported lazily so ``import providers`` is cheap.

>>> from providers import OpenAI, Ollama   # each pulls in its SDK only when touched
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.anthropic import Anthropic
    from providers.azure import AzureOpenAI
    from providers.compatible import OpenAICompatible
    from providers.huggingface import HuggingFace
    from providers.ollama import Ollama
    from providers.openai import OpenAI

__all__ = ["Anthropic", "AzureOpenAI", "HuggingFace", "Ollama", "OpenAI", "OpenAICompatible"]

_WHERE = {
    "Anthropic": "providers.anthropic",
    "AzureOpenAI": "providers.azure",
    "HuggingFace": "providers.huggingface",
    "Ollama": "providers.ollama",
    "OpenAI": "providers.openai",
    "OpenAICompatible": "providers.compatible",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'providers' has no attribute {name!r}")
