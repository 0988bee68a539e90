"""Find providers and layers by name: built-ins and plugins through entry points.

Built-in providers and layers register exactly as third-party plugins do, through the
entry-point groups ``insightforge.providers`` and ``insightforge.layers`` in
``pyproject.toml``, so the core never imports the ``providers`` or ``middleware`` packages.
Code may also register a factory directly (:func:`register_provider`), which wins over an
entry point of the same name. A plugin that fails to load is reported with its name and
error (:func:`plugin_errors`) and never breaks the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from insightforge.errors import ConfigError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "PROVIDER_GROUP",
    "LAYER_GROUP",
    "Registered",
    "create_layer",
    "create_provider",
    "layer_factory",
    "list_layers",
    "list_providers",
    "plugin_errors",
    "provider_factory",
    "register_layer",
    "register_provider",
    "split_model",
]

PROVIDER_GROUP = "insightforge.providers"
LAYER_GROUP = "insightforge.layers"

Factory = Callable[..., Any]


@attrs.frozen
class Registered:
    """One name in a registry.

    Attributes:
        name: the registered name; source: ``builtin``, the plugin's distribution, or
        ``code``; target: ``module:attr``; error: why it failed to load, if it did.
    """

    name: str
    source: str
    target: str
    error: str | None = None


class _Registry:
    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._lock = threading.Lock()
        self._code: dict[str, Factory] = {}
        self._loaded: dict[str, Factory] = {}
        self._errors: dict[str, str] = {}

    def _entry_points(self) -> dict[str, EntryPoint]:
        from importlib.metadata import entry_points  # lazy: costs ~15 ms at import time

        return {ep.name: ep for ep in entry_points(group=self.group)}

    def register(self, name: str, factory: Factory) -> None:
        with self._lock:
            self._code[name] = factory

    def get(self, name: str) -> Factory:
        with self._lock:
            if name in self._code:
                return self._code[name]
            if name in self._loaded:
                return self._loaded[name]
        eps = self._entry_points()
        if name not in eps:
            known = sorted({*eps, *self._code})
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(known)}")
        try:
            factory: Factory = eps[name].load()
        except Exception as exc:  # a broken plugin: report it, never crash the others
            with self._lock:
                self._errors[name] = f"{type(exc).__name__}: {exc}"
            raise ConfigError(f"{self.kind} plugin {name!r} ({eps[name].value}) failed to "
                              f"load: {type(exc).__name__}: {exc}") from None
        with self._lock:
            self._loaded[name] = factory
        return factory

    def listing(self, load: bool = False) -> list[Registered]:
        rows: dict[str, Registered] = {}
        for name, ep in self._entry_points().items():
            dist = ep.dist.name if ep.dist is not None else "?"
            source = "builtin" if dist == "insightforge" else dist
            error = None
            if load:
                try:
                    self.get(name)
                except ConfigError:
                    error = self._errors.get(name)
            rows[name] = Registered(name, source, ep.value, error)
        for name, factory in self._code.items():
            target = f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__name__', '?')}"
            rows[name] = Registered(name, "code", target)
        return sorted(rows.values(), key=lambda r: r.name)

    def errors(self) -> dict[str, str]:
        with self._lock:
            return dict(self._errors)


_providers = _Registry(PROVIDER_GROUP, "provider")
_layers = _Registry(LAYER_GROUP, "layer")


def register_provider(name: str, factory: Factory) -> None:
    """Register a provider factory (a class or function taking keyword options)."""
    _providers.register(name, factory)


def register_layer(name: str, factory: Factory) -> None:
    """Register a layer factory for configuration files."""
    _layers.register(name, factory)


def provider_factory(name: str) -> Factory:
    """The factory registered as ``name`` (raises ``ConfigError`` naming the known ones)."""
    return _providers.get(name)


def layer_factory(name: str) -> Factory:
    return _layers.get(name)


def split_model(name: str) -> tuple[str | None, str]:
    """``("anthropic", "claude-haiku-4-5")`` for ``"anthropic/claude-haiku-4-5"`` when the
    part before the slash is a registered provider; else ``(None, name)`` — a model whose
    own name has a slash (``meta-llama/Llama-3.1-8B-Instruct``)."""
    prefix, sep, model = name.partition("/")
    if sep and prefix and model:
        with _providers._lock:
            known = prefix in _providers._code or prefix in _providers._loaded
        if known or prefix in _providers._entry_points():
            return prefix, model
    return None, name


def create_provider(type: str, /, **options: Any) -> Any:
    """Build a provider by registered name: ``create_provider("openai", model="gpt-4o")``,
    or by ``provider/model``: ``create_provider("anthropic/claude-haiku-4-5")``."""
    ptype, model = split_model(type)
    if ptype is not None:
        if "model" in options:
            raise ConfigError(f"create_provider({type!r}) names the model already; drop "
                              "model=, or pass the provider name alone")
        type, options = ptype, {**options, "model": model}
    factory = _providers.get(type)
    try:
        return factory(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for provider {type!r}: {exc}") from None


def create_layer(type: str, /, **options: Any) -> Any:
    """Build a layer by registered name: ``create_layer("retry", attempts=3)``."""
    factory = _layers.get(type)
    try:
        return factory(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for layer {type!r}: {exc}") from None


def list_providers(load: bool = False) -> list[Registered]:
    """Every known provider, with its source; ``load=True`` also reports broken plugins."""
    return _providers.listing(load)


def list_layers(load: bool = False) -> list[Registered]:
    return _layers.listing(load)


def plugin_errors() -> dict[str, str]:
    """Plugins that failed to load so far: name -> error."""
    return {**_providers.errors(), **_layers.errors()}
