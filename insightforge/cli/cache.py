"""``insightforge cache stats|clear``: inspect or empty a shared response cache.

The store is named by ``--store`` (a SQLite path or ``sqlite:PATH``, or a Redis URL), else
``$INSIGHTFORGE_CACHE_STORE``, else the ``store`` option of the ``cache`` layer in the
config file (relative paths there start at the config's folder). A memory cache lives
inside one process, so there is nothing to read. The file is never created; hits and misses
are the store's shared counters (every process's lookups).
"""

from __future__ import annotations

import json
from typing import Any

import click

from insightforge.cli._errors import open_shared_store, reaching
from insightforge.errors import ConfigError

__all__ = ["cache"]


def _from_config(path: str | None) -> str | None:
    from insightforge.config import load_config
    from insightforge.config.load import find_config

    found = find_config(path)
    if found is None:
        return None

    def walk(layers: Any) -> str | None:
        for layer in layers:
            if layer.name == "cache" and layer.options.get("store"):
                return str(layer.options["store"])
            for alt in layer.alternates:
                hit = walk(getattr(alt, "layers", ()))
                if hit:
                    return hit
        return None

    return walk(load_config(found).stack)


def open_store(spec: str | None, config_path: str | None) -> Any:
    """The store to act on, or a ConfigError that says how to name one."""
    spec = spec or _from_config(config_path)
    if not spec or spec == "memory":
        raise ConfigError(
            "No shared cache store: pass --store cache.db (SQLite) or --store "
            "redis://host:6379/0, set INSIGHTFORGE_CACHE_STORE, or give the cache layer a "
            "`store:` in the config (a memory cache lives only inside its process).",
            path="$.stack.cache.store")
    from middleware.cache.stores import store_from

    return open_shared_store(spec, what="cache store", option="--store",
                             build=lambda s: store_from(s, None, 100_000, "--store"))


_STORE = click.option("--store", "store_spec", envvar="INSIGHTFORGE_CACHE_STORE", default=None,
                      help="SQLite file (cache.db, sqlite:PATH) or Redis URL of the cache.")


@click.group()
def cache() -> None:
    """Inspect or clear a shared response cache."""


@cache.command()
@_STORE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stats(ctx: click.Context, store_spec: str | None, as_json: bool) -> None:
    """Entries, size, hits and misses of the store (every process's lookups).

    Without --store: the config's cache layer's store.
    """
    store = open_store(store_spec, (ctx.find_root().obj or {}).get("config"))
    try:
        with reaching("cache store", store_spec or repr(store), "--store"):
            s = store.stats()
    finally:
        store.close()
    data = {"store": repr(store), "entries": s.entries, "size_bytes": s.size_bytes,
            "hits": s.hits, "misses": s.misses, "hit_rate": round(s.hit_rate, 4)}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for name, value in data.items():
        click.echo(f"{name:<11} {value}")


@cache.command()
@_STORE
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def clear(ctx: click.Context, store_spec: str | None, yes: bool) -> None:
    """Delete every entry of the store."""
    store = open_store(store_spec, (ctx.find_root().obj or {}).get("config"))
    try:
        if not yes:
            click.confirm(f"Delete every entry in {store!r}?", abort=True)
        with reaching("cache store", store_spec or repr(store), "--store"):
            n = store.clear()
    finally:
        store.close()
    click.echo(f"Deleted {n} entries from {store!r}.")
