"""``insightforge config init|validate|show|migrate|schema``.

``init`` is the interactive wizard (:mod:`insightforge.cli._wizard`); the others read the
config found the usual way (``--config``, ``INSIGHTFORGE_CONFIG``, ``./insightforge.yaml``,
the user config dir) or the PATH given. Problems are listed all at once, each with its
``$.path``, exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from insightforge.errors import ConfigError

__all__ = ["config"]


def _path(ctx: click.Context, path: str | None) -> Path:
    from insightforge.cli._setup import config_file

    if path is not None:
        return Path(path)
    found = config_file(ctx)
    if found is None:
        raise ConfigError("no config file found (looked at --config, INSIGHTFORGE_CONFIG, "
                          "./insightforge.yaml and the user config dir); run "
                          "`insightforge config init`")
    return found


def _dump(doc: object) -> str:
    import yaml

    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


@click.group()
def config() -> None:
    """Create, check, show and migrate the config file."""


@config.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write (default: --config, or ./insightforge.yaml).")
@click.option("--force", is_flag=True, help="Overwrite an existing file without asking.")
@click.option("--allow-plaintext", is_flag=True,
              help="Store keys even in a keyring backend that keeps them in a plain file "
              "(without it the wizard asks).")
@click.pass_context
def init(ctx: click.Context, output: str | None, force: bool, allow_plaintext: bool) -> None:
    """Interactive setup: choose providers, test them, store keys in the keyring, write YAML.

    Each provider is tested with the key just typed (stored or not); a failed test asks for
    the URL or the key again (or keeps or drops the provider). A key is stored once its
    provider is accepted, and the wizard names the keyring backend that took it.

    Then one question per layer of the stack, Enter keeping the default: retry (on),
    fallback to the other providers set up (all), a rate limit in requests per minute
    (none), a daily budget (none), a cache (none, memory, or a SQLite file) and an audit log
    file (none). A budget over a model with no known price asks for its price. Relative
    paths are made absolute against the config file's folder; the budget and the rate limit
    are kept in SQLite files in the user data folder, so separate runs share them. The file
    is loaded back before it is written, so it always passes `config validate`.

    The file written never holds a key: keys go to the OS keyring and the YAML refers to
    them (api_key_ref: keyring:NAME). Without a usable keyring (or with a plain-file one you
    decline) the key is not stored and the wizard says which environment variable to set.
    """
    from insightforge.cli._wizard import run_wizard
    from insightforge.config.load import FILENAME

    root = ctx.find_root().obj or {}
    target = Path(output or root.get("config") or FILENAME)
    run_wizard(target, force=force, allow_plaintext=allow_plaintext)


@config.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.pass_context
def validate(ctx: click.Context, path: str | None) -> None:
    """Check the config; print every problem with its $.path (exit code 2 if any).

    Then build every provider and layer without a network call, so a config that passes
    builds: store specs, env: references, providers' options and fallback error names are
    checked too. Warnings (exit code 0) name what works but may not do what you expect:
    a budget or rate limit in memory, which each CLI run starts afresh.
    """
    from insightforge.config import load_config
    from insightforge.config.build import check_builds
    from insightforge.config.persist import short_lived

    where = _path(ctx, path)
    try:
        cfg = load_config(where)
        check_builds(cfg)
    except ConfigError as exc:
        click.echo(f"{where}: {len(exc.problems)} problem(s)", err=True)
        for spot, message in exc.problems:
            click.echo(f"  {spot}: {message}", err=True)
        ctx.exit(2)
    click.echo(f"{where}: OK ({len(cfg.providers)} provider(s), {len(cfg.stack)} layer(s), "
               f"primary {cfg.primary()!r})")
    for spot, message in short_lived(cfg):
        click.echo(f"  warning: {spot}: {message}", err=True)


@config.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@click.pass_context
def show(ctx: click.Context, path: str | None, as_json: bool) -> None:
    """Print the effective config (variables filled in, secrets masked)."""
    from insightforge.config import load_config
    from insightforge.config.show import to_document

    doc = to_document(load_config(_path(ctx, path)))
    click.echo(json.dumps(doc, indent=2) if as_json else _dump(doc).rstrip())


@config.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--write", is_flag=True, help="Rewrite the file in place (keeps PATH.bak).")
@click.pass_context
def migrate(ctx: click.Context, path: str | None, write: bool) -> None:
    """Rewrite an old `llm:` config in the providers:/stack: form (printed, or --write)."""
    from insightforge.config import migrate_text

    where = _path(ctx, path)
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(where)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {str(where)!r}: {exc}") from None
    new = migrate_text(text, origin=str(where))
    if new == text:
        click.echo(f"{where} is already in the current form.", err=True)
        return
    if not write:
        click.echo(new.rstrip())
        return
    where.with_name(where.name + ".bak").write_text(text, encoding="utf-8")
    where.write_text(new, encoding="utf-8")
    click.echo(f"Rewrote {where} (the old version is in {where.name}.bak).")


@config.command()
def schema() -> None:
    """Print the JSON Schema of the config file (for editors)."""
    from insightforge.config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
