"""The public surface, pinned: a name added or removed here is a deliberate API change."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

INSIGHTFORGE = [
    "AllProvidersFailed", "AsyncChatStream", "AudioPart", "AuditUnavailable",
    "AuthenticationError", "BudgetExceeded", "CacheControl", "ChatRequest", "ChatResponse",
    "ChatStream", "Chunk", "ConfigError", "ContentFiltered", "ContextLengthExceeded",
    "CredentialError", "EmbedRequest", "EmbedResponse", "FilePart", "FirstTokenTimeout",
    "Handler", "ImagePart",
    "InsightForgeError", "InvalidRequest", "LLMProvider", "Layer", "MalformedResponse", "Message",
    "Middleware", "Part", "Price", "ProviderError", "ProviderUnavailable", "RateLimitError",
    "RateLimited", "Reasoning", "Route", "Secret", "Stack", "StallTimeout", "StoreUnavailable",
    "StreamInterrupted", "TextPart",
    "ThinkingDelta", "ThinkingPart", "Timeout", "Tool", "ToolCall", "ToolCallDelta", "TraceEvent",
    "Unsupported", "Usage", "__version__", "create_provider", "from_config", "register_provider",
    "stack",
]
MIDDLEWARE = ["AuditLog", "Budget", "Cache", "Fallback", "OpenTelemetry", "RateLimit", "Retry"]
PROVIDERS = ["Anthropic", "AzureOpenAI", "HuggingFace", "Ollama", "OpenAI", "OpenAICompatible"]
CONFORMANCE = ["CHECKS", "CheckFailed", "CheckResult", "ConformanceError", "Factory", "Kit",
               "ProviderSpec", "Report", "conformance_factory", "load_target", "run_check",
               "run_conformance", "spec_of"]


@pytest.mark.parametrize(("module", "names"), [
    ("insightforge", INSIGHTFORGE), ("middleware", MIDDLEWARE), ("providers", PROVIDERS),
    ("insightforge.testing.conformance", CONFORMANCE),
])
def test_all_is_pinned_sorted_and_every_name_resolves(module: str, names: list[str]) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(names)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name


def test_unknown_attributes_fail_clearly() -> None:
    for module in ("insightforge", "middleware", "providers"):
        mod = importlib.import_module(module)
        with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
            _ = mod.Nope


def test_star_import_gives_exactly_all() -> None:
    code = ("ns = {}; exec('from insightforge import *', ns); ns.pop('__builtins__');"
            "import insightforge; assert sorted(ns) == sorted(insightforge.__all__), ns")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_providers_and_layers_are_the_documented_classes() -> None:
    import middleware
    import providers

    for name in PROVIDERS:
        assert getattr(providers, name).__name__ == name
    for name in MIDDLEWARE:
        assert getattr(middleware, name).__name__ == name


def _public_classes() -> dict[str, set[str]]:
    """Every class a public module exports (``__all__``), by name -> where it is defined."""
    import importlib
    import pkgutil

    found: dict[str, set[str]] = {}
    for root in ("insightforge", "middleware", "providers"):
        package = importlib.import_module(root)
        names = [root] + [info.name for info in pkgutil.walk_packages(package.__path__, root + ".")]
        for name in names:
            if any(part.startswith("_") for part in name.split(".")[1:]):
                continue  # private modules are not public surface
            module = importlib.import_module(name)
            for attr in getattr(module, "__all__", ()):
                value = getattr(module, attr, None)
                if isinstance(value, type):
                    found.setdefault(value.__name__, set()).add(
                        f"{value.__module__}.{value.__qualname__}")
    return found


def test_no_two_public_classes_share_a_name() -> None:
    """Issue 10: one name, one class — a reader (or an import) never meets two ToolCalls."""
    shared = {name: where for name, where in _public_classes().items() if len(where) > 1}
    assert shared == {}
