"""The ``insightforge config init`` wizard: prompts in, a checked YAML file out.

Steps: pick providers, for each its name, model and endpoint, its key (hidden input) and a
connection test with that key — a failed test asks for the URL or key again
(:mod:`.providers`); accepted keys go to the OS keyring, never into the file. Then the
stack, one short question per layer (:mod:`.stack`); then the file is written and loaded
back to prove it is valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from insightforge.cli._wizard.providers import (
    ask_key,
    ask_provider,
    choices,
    keep_key,
    settle_provider,
)
from insightforge.cli._wizard.stack import _audit, _cache, ask_stack, folders
from insightforge.errors import ConfigError

__all__ = ["_audit", "_cache", "_stack", "run_wizard"]

_stack = ask_stack  # the name the tests drive the stack questions by


def _providers(allow_plaintext: bool) -> dict[str, dict[str, Any]]:
    available = choices()
    picked = click.prompt(f"Providers to set up, comma separated ({', '.join(available)})",
                          default="openai" if "openai" in available else available[0])
    providers: dict[str, dict[str, Any]] = {}
    for ptype in (p.strip() for p in picked.split(",") if p.strip()):
        if ptype not in available:
            click.echo(f"  skipping unknown provider {ptype!r}")
            continue
        name, spec = ask_provider(ptype, set(providers))
        key = ask_key(name, ptype)
        keep, key = settle_provider(name, ptype, spec, key)
        if not keep:
            click.echo(f"  {name} dropped")
            continue
        keep_key(name, ptype, spec, key, allow_plaintext=allow_plaintext)
        providers[name] = spec
    return providers


def run_wizard(target: Path, *, force: bool = False, allow_plaintext: bool = False) -> None:
    """Ask, test, store keys, write ``target``; raises ``ConfigError`` if nothing is set up."""
    import yaml

    from insightforge.config import load_config

    click.echo("InsightForge setup. Keys go to the OS keyring; the config file holds none.")
    if target.exists() and not force:
        click.confirm(f"{target} exists. Overwrite it?", abort=True)
    providers = _providers(allow_plaintext)
    if not providers:
        raise ConfigError("no provider set up; nothing written")
    primary = next(iter(providers))
    if len(providers) > 1:
        primary = click.prompt("Main provider", type=click.Choice(list(providers)),
                               default=primary)
    base = target.expanduser().absolute().parent
    stack = ask_stack(primary, [n for n in providers if n != primary], base, providers)
    doc = {"providers": providers, "provider": primary, "stack": stack}
    load_config(doc)  # never write a file that does not load
    for folder in {base, *folders(stack)}:
        folder.mkdir(parents=True, exist_ok=True)
    header = "# InsightForge config, written by `insightforge config init`. No secrets here.\n"
    target.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    click.echo(f"Wrote {target}. Try: insightforge chat \"hi\"")
