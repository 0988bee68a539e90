"""Raw document (a dict, after interpolation) -> :class:`Config`, with every problem at once.

What lives here: the walk over the document's shape — top-level keys, named providers,
stack entries (``- cache: {ttl: 60}``, ``- retry``, ``- fallback: [local, {stack: [...],
provider: local}]``) — structuring each piece with the config converter and collecting
problems with their ``$.path``. What must not: range and cross-reference rules
(:mod:`insightforge.config.validate`), file I/O, building anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import attrs
import cattrs

from insightforge import registry
from insightforge.config.converter import config_converter
from insightforge.config.layers import check_layer
from insightforge.config.problems import (
    Problems,
    from_cattrs,
    index_path,
    key_path,
    nearest,
    unknown_key,
)
from insightforge.config.refs import expand_references, split_ref
from insightforge.config.schema import Config, LayerConfig, ProviderConfig, StackConfig
from insightforge.config.validate import check_config
from insightforge.errors import ConfigError
from insightforge.pricing import Price
from insightforge.pricing._parse import RATE_KEYS

__all__ = ["TOP_KEYS", "parse_config"]

TOP_KEYS = ("providers", "stack", "provider", "prices", "aliases", "version", "models",
            "gateway")
# registered names, listed once per parse (scanning entry points is the slow part)
_KNOWN: ContextVar[dict[str, frozenset[str]] | None] = ContextVar("_KNOWN", default=None)


def known_names(kind: str) -> frozenset[str]:
    """Registered ``providers`` or ``layers`` names (cached for the current parse)."""
    cache = _KNOWN.get()
    if cache is not None and kind in cache:
        return cache[kind]
    rows = registry.list_providers() if kind == "providers" else registry.list_layers()
    names = frozenset(r.name for r in rows)
    if cache is not None:
        cache[kind] = names
    return names
_PROVIDER_KEYS = tuple(f.name for f in attrs.fields(ProviderConfig))


def _structure(data: Any, cls: type, path: str, problems: Problems) -> Any:
    try:
        return config_converter().structure(data, cls)
    except (cattrs.ClassValidationError, cattrs.IterableValidationError) as exc:
        problems.extend(from_cattrs(exc, path))
    except (TypeError, ValueError, ArithmeticError) as exc:
        problems.add(path, str(exc) or f"expected {cls.__name__}")
    return None


def _mapping(value: Any, path: str, problems: Problems, what: str) -> Mapping[Any, Any] | None:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    problems.add(path, f"expected a mapping of {what}, got {type(value).__name__}")
    return None


def _known_keys(raw: Mapping[Any, Any], valid: tuple[str, ...], path: str,
                problems: Problems) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(key, str) and key in valid:
            kept[key] = value
        else:
            problems.add(key_path(path, key), unknown_key(key, valid))
    return kept


def _providers(raw: Any, problems: Problems) -> dict[str, ProviderConfig]:
    section = _mapping(raw, "$.providers", problems, "provider names to settings")
    result: dict[str, ProviderConfig] = {}
    known_types = known_names("providers")
    for name, spec in (section or {}).items():
        where = key_path("$.providers", name)
        body = _mapping(spec, where, problems, "provider settings")
        if body is None:
            continue
        kept = _typed(_known_keys(body, _PROVIDER_KEYS, where, problems), known_types)
        ptype = kept.get("type")
        if isinstance(ptype, str) and known_types and ptype not in known_types:
            problems.add(key_path(where, "type"), f"unknown provider type {ptype!r}"
                         f"{nearest(ptype, known_types, 'known types')}")
        if "options" in kept and not isinstance(kept["options"], Mapping):
            problems.add(key_path(where, "options"), "expected a mapping of keyword options")
            kept.pop("options")
        structured = _structure(kept, ProviderConfig, where, problems)
        if structured is not None:
            result[str(name)] = structured
    return result


def _typed(kept: dict[str, Any], known_types: frozenset[str]) -> dict[str, Any]:
    """``model: anthropic/claude-haiku-4-5`` names its type: without ``type:`` it sets it,
    and with the same ``type:`` the prefix is dropped (other slashes belong to the model)."""
    model = kept.get("model")
    if not isinstance(model, str):
        return kept
    prefix, model_name = split_ref(model, (), known_types)
    if prefix is not None and kept.get("type", prefix) == prefix:
        return {**kept, "type": prefix, "model": model_name}
    return kept


def _aliases(raw: Any, problems: Problems) -> dict[str, str]:
    section = _mapping(raw, "$.aliases", problems, "alias names to provider/model")
    found: dict[str, str] = {}
    for name, target in (section or {}).items():
        if isinstance(target, str) and target.strip():
            found[str(name)] = target.strip()
        else:
            problems.add(key_path("$.aliases", name), "expected a model reference such as "
                         "openai/gpt-4o-mini or INSTANCE/MODEL")
    return found


def _prices(raw: Any, problems: Problems) -> dict[str, dict[str, Price]]:
    section = _mapping(raw, "$.prices", problems, "provider types to models")
    result: dict[str, dict[str, Price]] = {}
    for ptype, models in (section or {}).items():
        where = key_path("$.prices", ptype)
        table = _mapping(models, where, problems, "models to prices")
        for model, price in (table or {}).items():
            spot = key_path(where, model)
            body = _mapping(price, spot, problems, "rates (input, output, cache_read...)")
            if body is None:
                continue
            kept = _known_keys(body, RATE_KEYS, spot, problems)
            structured = _structure(kept, Price, spot, problems)
            if structured is not None:
                result.setdefault(str(ptype), {})[str(model)] = structured
    return result


def _options(name: str, raw: Mapping[Any, Any], path: str, problems: Problems,
             skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Layer ``name``'s options, checked by the layer itself (:mod:`.layers`)."""
    return check_layer(name, dict(raw), path, problems, skip)


