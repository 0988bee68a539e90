"""``insightforge budget status``: every scope of a shared budget ledger.

Reads the ledger named by ``--ledger`` (a SQLite path or ``sqlite:PATH``, or a Redis URL),
else ``$INSIGHTFORGE_BUDGET_LEDGER``, else the ``store`` of the ``budget`` layer in the
config file — relative paths there start at the config's folder, and a budget with no store
is the CLI's own (``budget.db`` in the user data folder, what ``chat`` writes). A memory
ledger lives inside one process, so there is nothing to read. The file is never created.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import click

from insightforge.cli._errors import open_shared_store, reaching
from insightforge.errors import ConfigError

__all__ = ["budget"]


def _from_config(path: str | None) -> str | None:
    """The store of the first ``budget`` layer in the config (the CLI's default when it
    names none), if any."""
    from insightforge.config import load_config
    from insightforge.config.load import find_config, user_data_dir
    from insightforge.config.persist import persistent

    found = find_config(path)
    if found is None:
        return None
    config = persistent(load_config(found), user_data_dir())

    def walk(layers: Any) -> str | None:
        for layer in layers:
            spec = layer.options.get("store") or layer.options.get("ledger")
            if layer.name == "budget" and spec:
                return str(spec)
            for alt in layer.alternates:
                hit = walk(getattr(alt, "layers", ()))
                if hit:
                    return hit
        return None

    return walk(config.stack)


def open_ledger(spec: str | None, config_path: str | None) -> Any:
    """The ledger to read, or a ConfigError that says how to name one."""
    spec = spec or _from_config(config_path)
    if not spec or spec == "memory":
        raise ConfigError(
            "No shared budget ledger to read: pass --ledger budget.db (SQLite) or --ledger "
            "redis://host:6379/0, set INSIGHTFORGE_BUDGET_LEDGER, or add a budget layer to "
            "the config (a memory ledger lives only inside its process).",
            path="$.stack.budget.store")
    from middleware.budget import ledger_from

    return open_shared_store(spec, what="budget ledger", option="--ledger",
                             build=lambda s: ledger_from(s, "--ledger"))


def _usd(units: int) -> Decimal:
    from middleware.budget.policy import from_units

    return from_units(units)


@click.group()
def budget() -> None:
    """Inspect spend budgets."""


@budget.command()
@click.option("--ledger", "--store", "ledger_spec", envvar="INSIGHTFORGE_BUDGET_LEDGER",
              default=None, help="SQLite file (budget.db, sqlite:PATH) or Redis URL of the ledger.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def status(ctx: click.Context, ledger_spec: str | None, as_json: bool) -> None:
    """Show spent, reserved, limit and period of every scope.

    Without --ledger: the config's budget layer's store (what `chat` uses: relative paths
    start at the config's folder; no store means budget.db in the user data folder).
    """
    config_path = (ctx.find_root().obj or {}).get("config")
    ledger = open_ledger(ledger_spec, config_path)
    try:
        with reaching("budget ledger", ledger_spec or repr(ledger), "--ledger"):
            entries = ledger.entries()
    finally:
        ledger.close()
    rows = [{"scope": e.scope, "period": e.period, "spent_usd": str(_usd(e.spent)),
             "reserved_usd": str(_usd(e.reserved)), "limit_usd": str(_usd(e.limit)),
             "left_usd": str(_usd(max(0, e.limit - e.spent - e.reserved)))} for e in entries]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"No spend recorded yet in {ledger!r}.")
        return
    header = ("scope", "period", "spent_usd", "reserved_usd", "limit_usd", "left_usd")
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in header]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        click.echo("  ".join(r[h].ljust(w) for h, w in zip(header, widths, strict=True)))
