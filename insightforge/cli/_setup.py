"""What the CLI commands share: finding the config, building the stack, the no-config default.

With no config file at all, ``chat`` and ``embed`` use OpenAI when ``OPENAI_API_KEY`` is set
(``OPENAI_BASE_URL`` honoured), else a local Ollama (``OLLAMA_HOST`` honoured); when that
default does not answer, :func:`no_setup_error` is the one line that says how to set up.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import click

from insightforge.errors import ConfigError, CredentialError, ProviderError
from insightforge.stack import Stack

__all__ = ["DEFAULT_MODELS", "build_stack", "config_file", "default_document",
           "no_setup_error"]

DEFAULT_MODELS = {
    "openai": "gpt-4o-mini",
    "azure": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "ollama": "llama3.1",
    "huggingface": "tgi",
    "compatible": "default",
}


def config_file(ctx: click.Context) -> Path | None:
    """The config file for this invocation (``--config``, env, cwd, user dir), or ``None``."""
    from insightforge.config import find_config

    root = ctx.find_root()
    explicit = (root.obj or {}).get("config") if isinstance(root.obj, dict) else None
    return find_config(explicit)


def default_document() -> dict[str, Any]:
    """The config used when there is no file: OpenAI with a key in the env, else Ollama."""
    if os.environ.get("OPENAI_API_KEY"):
        spec: dict[str, Any] = {"type": "openai", "model": DEFAULT_MODELS["openai"]}
        if os.environ.get("OPENAI_BASE_URL"):
            spec["base_url"] = os.environ["OPENAI_BASE_URL"]
        return {"providers": {"openai": spec}}
    host = os.environ.get("OLLAMA_HOST") or "http://localhost:11434"
    if not host.startswith(("http://", "https://")):
        host = f"http://{host}"
    return {"providers": {"ollama": {"type": "ollama", "model": DEFAULT_MODELS["ollama"],
                                     "base_url": host}}}


def no_setup_error(exc: BaseException) -> ConfigError:
    """The one line shown when there is no config and the default provider did not answer."""
    doc = default_document()
    ((name, spec),) = doc["providers"].items()
    where = spec.get("base_url") or "api.openai.com"
    tried = (f"OpenAI at {where} (OPENAI_API_KEY is set)" if name == "openai"
             else f"a local Ollama at {where} (OPENAI_API_KEY is not set)")
    reason = type(exc).__name__
    return ConfigError(f"no config file found and {tried} did not answer ({reason}); "
                       "run `insightforge config init` to set up a provider")


def build_stack(ctx: click.Context, *, provider: str | None = None,
                without: Collection[str] = ()) -> tuple[Stack, bool]:
    """The stack for a command and whether it is the no-config default."""
    from insightforge.config import from_config

    path = config_file(ctx)
    if path is None:
        if provider is not None:
            raise ConfigError(f"--provider {provider}: no config file found; run "
                              "`insightforge config init`")
        try:
            return from_config(default_document(), without=without), True
        except (ConfigError, CredentialError, ProviderError) as exc:
            raise no_setup_error(exc) from None
    return from_config(path, provider=provider, without=without), False