def _alternates(raw: Any, path: str, problems: Problems) -> tuple[str | StackConfig, ...]:
    items = [raw] if isinstance(raw, (str, Mapping)) else raw
    if not isinstance(items, list) or not items:
        problems.add(path, "expected a list of provider names or nested stacks "
                     "({stack: [...], provider: NAME})")
        return ()
    result: list[str | StackConfig] = []
    for i, item in enumerate(items):
        where = index_path(path, i)
        if isinstance(item, str):
            result.append(item)
        elif isinstance(item, Mapping):
            kept = _known_keys(item, ("stack", "provider"), where, problems)
            provider = kept.get("provider")
            if not isinstance(provider, str):
                problems.add(key_path(where, "provider"), "required: the provider's name")
                continue
            layers = _layers(kept.get("stack", []), key_path(where, "stack"), problems)
            result.append(StackConfig(layers, provider))
        else:
            problems.add(where, "expected a provider name or {stack: [...], provider: NAME}")
    return tuple(result)


def _fallback(value: Any, path: str, problems: Problems) -> LayerConfig:
    if isinstance(value, Mapping) and "alternates" in value:
        rest = {k: v for k, v in value.items() if k != "alternates"}
        alternates = _alternates(value["alternates"], key_path(path, "alternates"), problems)
        return LayerConfig("fallback", _options("fallback", rest, path, problems), alternates)
    return LayerConfig("fallback", {}, _alternates(value, path, problems))


def _layer(entry: Any, path: str, problems: Problems, known: set[str],
           index: int) -> LayerConfig | None:
    layer = _layer_at(entry, path, problems, known)
    return None if layer is None else attrs.evolve(layer, index=index)


def _layer_at(entry: Any, path: str, problems: Problems, known: set[str]) -> LayerConfig | None:
    if isinstance(entry, str):
        entry = {entry: None}
    if not isinstance(entry, Mapping) or len(entry) != 1:
        problems.add(path, "expected one layer per entry, e.g. `- retry: {attempts: 3}`")
        return None
    ((name, value),) = entry.items()
    if not isinstance(name, str) or name not in known:
        problems.add(path, f"unknown layer {name!r}{nearest(name, known, 'known layers')}")
        return None
    where = key_path(path, name)
    if name == "fallback":
        return _fallback(value, where, problems)
    body = _mapping(value, where, problems, "layer options")
    if body is None:
        return None
    return LayerConfig(name, _options(name, body, where, problems))


def _layers(raw: Any, path: str, problems: Problems) -> tuple[LayerConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(path, "expected a list of layers, outermost first")
        return ()
    known = set(known_names("layers"))
    layers = (_layer(entry, index_path(path, i), problems, known, i)
              for i, entry in enumerate(raw))
    return tuple(layer for layer in layers if layer is not None)


def parse_config(doc: Any, problems: Problems | None = None) -> Config:
    """Structure and check a config document; raises ``ConfigError`` listing every problem
    (those already in ``problems``, e.g. from interpolation, included)."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"expected a mapping with providers: and stack:, got "
                          f"{type(doc).__name__}", path="$")
    problems = Problems() if problems is None else problems
    token = _KNOWN.set({})
    try:
        return _parse(doc, problems)
    finally:
        _KNOWN.reset(token)


def _parse(doc: Mapping[Any, Any], problems: Problems) -> Config:
    _known_keys(doc, TOP_KEYS, "$", problems)
    providers = _providers(doc.get("providers"), problems)
    prices = _prices(doc.get("prices"), problems)
    layers = _layers(doc.get("stack"), "$.stack", problems)
    primary = doc.get("provider")
    if primary is not None and not isinstance(primary, str):
        problems.add("$.provider", "expected the name of a provider under providers:")
        primary = None
    if not providers and not problems:
        problems.add("$.providers", "at least one provider is required "
                     "(run `insightforge config init`)")
    if "version" in doc and doc["version"] != 1:
        problems.add("$.version", f"unsupported version {doc['version']!r}; expected 1")
    config = Config(providers, layers, primary, prices, _aliases(doc.get("aliases"), problems))
    # the gateway's sections (insightforge.config.models): checked here, read by the gateway
    from insightforge.config.models import parse_gateway, parse_models

    parse_models(doc.get("models"), problems, set(providers), _layers)
    parse_gateway(doc.get("gateway"), problems)
    if providers:
        config = expand_references(config, known_names("providers"))
        declared = {str(k) for k in doc["providers"]} | set(config.providers)
        check_config(config, problems, declared)
    problems.raise_if_any()
    return config

