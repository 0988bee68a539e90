"""Config -> :class:`~insightforge.stack.Stack`, through the registry.

What lives here: :func:`load_config` (source -> checked :class:`Config`), :func:`build`
(Config -> Stack: providers by :func:`~insightforge.registry.create_provider`, layers by
:func:`~insightforge.registry.create_layer`, ``fallback`` alternates resolved to provider
instances or nested stacks) and :func:`from_config` (both). Each provider instance is built
once and shared by every place that names it; only the instances the stack reaches are
built, so an unused provider's missing key does not stop the others.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs

from insightforge import credentials, registry
from insightforge.config.defaults import ApplyDefaults
from insightforge.config.load import prepare
from insightforge.config.parse import parse_config
from insightforge.config.problems import Problems, key_path, nearest
from insightforge.config.refs import owner
from insightforge.config.schema import Config, LayerConfig, ProviderConfig, StackConfig
from insightforge.errors import ConfigError, CredentialError
from insightforge.stack import Handler, Stack, stack

__all__ = ["build", "check_builds", "from_config", "load_config", "provider_kwargs"]

Source = str | os.PathLike[str] | Mapping[str, Any]


def load_config(source: Source, env: Mapping[str, str] | None = None) -> Config:
    """Read, upgrade, interpolate and check a config; every problem reported at once."""
    doc, problems = prepare(source, env)
    return parse_config(doc, problems)


def _key_option(ptype: str) -> str:
    """``api_key``, or ``token`` for providers that call it that (Hugging Face)."""
    try:
        params = inspect.signature(registry.provider_factory(ptype)).parameters
    except (ConfigError, TypeError, ValueError):
        return "api_key"
    return "token" if "token" in params and "api_key" not in params else "api_key"


def _credential(name: str, spec: ProviderConfig) -> dict[str, Any]:
    key = _key_option(spec.type)
    if spec.api_key is not None:
        return {key: spec.api_key}
    ref = spec.api_key_ref
    if ref is not None:
        kind, _, target = ref.partition(":")
        if kind == "keyring":
            # the entry the config names is an explicit choice: it beats the provider's
            # environment variable (an unrelated OPENAI_API_KEY must not silently replace
            # it); with no such entry the usual order applies, ending at this entry
            value = credentials.keyring_get(target)
            return {key: value} if value else {"keyring_entry": target}
        value = os.environ.get(target)
        if not value:
            raise CredentialError(name, env_var=target, keyring_entry=None,
                                  detail=f"(from $.providers.{name}.api_key_ref)")
        return {key: value}
    who = owner(name)  # `main/gpt-4o` (a reference, config/refs.py) uses main's key
    if who != spec.type and credentials.keyring_get(who):
        return {"keyring_entry": who}  # one keyring entry per provider instance
    return {}


def provider_kwargs(name: str, spec: ProviderConfig) -> dict[str, Any]:
    """The keyword options ``create_provider(spec.type, ...)`` gets for instance ``name``."""
    kwargs: dict[str, Any] = {}
    for key in ("model", "base_url", "timeout", "max_connections", "api_version", "deployment",
                "price"):
        value = getattr(spec, key)
        if value is not None:
            kwargs[key] = value
    kwargs.update(spec.options)
    kwargs.update(_credential(name, spec))
    return kwargs


def _with_path(exc: ConfigError, where: str) -> ConfigError:
    if exc.path.startswith("$") and exc.path != "$":
        return exc
    sub = "" if exc.path == "$" else f".{exc.path}"
    return ConfigError(exc.detail, path=f"{where}{sub}")


def _create(name: str, spec: ProviderConfig, config: Config) -> Handler:
    where = key_path("$.providers", name)
    table = config.prices.get(spec.type, {})
    if spec.price is None and (spec.model or spec.deployment or "") in table:
        spec = attrs.evolve(spec, price=table[spec.model or spec.deployment or ""])
    try:
        provider = registry.create_provider(spec.type, **provider_kwargs(name, spec))
    except ConfigError as exc:
        unknown = re.search(r"unexpected keyword argument '(\w+)'", exc.detail)
        if unknown and unknown.group(1) in spec.options:
            option = unknown.group(1)
            raise ConfigError(f"{spec.type} takes no option {option!r}"
                              f"{_option_hint(spec.type, option)}",
                              path=key_path(key_path(where, "options"), option)) from None
        raise _with_path(exc, where) from None
    except ValueError as exc:
        raise ConfigError(str(exc), path=where) from None
    if spec.defaults is not None:
        values = tuple((k, v) for k, v in (("temperature", spec.defaults.temperature),
                                           ("top_p", spec.defaults.top_p),
                                           ("max_tokens", spec.defaults.max_tokens))
                       if v is not None)
        if values:
            return stack(ApplyDefaults(values), provider=provider)
    return provider  # type: ignore[no-any-return]


def _option_hint(ptype: str, option: str) -> str:
    try:
        names = [p for p in inspect.signature(registry.provider_factory(ptype)).parameters
                 if p not in ("self", "args", "kwargs")]
    except (ConfigError, TypeError, ValueError):
        return ""
    return nearest(option, names, "its options")


def _layers(layers: tuple[LayerConfig, ...], path: str, get: Callable[[str], Handler],
            without: Collection[str]) -> list[Any]:
    built = []
    for i, layer in enumerate(layers):
        if layer.name in without:
            continue
        where = f"{path}[{layer.index if layer.index >= 0 else i}].{layer.name}"
        try:
            if layer.name == "fallback":
                alternates = [get(alt) if isinstance(alt, str) else _nested(alt, get, without)
                              for alt in layer.alternates]
                factory = registry.layer_factory("fallback")
                built.append(factory(*alternates, **layer.options))
            else:
                built.append(registry.create_layer(layer.name, **layer.options))
        except ConfigError as exc:
            raise _with_path(exc, where) from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad options for layer {layer.name!r}: {exc}",
                              path=where) from None
    return built


def _nested(alt: StackConfig, get: Callable[[str], Handler], without: Collection[str]) -> Stack:
    return stack(*_layers(alt.layers, "$.stack", get, without), provider=get(alt.provider))


def check_builds(config: Config) -> None:
    """Build every provider and layer ``config`` names, without a network call, and close
    them again: what passes builds. Every problem is raised at once, each with its path
    (``insightforge config validate``)."""
    problems = Problems()
    instances: dict[str, Handler] = {}
    for name, spec in config.providers.items():
        where = key_path("$.providers", name)
        try:
            instances[name] = _create(name, spec, config)
        except ConfigError as exc:
            problems.add(exc.path if exc.path.startswith("$.") else where, exc.detail)
        except CredentialError as exc:
            problems.add(where, exc.message)
        except (TypeError, ValueError) as exc:
            problems.add(where, f"cannot build it: {exc}")
    if not problems:
        try:
            built = build(config, instances=instances)
        except ConfigError as exc:
            problems.extend(exc.problems)
        except CredentialError as exc:
            problems.add("$.stack", exc.message)
        else:
            built.close()
    for handler in instances.values():
        close = getattr(handler, "close", None)
        if callable(close):
            close()
    problems.raise_if_any()


def build(config: Config, *, provider: str | None = None, without: Collection[str] = (),
          instances: dict[str, Handler] | None = None) -> Stack:
    """The stack ``config`` describes; ``provider`` overrides the primary instance and
    ``without`` leaves layers out (``insightforge chat --no-cache``); ``instances`` are
    providers built already (by name)."""
    instances = {} if instances is None else dict(instances)

    def get(name: str) -> Handler:
        if name not in instances:
            instances[name] = _create(name, config.providers[name], config)
        return instances[name]

    primary = provider or config.primary()
    if primary not in config.providers:
        raise ConfigError(f"no provider named {primary!r}"
                          f"{nearest(primary, config.providers, 'configured')}",
                          path="$.provider")
    layers = _layers(config.stack, "$.stack", get, without)
    return stack(*layers, provider=get(primary))


def from_config(source: Source, *, provider: str | None = None,
                without: Collection[str] = (), env: Mapping[str, str] | None = None) -> Stack:
    """Build the stack a config file, YAML text or dict describes.

    >>> llm = from_config({"providers": {"main": {"type": "ollama", "model": "llama3.1"}}})
    ... # doctest: +SKIP
    """
    return build(load_config(source, env), provider=provider, without=without)
