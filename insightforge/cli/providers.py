"""``insightforge providers list|show``: built-in and plugin providers, models and prices.

Plugins come from the ``insightforge.providers`` entry points, loaded so that a broken
plugin shows its error instead of disappearing; prices from :mod:`insightforge.pricing`.
"""

from __future__ import annotations

import click

from insightforge.errors import ConfigError

__all__ = ["providers"]


@click.group()
def providers() -> None:
    """List the providers InsightForge can use, with their models and prices."""


@providers.command("list")
def list_() -> None:
    """Every provider: name, source (builtin or the plugin's package), status."""
    from insightforge.registry import list_providers

    rows = list_providers(load=True)
    width = max((len(r.name) for r in rows), default=4)
    source_width = max((len(r.source) for r in rows), default=7)
    for row in rows:
        status = f"BROKEN: {row.error}" if row.error else "ok"
        click.echo(f"{row.name:<{width}}  {row.source:<{source_width}}  {status}")


@providers.command()
@click.argument("name")
def show(name: str) -> None:
    """Details of provider NAME: where it comes from, credential, endpoint, models, prices."""
    from insightforge.pricing import data_version, known_models, price_for
    from insightforge.registry import list_providers, provider_factory

    rows = {r.name: r for r in list_providers(load=True)}
    if name not in rows:
        raise ConfigError(f"unknown provider {name!r}; known: {', '.join(sorted(rows))}")
    row = rows[name]
    click.echo(f"{name}  ({row.source}, {row.target})")
    if row.error:
        click.echo(f"  BROKEN: {row.error}")
        return
    factory = provider_factory(name)
    doc = (factory.__doc__ or "").strip().splitlines()
    if doc:
        click.echo(f"  {doc[0]}")
    env = getattr(factory, "env_vars", ())
    if env:
        click.echo(f"  credential: {', '.join(env)} or `insightforge keys set {name}`")
    base = getattr(factory, "default_base_url", "")
    if base:
        click.echo(f"  endpoint:   {base}")
    models = known_models(name)
    if not models:
        free = price_for(name, "any") is not None
        click.echo("  prices:     free (local models)" if free else
                   "  prices:     none built in; set price: on the provider, or prices:")
        return
    click.echo(f"  models (USD per million tokens, from {data_version()} and overrides;"
               f" `insightforge prices MODEL --provider {name}` for the details):")
    width = max(len(m) for m in models)
    for model, price in sorted(models.items()):
        read = "" if price.cache_read is None else f"  cached {price.cache_read:>7}"
        click.echo(f"    {model:<{width}}  in {price.input:>7}  out {price.output:>7}{read}")
