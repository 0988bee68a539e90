"""The JSON Schema of a config file, generated from the attrs classes in ``schema``.

For editors (``# yaml-language-server: $schema=...``) and docs/configuration.md. The same
field metadata (``doc``, ``min``, ``max``, ``exclusive_min``, ``choices``, ``pattern``) drives
both this schema and the checks in :mod:`insightforge.config.validate`. Pure.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from insightforge import registry
from insightforge.config.layers import layer_fields, option_docs
from insightforge.config.schema import ProviderConfig, RequestDefaults
from insightforge.pricing import Price
from insightforge.pricing._parse import RATE_KEYS
from insightforge.secrets import Secret

__all__ = ["json_schema"]

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    Secret: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    Decimal: {"type": "number"},
    bool: {"type": "boolean"},
}


def _price_schema() -> dict[str, Any]:
    """A price as config writes it: rates in USD per million tokens (``input`` required)."""
    rate = {"type": ["number", "string"], "minimum": 0}
    return {"type": "object", "required": ["input"], "additionalProperties": False,
            "description": "USD per million tokens (docs/pricing.md).",
            "properties": {key: dict(rate) for key in RATE_KEYS}}


def _type_schema(hint: Any) -> dict[str, Any]:
    if hint is Price:
        return _price_schema()
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _type_schema(options[0]) if len(options) == 1 else {
            "anyOf": [_type_schema(a) for a in options]}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(typing.get_args(hint)[0])}
    if origin is Mapping or hint is Mapping:
        return {"type": "object"}
    if attrs.has(hint):
        return _class_schema(hint)
    return {}


def _class_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required = []
    for field in attrs.fields(cls):
        prop = _type_schema(hints[field.name])
        meta = field.metadata
        if "doc" in meta:
            prop["description"] = meta["doc"]
        if "min" in meta:
            prop["exclusiveMinimum" if meta.get("exclusive_min") else "minimum"] = meta["min"]
        if "max" in meta:
            prop["maximum"] = meta["max"]
        if "choices" in meta:
            prop["enum"] = list(meta["choices"])
        if "pattern" in meta:
            prop["pattern"] = meta["pattern"]
        properties[field.name] = prop
        if field.default is attrs.NOTHING:
            required.append(field.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _layer_schema(cls: type) -> dict[str, Any]:
    """The options of a layer class: its configurable fields, described by its docstring."""
    hints = typing.get_type_hints(cls)
    docs = option_docs(cls)
    properties: dict[str, Any] = {}
    required = []
    for name, field in layer_fields(cls).items():
        prop = dict(field.metadata.get("json") or (
            {} if field.converter is not None else _type_schema(hints[field.name])))
        if name in docs or field.name in docs:
            prop["description"] = docs.get(name) or docs[field.name]
        properties[name] = prop
        if field.default is attrs.NOTHING:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _builtin_layers() -> dict[str, type]:
    found = {}
    for row in registry.list_layers():
        try:
            factory = registry.layer_factory(row.name)
        except Exception:  # a broken plugin is listed by `insightforge providers`, not here
            continue
        if isinstance(factory, type) and attrs.has(factory):
            found[row.name] = factory
    return found


def _layer_item(name: str, options: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {name: options}, "required": [name],
            "additionalProperties": False}


def _stack_schema() -> dict[str, Any]:
    alternate = {"anyOf": [
        {"type": "string", "description": "A provider's name."},
        {"type": "object", "properties": {"stack": {"$ref": "#/$defs/stack"},
                                          "provider": {"type": "string"}},
         "required": ["provider"], "additionalProperties": False}]}
    alternates = {"type": "array", "items": alternate, "minItems": 1}
    fallback_options = {"type": "object", "additionalProperties": False, "properties": {
        "alternates": alternates,
        "on": {"type": "array", "items": {"type": "string"},
               "description": "Error types that move on, besides the retryable ones."}}}
    items: list[dict[str, Any]] = [
        {"type": "string", "description": "A layer with its default options."},
        _layer_item("fallback", {"anyOf": [alternates, fallback_options]}),
    ]
    items += [_layer_item(name, {"anyOf": [_layer_schema(cls), {"type": "null"}]})
              for name, cls in _builtin_layers().items() if name != "fallback"]
    items.append({"type": "object", "minProperties": 1, "maxProperties": 1,
                  "description": "A plugin layer and its options."})
    return {"type": "array", "items": {"anyOf": items},
            "description": "Layers, outermost first: the first listed sees the request first."}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an InsightForge config file."""
    provider = _class_schema(ProviderConfig)
    provider["properties"]["defaults"] = _class_schema(RequestDefaults)
    # `model: anthropic/claude-haiku-4-5` names the type, so `type` may be left out
    provider["required"] = [r for r in provider.get("required", []) if r != "type"]
    if not provider["required"]:
        del provider["required"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://insightforge.dev/schema/config.json",
        "title": "InsightForge configuration",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "version": {"const": 1},
            "providers": {"type": "object", "additionalProperties": {"$ref": "#/$defs/provider"},
                          "minProperties": 1, "description": "Named provider instances."},
            "provider": {"type": "string", "description": "The instance the stack wraps "
                                                          "(default: the first one)."},
            "stack": {"$ref": "#/$defs/stack"},
            "models": {"type": "object", "description": "The gateway's model list: names "
                       "(and aliases) to a provider and model, or to a stack "
                       "(docs/gateway.md)."},
            "gateway": {"type": "object", "description": "The gateway's settings: keys, "
                        "store, limits (docs/gateway.md)."},
            "aliases": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "Short names for models: {alias: provider/model}."},
            "prices": {"type": "object", "description": "Extra prices: {type: {model: price}}.",
                       "additionalProperties": {"type": "object",
                                                "additionalProperties": _price_schema()}},
        },
        "required": ["providers"],
        "$defs": {"provider": provider, "stack": _stack_schema()},
    }
