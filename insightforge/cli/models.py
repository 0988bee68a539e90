"""``insightforge models [PROVIDER]``: the models a server offers, asked from the server.

Each provider lists its own (``provider.list_models()``): OpenAI and compatible servers
``GET /v1/models``, Ollama ``GET /api/tags``, Anthropic ``GET /v1/models``, a TGI server
``GET /info``. One ``NAME/MODEL`` per line — what ``chat -m`` takes — or ``--json``. A server
that cannot be reached is one line on stderr naming it, and the exit code is 1.
"""

from __future__ import annotations

import json
from typing import Any

import click

from insightforge.errors import CredentialError, InsightForgeError, Unsupported
from insightforge.secrets import scrub

__all__ = ["models"]


def _targets(ctx: click.Context, name: str | None) -> dict[str, Any]:
    """The provider instances to ask: NAME (an instance or a provider type), else every
    configured one (or the no-config default)."""
    from insightforge.cli._setup import DEFAULT_MODELS, load_setup
    from insightforge.config.schema import ProviderConfig

    config, _ = load_setup(ctx, persist=False)  # it only reads: no store, no folder
    if name is None:
        return dict(config.providers)
    if name in config.providers:
        return {name: config.providers[name]}
    typed = {n: spec for n, spec in config.providers.items() if spec.type == name}
    return typed or {name: ProviderConfig(type=name, model=DEFAULT_MODELS.get(name, "default"))}


def _list(name: str, spec: Any) -> list[str]:
    from insightforge.config.build import provider_kwargs
    from insightforge.registry import create_provider

    provider = create_provider(spec.type, **provider_kwargs(name, spec))
    try:
        lister = getattr(provider, "list_models", None)
        if lister is None:  # a plugin provider without the (optional) method
            raise Unsupported(f"the {spec.type} provider cannot list its models",
                              provider=spec.type)
        return list(lister())
    finally:
        close = getattr(provider, "close", None)
        if callable(close):
            close()


@click.command()
@click.argument("provider", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {provider: [models]}.")
@click.pass_context
def models(ctx: click.Context, provider: str | None, as_json: bool) -> None:
    """List the models a provider's server offers now, asked from the server.

    PROVIDER is an instance from the config or a provider type; without it, every
    configured provider is asked. Each line is NAME/MODEL, what `chat -m` takes. Prices:
    `insightforge providers show NAME`.
    """
    found: dict[str, list[str]] = {}
    failed = False
    for name, spec in _targets(ctx, provider).items():
        try:
            found[name] = _list(name, spec)
        except Unsupported as exc:
            click.echo(f"{name}: {scrub(str(exc))}", err=True)
        except CredentialError:
            raise
        except InsightForgeError as exc:
            failed = True
            click.echo(f"Error: {name}: {type(exc).__name__}: {scrub(str(exc))}", err=True)
    if as_json:
        click.echo(json.dumps(found, indent=2))
    else:
        for name, names in found.items():
            for model in names:
                click.echo(f"{name}/{model}")
    if failed:
        ctx.exit(1)
