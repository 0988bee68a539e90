"""What the CLI commands share: finding the config, building the stack, the no-config default.

Budgets and rate limits that name no store are kept in SQLite files in the user data folder
(:mod:`insightforge.config.persist`), so separate ``insightforge chat`` runs share them;
``-m`` takes a model, an alias or a ``provider/model`` name (:mod:`insightforge.config.refs`).

With no config file at all, ``chat`` and ``embed`` use OpenAI when ``OPENAI_API_KEY`` is set
(``OPENAI_BASE_URL`` honoured), else a local Ollama (``OLLAMA_HOST`` honoured); when that
default does not answer, :func:`no_setup_error` is the one line that says how to set up.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click

from insightforge.errors import ConfigError, CredentialError, ProviderError
from insightforge.stack import Stack

if TYPE_CHECKING:
    from insightforge.config.schema import Config

__all__ = ["DEFAULT_MODELS", "Setup", "build_setup", "build_stack", "config_file",
           "default_document",
           "load_setup", "no_setup_error"]

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


@attrs.frozen
class Setup:
    """What a command asks through.

    Attributes:
        llm: the stack. default: it is the no-config default (OpenAI or a local Ollama).
        instance: the provider instance it wraps. model: the model to put on requests
        (a bare ``-m gpt-4o``), else ``None`` (the instance's own).
    """

    llm: Stack
    default: bool
    instance: str
    model: str | None


def _choose(config: Config, provider: str | None, model: str | None,
            ) -> tuple[Config, str, str | None]:
    """The instance and request model ``-p``/``-m`` pick; a ``provider/model`` or an alias
    that names a new instance adds it to the config (:mod:`insightforge.config.refs`)."""
    from insightforge.config.parse import known_names
    from insightforge.config.refs import owner, resolve

    primary = provider or config.primary()
    if not model:
        return config, primary, None
    found = resolve(model, config.providers, config.aliases, known_names("providers"),
                    prefer=(provider, config.primary()), bare_model=True)
    assert found is not None  # a bare model always resolves
    if not found.name:
        return config, primary, found.model
    if provider is not None and provider not in (found.name, owner(found.name)):
        raise click.UsageError(f"-m {model} names provider {owner(found.name)!r} but -p "
                               f"names {provider!r}; give one of them")
    if found.spec is not None:
        config = attrs.evolve(config, providers={**config.providers, found.name: found.spec})
    return config, found.name, None


def load_setup(ctx: click.Context, *, persist: bool = True) -> tuple[Config, bool]:
    """The config of this invocation and whether it is the no-config default; with
    ``persist``, the CLI's stores for budgets and rate limits filled in (and their folder
    made: :mod:`insightforge.config.persist`)."""
    from insightforge.config import load_config
    from insightforge.config.load import user_data_dir
    from insightforge.config.persist import persistent

    path = config_file(ctx)
    config = load_config(default_document() if path is None else path)
    if not persist:
        return config, path is None
    filled = persistent(config, user_data_dir())
    if filled != config:
        user_data_dir().mkdir(parents=True, exist_ok=True)
    return filled, path is None


def build_stack(ctx: click.Context, *, provider: str | None = None,
                without: Collection[str] = ()) -> tuple[Stack, bool]:
    """The stack for a command and whether it is the no-config default (``serve``)."""
    setup = build_setup(ctx, provider=provider, without=without)
    return setup.llm, setup.default


def build_setup(ctx: click.Context, *, provider: str | None = None, model: str | None = None,
                without: Collection[str] = ()) -> Setup:
    """The stack for a command (``-p``, ``-m`` and ``--no-cache`` applied)."""
    from insightforge.config import build

    config, default = load_setup(ctx)
    if default and provider is not None:
        raise ConfigError(f"--provider {provider}: no config file found; run "
                          "`insightforge config init`")
    config, instance, request_model = _choose(config, provider, model)
    try:
        llm = build(config, provider=instance, without=without)
    except (ConfigError, CredentialError, ProviderError) as exc:
        if default and not model:
            raise no_setup_error(exc) from None
        raise
    return Setup(llm, default, instance, request_model)
