"""Checks on structured config values: ranges, choices, references, per-provider rules.

Pure functions over :mod:`insightforge.config.schema` objects that add problems to a
:class:`~insightforge.config.problems.Problems`; no I/O, no building. The field checks read
the attrs metadata (``min``, ``max``, ``exclusive_min``, ``choices``, ``pattern``) that the
JSON Schema is generated from, so the two never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs

from insightforge.config.converter import shown
from insightforge.config.problems import Problems, key_path, nearest
from insightforge.config.schema import Config, LayerConfig, ProviderConfig, StackConfig
from insightforge.pricing import price_for

__all__ = ["check_config", "check_fields", "describe_bound"]


def describe_bound(meta: dict[str, Any]) -> str:
    """``expected a positive number`` / ``expected a number >= 1`` from field metadata."""
    low, high, strict = meta.get("min"), meta.get("max"), meta.get("exclusive_min", False)
    if low == 0 and strict and high is None:
        return "expected a positive number"
    if low == 0 and high is None:
        return "expected a number >= 0 (negative values are not allowed)"
    parts = []
    if low is not None:
        parts.append(f"{'>' if strict else '>='} {low}")
    if high is not None:
        parts.append(f"<= {high}")
    return "expected a number " + " and ".join(parts)


def _out_of_bounds(value: Any, meta: dict[str, Any]) -> bool:
    number = Decimal(str(value))
    low, high = meta.get("min"), meta.get("max")
    if low is not None and (number < low or (meta.get("exclusive_min") and number == low)):
        return True
    return high is not None and number > high


def check_fields(obj: Any, path: str, problems: Problems) -> None:
    """Range, choice and pattern checks of one attrs object (and nested ones)."""
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        where = key_path(path, field.name)
        meta = dict(field.metadata)
        if value is None:
            continue
        if attrs.has(type(value)):
            check_fields(value, where, problems)
        elif ("min" in meta or "max" in meta) and isinstance(value, (int, float, Decimal)):
            if _out_of_bounds(value, meta):
                problems.add(where, describe_bound(meta))
        elif "choices" in meta and value not in meta["choices"]:
            problems.add(where, f"expected one of {', '.join(meta['choices'])}, got {shown(value)}")
        elif "pattern" in meta and isinstance(value, str) and not re.match(meta["pattern"], value):
            problems.add(where, "expected keyring:NAME or env:VAR (the value is not shown: "
                         "it may be a key; put keys in the keyring or an env var)")


def _stack_layers(layers: tuple[LayerConfig, ...], path: str,
                  ) -> Iterator[tuple[LayerConfig, str]]:
    for i, layer in enumerate(layers):
        where = f"{path}[{layer.index if layer.index >= 0 else i}].{layer.name}"
        yield layer, where
        for j, alt in enumerate(layer.alternates):
            if isinstance(alt, StackConfig):
                yield from _stack_layers(alt.layers, f"{where}[{j}].stack")


def _references(cfg: Config) -> Iterator[tuple[str, str]]:
    """Every provider name the config points at, with where it is written."""
    if cfg.provider is not None:
        yield cfg.provider, "$.provider"
    for layer, where in _stack_layers(cfg.stack, "$.stack"):
        for j, alt in enumerate(layer.alternates):
            if isinstance(alt, StackConfig):
                yield alt.provider, f"{where}[{j}].provider"
            else:
                yield alt, f"{where}[{j}]"


def _priced(cfg: Config, spec: ProviderConfig) -> bool:
    if spec.price is not None:
        return True
    model = spec.model or spec.deployment or ""
    if model in cfg.prices.get(spec.type, {}):
        return True
    return price_for(spec.type, model) is not None


def _check_provider(name: str, spec: ProviderConfig, problems: Problems) -> None:
    where = key_path("$.providers", name)
    if spec.model is None and not (spec.type == "azure" and spec.deployment):
        problems.add(key_path(where, "model"), "required field missing"
                     + (" (azure: give deployment, model optional)" if spec.type == "azure"
                        else ""))
    if spec.type == "azure" and not spec.api_version:
        problems.add(key_path(where, "api_version"),
                     "required for type azure (e.g. api_version: 2024-10-21)")
    if spec.api_key is not None and spec.api_key_ref is not None:
        problems.add(key_path(where, "api_key_ref"), "give api_key or api_key_ref, not both")


def check_config(cfg: Config, problems: Problems, declared: set[str] | None = None) -> None:
    """Every cross-field rule of a structured config. ``declared``: every provider name in
    the document, including those whose settings had problems (reported already)."""
    names = list(cfg.providers)
    declared = set(names) if declared is None else declared
    from insightforge.config.parse import known_names

    known_types = known_names("providers")
    for name, spec in cfg.providers.items():
        check_fields(spec, key_path("$.providers", name), problems)
        _check_provider(name, spec, problems)
    for ptype, models in cfg.prices.items():
        for model, price in models.items():
            check_fields(price, key_path(key_path("$.prices", ptype), model), problems)
    used = set()
    for ref, where in _references(cfg):
        if ref in cfg.providers:
            used.add(ref)
        elif ref not in declared:
            hint = nearest(ref, declared, "providers")
            problems.add(where, f"no provider named {shown(ref)}{hint}")
    if cfg.provider is None and names:
        used.add(names[0])
    has_budget = any(layer.name == "budget" for layer, _ in _stack_layers(cfg.stack, "$.stack"))
    if has_budget:
        for name in sorted(used):
            spec = cfg.providers[name]
            if spec.type in known_types and not _priced(cfg, spec):
                problems.add(key_path(key_path("$.providers", name), "model"),
                             f"no price known for {spec.type} model {spec.model!r} and a budget "
                             f"is configured; add price: {{input: ..., output: ...}} here or "
                             f"prices: {{{spec.type}: {{{spec.model}: ...}}}}")
