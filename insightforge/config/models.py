"""The gateway's two config sections: ``models:`` (names and aliases -> stacks) and ``gateway:``.

What lives here: the shapes (:class:`ModelEntry`, :class:`GatewaySettings`) and their parsers,
which collect problems with their ``$.path`` like the rest of the config. ``parse.py`` calls
both so ``insightforge config validate`` reports their problems with everything else; the
gateway (:mod:`insightforge.gateway.models`) calls them again to read the values. What must
not live here: building stacks, I/O.

::

    models:
      gpt-4o-mini: {provider: openai}                 # a providers: instance
      claude-sonnet:
        provider: claude
        model: claude-sonnet-4-5                      # the upstream model (default: the
        aliases: [claude]                             #   instance's own)
        stack: [{retry: {attempts: 2}}]               # replaces the top-level stack:
    gateway:
      keys: sqlite:///keys.db                         # the virtual-key store
      store: redis://localhost:6379/0                 # per-key budgets and rate limits
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs

from insightforge.config.problems import Problems, index_path, key_path, nearest
from insightforge.config.schema import LayerConfig

__all__ = ["GatewaySettings", "ModelEntry", "parse_gateway", "parse_models"]

LayersParser = Callable[[Any, str, Problems], tuple[LayerConfig, ...]]


@attrs.frozen
class ModelEntry:
    """One name clients may ask for.

    Attributes:
        name: the name listed by ``/v1/models``. provider: the ``providers:`` instance.
        model: the upstream model (``None``: the instance's default). aliases: other names
        for the same entry. stack: its own layers, outermost first (``None``: the top-level
        ``stack:``).
    """

    name: str
    provider: str
    model: str | None = None
    aliases: tuple[str, ...] = ()
    stack: tuple[LayerConfig, ...] | None = None


@attrs.frozen
class GatewaySettings:
    """The ``gateway:`` section (every field optional).

    Attributes:
        keys: the virtual-key store (``sqlite:///keys.db``, ``redis://...``); ``None``: none.
        store: where per-key budgets and rate limits live (``memory``, ``sqlite:///x.db``,
            ``redis://...``); with ``--workers`` it must be SQLite or Redis.
        cache_per_tenant: partition every cache by the key's tenant (default true).
        max_body_bytes / max_json_depth / max_header_bytes: request bounds.
        tenant_label_limit: distinct tenant labels /metrics keeps (the rest: ``other``).
        key_cache_seconds: how long a looked-up key is trusted (a revoke takes this long).
        rate_limit_wait: seconds a request may wait for its key's rate limit (then 429).
    """

    keys: str | None = None
    store: str = "memory"
    cache_per_tenant: bool = True
    max_body_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 64
    max_header_bytes: int = 64 * 1024
    tenant_label_limit: int = 100
    key_cache_seconds: float = 5.0
    rate_limit_wait: float = 0.0


_ENTRY_KEYS = ("provider", "model", "aliases", "stack")
_INTS = {"max_body_bytes": 1024, "max_json_depth": 2, "max_header_bytes": 1024,
         "tenant_label_limit": 1}
_FLOATS = ("key_cache_seconds", "rate_limit_wait")


def _name(value: Any, path: str, problems: Problems, taken: dict[str, str]) -> str | None:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        problems.add(path, f"expected a model name (a non-empty string), got {value!r}")
        return None
    if value in taken:
        problems.add(path, f"{value!r} is already used by {taken[value]}; names and aliases "
                     "must be unique")
        return None
    return value


def parse_models(raw: Any, problems: Problems, providers: Collection[str],
                 layers: LayersParser) -> tuple[ModelEntry, ...]:
    """The ``models:`` section; problems go to ``problems`` (nothing raised here)."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        problems.add("$.models", "expected a mapping of model names to {provider, model, "
                     "aliases, stack}")
        return ()
    entries: list[ModelEntry] = []
    taken: dict[str, str] = {}
    for name, spec in raw.items():
        where = key_path("$.models", name)
        if _name(name, where, problems, taken) is None:
            continue
        if isinstance(spec, str):
            spec = {"provider": spec}
        if not isinstance(spec, Mapping):
            problems.add(where, "expected {provider: NAME, model: ..., aliases: [...]} or a "
                         "provider name")
            continue
        for key in spec:
            if key not in _ENTRY_KEYS:
                problems.add(key_path(where, key), f"unknown key {key!r}"
                             f"{nearest(str(key), _ENTRY_KEYS, 'valid keys')}")
        provider = spec.get("provider")
        if not isinstance(provider, str):
            problems.add(key_path(where, "provider"), "required: the name of a provider "
                         "under providers:")
            continue
        if providers and provider not in providers:
            problems.add(key_path(where, "provider"), f"no provider named {provider!r}"
                         f"{nearest(provider, providers, 'configured')}")
        model = spec.get("model")
        if model is not None and (not isinstance(model, str) or not model):
            problems.add(key_path(where, "model"), "expected the upstream model's name")
            model = None
        taken[name] = f"$.models.{name}"
        aliases = []
        raw_aliases = spec.get("aliases") or []
        if not isinstance(raw_aliases, list):
            problems.add(key_path(where, "aliases"), "expected a list of names")
            raw_aliases = []
        for i, alias in enumerate(raw_aliases):
            ok = _name(alias, index_path(key_path(where, "aliases"), i), problems, taken)
            if ok is not None:
                taken[ok] = f"$.models.{name}"
                aliases.append(ok)
        stack = (layers(spec["stack"], key_path(where, "stack"), problems)
                 if "stack" in spec else None)
        entries.append(ModelEntry(name, provider, model, tuple(aliases), stack))
    return tuple(entries)


def parse_gateway(raw: Any, problems: Problems) -> GatewaySettings:
    """The ``gateway:`` section; problems go to ``problems``."""
    if raw is None:
        return GatewaySettings()
    if not isinstance(raw, Mapping):
        problems.add("$.gateway", "expected a mapping of gateway settings")
        return GatewaySettings()
    valid = tuple(f.name for f in attrs.fields(GatewaySettings))
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = key_path("$.gateway", key)
        if key not in valid:
            problems.add(where, f"unknown key {key!r}{nearest(str(key), valid, 'valid keys')}")
        elif key in ("keys", "store"):
            if isinstance(value, str) and value and (
                    value == "memory" or value.startswith(("sqlite:", "redis://", "rediss://",
                                                           "unix://"))):
                values[key] = value
            elif value is not None or key == "store":
                problems.add(where, "expected 'memory', 'sqlite:///PATH' or 'redis://...'")
        elif key == "cache_per_tenant":
            if isinstance(value, bool):
                values[key] = value
            else:
                problems.add(where, "expected true or false")
        elif key in _INTS:
            if isinstance(value, bool) or not isinstance(value, int) or value < _INTS[key]:
                problems.add(where, f"expected a whole number >= {_INTS[key]}")
            else:
                values[key] = value
        elif key in _FLOATS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                problems.add(where, "expected a number of seconds >= 0")
            else:
                values[key] = float(value)
    if values.get("keys") == "memory":
        problems.add("$.gateway.keys", "a memory key store forgets every key when the "
                     "gateway stops; use sqlite:///keys.db or redis://...")
        values.pop("keys")
    return GatewaySettings(**values)
