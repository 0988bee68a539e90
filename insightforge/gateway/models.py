"""The model table: each name (and alias) a client may ask for, and the stack that answers it.

Two kinds of table:

* **from a config with ``models:``** — each entry is its own stack: the entry's ``stack:``
  (or the top-level one) around its provider instance (with the entry's ``model``). The
  leading ``audit``/``cache`` layers of a stack are built once and kept *outside* the
  per-key layers (:mod:`.tenancy`), so a cache hit costs no budget and one audit log sees
  every request; with ``cache_per_tenant`` every cache (nested ones too) keys by tenant.
  A name that is not listed is unknown (404).
* **one handler** (no ``models:``; ``start(llm)``, the old single-stack config) — ``default``
  and each route's model name that one stack's own choice; any other name is passed to the
  providers as ``request.model``, as the gateway always did.

What must not live here: HTTP, keys, the per-key layers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from insightforge._json import compiled
from insightforge.config.models import ModelEntry
from insightforge.config.schema import Config, LayerConfig, StackConfig
from insightforge.stack import Handler, Layer, stack
from insightforge.types import ChatRequest, EmbedRequest, Route

__all__ = ["DEFAULT_MODEL", "ModelTable", "Served", "tenant_cache_key"]

DEFAULT_MODEL = "default"
OUTER = frozenset({"audit", "cache"})
"""Layers kept above the per-key budget and rate limit (when they lead a stack)."""


def tenant_cache_key(request: ChatRequest | EmbedRequest) -> str:
    """A cache key function that partitions by the ``tenant`` tag (``Cache(key=...)``).

    The canonical request (the Cache's own form) prefixed by the tenant's length and name,
    so no tenant can read another's entries or learn what another asked.
    """
    from middleware.cache import canonical

    tenant = request.tags.get("tenant", "")
    return f"tenant:{len(tenant)}:{tenant}\n{_encode(canonical(request))}"


_encode = compiled(json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                    default=str))


@attrs.frozen
class Served:
    """One name's stack, split where the per-key layers go.

    Attributes:
        name: the listed name. outer: the leading audit/cache layers (built, shared).
        inner: the rest of the stack around the provider. default: ``outer`` around
        ``inner`` (what a caller without per-key limits uses). passthrough: a name not in
        the table goes upstream as ``request.model`` (the one-handler table).
        upstream: the model the provider is asked for (for ``/v1/models``' ``owned_by``).
    """

    name: str
    outer: tuple[Layer, ...]
    inner: Handler
    default: Handler
    owner: str
    passthrough: bool = False


def _with_cache_key(layers: Sequence[LayerConfig]) -> tuple[LayerConfig, ...]:
    out = []
    for layer in layers:
        if layer.name == "cache":
            layer = attrs.evolve(layer, options={**layer.options, "key": tenant_cache_key})
        elif layer.alternates:
            alternates = tuple(alt if isinstance(alt, str) else
                               StackConfig(_with_cache_key(alt.layers), alt.provider)
                               for alt in layer.alternates)
            layer = attrs.evolve(layer, alternates=alternates)
        out.append(layer)
    return tuple(out)


def _split(layers: Sequence[LayerConfig]) -> tuple[tuple[LayerConfig, ...],
                                                   tuple[LayerConfig, ...]]:
    cut = 0
    while cut < len(layers) and layers[cut].name in OUTER:
        cut += 1
    return tuple(layers[:cut]), tuple(layers[cut:])


class ModelTable:
    """Names and aliases -> :class:`Served` (see the module docstring)."""

    def __init__(self, served: Sequence[Served], aliases: dict[str, str],
                 closers: Sequence[Any] = ()) -> None:
        self._served = {s.name: s for s in served}
        self._names = {**{s.name: s.name for s in served}, **aliases}
        self._closers = tuple(closers)
        self.passthrough = next((s for s in served if s.passthrough), None)

    @classmethod
    def single(cls, handler: Handler, *, own: bool = False) -> ModelTable:
        """The one-handler table (no ``models:``); ``own``: close ``handler`` with it."""
        routes = handler.routes()
        served = Served(DEFAULT_MODEL, (), handler, handler,
                        routes[0].provider if routes else "insightforge", passthrough=True)
        aliases = {r.model: DEFAULT_MODEL for r in routes if r.model != DEFAULT_MODEL}
        return cls([served], aliases, [handler] if own else [])

    @classmethod
    def from_config(cls, config: Config, entries: Sequence[ModelEntry], *,
                    per_tenant_cache: bool = True) -> ModelTable:
        """Build every entry's stack now (so ``/readyz`` means the providers are built)."""
        from insightforge.config.build import build

        fix: Callable[[Sequence[LayerConfig]], tuple[LayerConfig, ...]] = (
            _with_cache_key if per_tenant_cache else tuple)
        shared_outer: tuple[Layer, ...] | None = None
        served, aliases, closers = [], {}, []
        for entry in entries:
            layers = fix(entry.stack if entry.stack is not None else config.stack)
            outer_specs, inner_specs = _split(layers)
            if entry.stack is None:  # one audit log / one cache object for all such models
                if shared_outer is None:
                    shared_outer = _build_layers(outer_specs)
                outer = shared_outer
            else:
                outer = _build_layers(outer_specs)
            spec = config.providers[entry.provider]
            name = entry.provider
            if entry.model is not None and entry.model != spec.model:
                name = f"{entry.provider}@{entry.model}"
                spec = attrs.evolve(spec, model=entry.model)
            sub = attrs.evolve(config, providers={**config.providers, name: spec},
                               stack=inner_specs, provider=name)
            inner = build(sub)
            closers.append(inner)
            served.append(Served(entry.name, outer, inner, stack(*outer, provider=inner),
                                 _owner(inner.routes())))
            aliases.update({alias: entry.name for alias in entry.aliases})
        outer_layers = {id(x): x for s in served for x in s.outer}  # audit sinks, caches
        return cls(served, aliases, [*closers, *outer_layers.values()])

    def resolve(self, name: str | None) -> tuple[Served, str | None] | None:
        """``(served, upstream model or None)`` for a requested name; ``None``: unknown.

        ``None`` or ``""`` means the first entry (``default`` in the one-handler table).
        """
        if not name:
            first = next(iter(self._served.values()))
            return first, None
        canonical = self._names.get(name)
        if canonical is not None:
            return self._served[canonical], None
        if self.passthrough is not None:
            return self.passthrough, name
        return None

    def canonical(self, name: str) -> str | None:
        """The listed name ``name`` stands for (itself, or what it is an alias of)."""
        return self._names.get(name)

    def listing(self, allowed: Callable[[str], bool] = lambda _: True,
                ) -> list[tuple[str, str]]:
        """``(name, owner)`` for ``/v1/models``: names, then aliases, that pass ``allowed``."""
        out = []
        for name, canonical in self._names.items():
            if allowed(canonical):
                out.append((name, self._served[canonical].owner))
        return out

    def routes(self) -> tuple[Route, ...]:
        out: list[Route] = []
        for served in self._served.values():
            out.extend(served.inner.routes())
        return tuple(out)

    def __len__(self) -> int:
        return len(self._served)

    def close(self) -> None:
        """Close every provider this table built (and layers that hold files)."""
        for item in self._closers:
            close = getattr(item, "close", None)
            if callable(close):
                close()

    async def aclose(self) -> None:
        for item in self._closers:
            aclose = getattr(item, "aclose", None)
            if callable(aclose):
                await aclose()
            else:
                close = getattr(item, "close", None)
                if callable(close):
                    close()


def _owner(routes: Sequence[Route]) -> str:
    return routes[0].provider if routes else "insightforge"


def _build_layers(specs: Sequence[LayerConfig]) -> tuple[Layer, ...]:
    from insightforge import registry
    from insightforge.errors import ConfigError

    built = []
    for spec in specs:
        try:
            built.append(registry.create_layer(spec.name, **spec.options))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad options for layer {spec.name!r}: {exc}",
                              path=f"$.stack[{spec.index}].{spec.name}") from None
    return tuple(built)
