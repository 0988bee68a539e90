"""The ``insightforge config init`` wizard: prompts in, a checked YAML file out.

Steps: pick providers, for each its name, model and endpoint, its key (hidden input, stored
in the OS keyring, never in the file), a connection test; then a small stack (retries, an
optional daily budget); then write the file and load it back to prove it is valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from insightforge.errors import ConfigError

__all__ = ["run_wizard"]

_KEYLESS = frozenset({"ollama"})


def _choices() -> list[str]:
    from insightforge.registry import list_providers

    return [r.name for r in list_providers(load=True) if r.error is None]


def _provider(ptype: str, taken: set[str]) -> tuple[str, dict[str, Any]]:
    from insightforge.cli._setup import DEFAULT_MODELS
    from insightforge.registry import provider_factory

    name = click.prompt(f"Name for this {ptype} provider", default=ptype)
    while name in taken:
        name = click.prompt("That name is taken; another name")
    spec: dict[str, Any] = {"type": ptype}
    if ptype == "azure":
        spec["deployment"] = click.prompt("Azure deployment name")
        spec["api_version"] = click.prompt("Azure API version", default="2024-10-21")
    else:
        spec["model"] = click.prompt("Model", default=DEFAULT_MODELS.get(ptype, "default"))
    default_url = getattr(provider_factory(ptype), "default_base_url", "") or None
    url = click.prompt("Base URL", default=default_url or "", show_default=bool(default_url))
    if url and url != default_url:
        spec["base_url"] = url.rstrip("/")
    return name, spec


def _key(name: str, ptype: str, spec: dict[str, Any]) -> None:
    from insightforge.credentials import KeyringUnavailable, keyring_set

    if ptype in _KEYLESS:
        return
    key = click.prompt(f"API key for {name} (hidden; empty to use an environment variable)",
                       hide_input=True, default="", show_default=False)
    if not key.strip():
        return
    try:
        keyring_set(name, key.strip())
    except KeyringUnavailable as exc:  # never fall back to writing the key into the file
        click.echo(f"  {exc}", err=True)
        click.echo("  the key was NOT stored; set it in the environment before using "
                   f"{name}", err=True)
        return
    spec["api_key_ref"] = f"keyring:{name}"
    click.echo(f"  stored in the OS keyring as {name!r}")


def _test(name: str, spec: dict[str, Any]) -> bool:
    from insightforge.cli.keys import test_provider
    from insightforge.config import load_config

    cfg = load_config({"providers": {name: spec}})
    ok, message = test_provider(name, cfg.providers[name])
    click.echo(f"  test: {message}")
    return ok


def _stack(others: list[str]) -> list[Any]:
    """Outermost first: budget, fallback to the other providers, retry."""
    retry = click.confirm("Retry transient failures (retry: {attempts: 3})?", default=True)
    budget = click.prompt("Daily budget in USD (0 for none)", default=0.0, type=float)
    layers: list[Any] = []
    if budget > 0:
        layers.append({"budget": {"limit_usd": budget, "period": "day"}})
    if others:
        layers.append({"fallback": others})
    if retry:
        layers.append({"retry": {"attempts": 3}})
    return layers


def run_wizard(target: Path, *, force: bool = False) -> None:
    """Ask, store keys, test, write ``target``; raises ``ConfigError`` if nothing is set up."""
    import yaml

    from insightforge.config import load_config

    click.echo("InsightForge setup. Keys go to the OS keyring; the config file holds none.")
    if target.exists() and not force:
        click.confirm(f"{target} exists. Overwrite it?", abort=True)
    available = _choices()
    picked = click.prompt(f"Providers to set up, comma separated ({', '.join(available)})",
                          default="openai" if "openai" in available else available[0])
    providers: dict[str, dict[str, Any]] = {}
    for ptype in (p.strip() for p in picked.split(",") if p.strip()):
        if ptype not in available:
            click.echo(f"  skipping unknown provider {ptype!r}")
            continue
        name, spec = _provider(ptype, set(providers))
        _key(name, ptype, spec)
        if click.confirm("Test the connection now?", default=True) and not _test(name, spec) \
                and not click.confirm("The test failed. Keep this provider anyway?",
                                      default=False):
            continue
        providers[name] = spec
    if not providers:
        raise ConfigError("no provider set up; nothing written")
    primary = next(iter(providers))
    if len(providers) > 1:
        primary = click.prompt("Main provider", type=click.Choice(list(providers)),
                               default=primary)
    stack = _stack([n for n in providers if n != primary])
    doc = {"providers": providers, "provider": primary, "stack": stack}
    load_config(doc)  # never write a file that does not load
    target.parent.mkdir(parents=True, exist_ok=True)
    header = "# InsightForge config, written by `insightforge config init`. No secrets here.\n"
    target.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    click.echo(f"Wrote {target}. Try: insightforge chat \"hi\"")
