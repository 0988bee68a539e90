"""Model references: ``provider/model`` names and aliases, wherever a config names a model.

A reference is what a user writes where a provider is expected — ``provider:``, a
``fallback`` alternate, a nested stack's ``provider:``, the CLI's ``-m``:

* the name of an instance under ``providers:`` (``main``);
* ``INSTANCE/MODEL`` (``main/gpt-4o``): that instance with another default model;
* ``TYPE/MODEL`` (``anthropic/claude-haiku-4-5``): a registered provider type — the first
  instance of that type in the config with this model, else a new instance of the type;
* an alias from the top-level ``aliases:`` mapping (``fast: openai/gpt-4o-mini``), which
  stands for one of the above.

A reference that names a new instance or model becomes an instance of its own, named by the
reference (``anthropic/claude-haiku-4-5``): routes, cache keys, rate limits and budget
prices then see the model really used. Its credential is its owner's (the instance before
the slash; :func:`owner`). A name whose part before the slash is neither an instance nor a
type is a model of its own (``meta-llama/Llama-3.1-8B`` on a Hugging Face server). Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import attrs

from insightforge.config.schema import Config, LayerConfig, ProviderConfig, StackConfig

__all__ = ["Resolved", "expand_references", "owner", "resolve", "split_ref"]


@attrs.frozen
class Resolved:
    """Where a reference leads.

    Attributes:
        name: the instance to use (an existing one, or ``spec``'s new name).
        spec: a new instance to add under ``name``; ``None`` when ``name`` exists.
        model: a model for requests when the reference is a bare model name on the
            default instance (the CLI's ``-m gpt-4o``); else ``None``.
    """

    name: str
    spec: ProviderConfig | None = None
    model: str | None = None


def owner(name: str) -> str:
    """The instance whose credential an instance named ``name`` uses: ``main`` for
    ``main/gpt-4o``, the type for ``anthropic/claude-haiku-4-5``."""
    return name.partition("/")[0] if "/" in name else name


def split_ref(text: str, instances: Collection[str],
              types: Collection[str]) -> tuple[str | None, str]:
    """``(prefix, model)`` when ``text`` is ``INSTANCE/MODEL`` or ``TYPE/MODEL``; else
    ``(None, text)``."""
    prefix, sep, rest = text.partition("/")
    if sep and rest and prefix and (prefix in instances or prefix in types):
        return prefix, rest
    return None, text


def _of_type(providers: Mapping[str, ProviderConfig], ptype: str,
             prefer: tuple[str | None, ...]) -> str | None:
    for name in prefer:
        if name is not None and name in providers and providers[name].type == ptype:
            return name
    return next((name for name, spec in providers.items() if spec.type == ptype), None)


def resolve(text: str, providers: Mapping[str, ProviderConfig], aliases: Mapping[str, str],
            types: Collection[str], *, prefer: tuple[str | None, ...] = (),
            bare_model: bool = False) -> Resolved | None:
    """Where reference ``text`` leads, or ``None`` when it names nothing.

    ``prefer``: instances to pick first for ``TYPE/MODEL`` (the CLI's ``-p``, the primary).
    ``bare_model``: a name that is no reference is a model for the default instance (the
    CLI's ``-m``); without it (config references) such a name leads nowhere.
    """
    target = aliases.get(text, text)
    if target in providers:
        return Resolved(target)
    prefix, model = split_ref(target, providers, types)
    if prefix is None:
        return Resolved("", model=target) if bare_model else None
    if prefix in providers:
        base = providers[prefix]
        name = prefix
    else:
        name = _of_type(providers, prefix, prefer) or ""
        base = providers[name] if name else ProviderConfig(type=prefix, model=model)
    if base.model == model and name:
        return Resolved(name)
    spec = attrs.evolve(base, model=model)
    new = f"{name or prefix}/{model}"
    return Resolved(new, None if new in providers else spec)


def _ref(ref: str, config: Config, added: dict[str, ProviderConfig],
         types: Collection[str]) -> str:
    """The instance a reference leads to (added to ``added`` when new), or the reference
    itself when it leads nowhere (``check_config`` reports it)."""
    if ref in config.providers:
        return ref
    providers = {**config.providers, **added}
    found = resolve(ref, providers, config.aliases, types,
                    prefer=(config.provider, next(iter(config.providers), None)))
    if found is None:
        return ref
    if found.spec is not None:
        added[found.name] = found.spec
    return found.name


def _expand_layers(layers: tuple[LayerConfig, ...], config: Config,
                   added: dict[str, ProviderConfig],
                   types: Collection[str]) -> tuple[LayerConfig, ...]:
    out = []
    for layer in layers:
        if layer.alternates:
            alternates = tuple(
                _ref(alt, config, added, types) if isinstance(alt, str)
                else StackConfig(_expand_layers(alt.layers, config, added, types),
                                 _ref(alt.provider, config, added, types))
                for alt in layer.alternates)
            layer = attrs.evolve(layer, alternates=alternates)
        out.append(layer)
    return tuple(out)


def expand_references(config: Config, types: Collection[str]) -> Config:
    """``config`` with every ``provider:`` and fallback reference that is an alias or a
    ``provider/model`` name resolved to an instance (:mod:`insightforge.config.refs`),
    new instances added under ``providers``; ``types``: the registered provider types."""
    added: dict[str, ProviderConfig] = {}
    primary = None if config.provider is None else _ref(config.provider, config, added, types)
    stack = _expand_layers(config.stack, config, added, types)
    if not added and primary == config.provider and stack == config.stack:
        return config
    return attrs.evolve(config, providers={**config.providers, **added}, provider=primary,
                        stack=stack)
