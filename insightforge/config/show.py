"""A checked :class:`Config` back to a plain document, secrets masked (``config show``).

What lives here: :func:`to_document` — the inverse of parsing, in the same shape a user
writes (``stack: [- cache: {ttl: 60}]``), with every :class:`Secret` and every option whose
name says it is secret (``*key*``, ``*token*``, ``*secret*``, ``*password*``) masked, and
unset fields left out. It can never return a secret's value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from insightforge.config.converter import config_converter
from insightforge.config.schema import Config, LayerConfig, StackConfig
from insightforge.secrets import Secret, mask

__all__ = ["to_document"]

_SECRET_NAME = re.compile(r"key|token|secret|password|credential", re.IGNORECASE)
# what :func:`~insightforge.secrets.mask` returns: a Secret field arrives here already masked
# (the converter unstructures a Secret to its masked form) and must not be masked twice
_MASKED = re.compile(r"^(?:\*\*\*\*|.{4}…\(\d+ chars\))$", re.DOTALL)


def _clean(value: Any, name: str = "") -> Any:
    if isinstance(value, Secret):
        return value.masked
    if isinstance(value, Mapping):
        return {str(k): _clean(v, str(k)) for k, v in value.items()
                if v is not None and v != {}}
    if isinstance(value, (list, tuple)):
        return [_clean(v, name) for v in value]
    if isinstance(value, str) and _SECRET_NAME.search(name) and not name.endswith("_ref") \
            and not name.endswith("_env") and name != "keyring_entry" \
            and not _MASKED.match(value):
        return mask(value)
    return value


def _layer(layer: LayerConfig) -> dict[str, Any]:
    plain = config_converter().unstructure(dict(layer.options))
    if layer.name != "fallback":
        return {layer.name: _clean(plain)}
    alternates = [alt if isinstance(alt, str) else _nested(alt) for alt in layer.alternates]
    if plain:
        return {"fallback": {"alternates": alternates, **_clean(plain)}}
    return {"fallback": alternates}


def _nested(alt: StackConfig) -> dict[str, Any]:
    return {"stack": [_layer(layer) for layer in alt.layers], "provider": alt.provider}


def to_document(config: Config) -> dict[str, Any]:
    """The config as a YAML-ready dict, masked."""
    conv = config_converter()
    doc: dict[str, Any] = {
        "providers": {name: _clean(conv.unstructure(spec))
                      for name, spec in config.providers.items()},
        "provider": config.primary(),
        "stack": [_layer(layer) for layer in config.stack],
    }
    if config.prices:
        doc["prices"] = _clean(conv.unstructure(dict(config.prices)))
    if config.aliases:
        doc["aliases"] = dict(config.aliases)
    return doc
