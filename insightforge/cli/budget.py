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

    STALE_USD is the part of RESERVED_USD held by processes that died mid-call: their
    leases have expired, and the next reservation on that scope gives it back.

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
             "reserved_usd": str(_usd(e.reserved)), "stale_usd": str(_usd(e.stale)),
             "limit_usd": str(_usd(e.limit)),
             "left_usd": str(_usd(max(0, e.limit - e.spent - e.reserved)))} for e in entries]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"No spend recorded yet in {ledger!r}.")
        return
    header = ("scope", "period", "spent_usd", "reserved_usd", "stale_usd", "limit_usd",
              "left_usd")
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in header]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        click.echo("  ".join(r[h].ljust(w) for h, w in zip(header, widths, strict=True)))


def _audit_file(path: str | None, config_path: str | None) -> str:
    """The audit file to read: ``--audit``, else the ``sink`` of the config's audit layer."""
    if path:
        return path
    from insightforge.config import load_config
    from insightforge.config.load import find_config

    found = find_config(config_path)
    if found is not None:
        for layer in load_config(found).stack:
            sink = layer.options.get("sink") if layer.name == "audit" else None
            if isinstance(sink, str):
                return sink
    raise ConfigError("No audit log to read: pass --audit audit.jsonl, or give the audit "
                      "layer a `sink:` in the config", path="--audit")


@budget.command()
@click.option("--audit", "audit_path", default=None, type=click.Path(dir_okay=False),
              help="The audit log (default: the config's audit sink); rotated files too.")
@click.option("--by", default="tenant", show_default=True,
              help="Group by, comma-separated: tenant, user, feature (or any tag), model, "
              "provider, day, month, outcome.")
@click.option("--since", default=None, help="From this UTC time on (2026-11-01).")
@click.option("--until", default=None, help="Before this UTC time (2026-12-01).")
@click.option("--ledger", "--store", "ledger_spec", envvar="INSIGHTFORGE_BUDGET_LEDGER",
              default=None, help="Also set the ledger's settled spend beside the audit's.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--chart", is_flag=True, help="Print a bar chart of the spend.")
@click.pass_context
def report(ctx: click.Context, audit_path: str | None, by: str, since: str | None,
           until: str | None, ledger_spec: str | None, as_json: bool, chart: bool) -> None:
    """Spend per tenant, user, feature, model or day, from the audit log (and the ledger).

    The same numbers in Python: middleware.budget.report (read_audit, spend, reconcile).
    """
    from pathlib import Path

    from middleware.budget.report import bar_chart, read_audit, reconcile, spend

    config_path = (ctx.find_root().obj or {}).get("config")
    path = Path(_audit_file(audit_path, config_path))
    if not path.is_file():
        raise ConfigError(f"{path}: no such audit file; pass the file an AuditLog layer "
                          "writes", path="--audit")
    dims = tuple(d.strip() for d in by.split(",") if d.strip()) or ("tenant",)
    rows = spend(read_audit(path), by=dims, since=since, until=until)
    ledger_rows: list[dict[str, object]] = []
    if ledger_spec:
        ledger = open_ledger(ledger_spec, config_path)
        try:
            with reaching("budget ledger", ledger_spec, "--ledger"):
                ledger_rows = reconcile(rows, ledger.entries(), by=dims)
        finally:
            ledger.close()
    if as_json:
        click.echo(json.dumps({"by": list(dims), "rows": [r.as_dict(dims) for r in rows],
                               "ledger": ledger_rows}, indent=2))
        return
    if chart:
        for line in bar_chart(rows):
            click.echo(line)
        return
    table = [r.as_dict(dims) for r in rows]
    if not table:
        click.echo(f"No requests in {path} for that period.")
        return
    header = [*dims, "cost_usd", "requests", "input_tokens", "output_tokens", "cached"]
    widths = [max(len(h), *(len(str(r[h])) for r in table)) for h in header]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in table:
        click.echo("  ".join(str(r[h]).ljust(w) for h, w in zip(header, widths, strict=True)))
    total = sum((r.cost_usd for r in rows), Decimal(0))
    click.echo(f"total ${total} over {sum(r.requests for r in rows)} requests")
    for row in ledger_rows:
        click.echo(f"ledger {row['scope']} ({row['period']}): settled ${row['ledger_usd']}, "
                   f"audit ${row['audit_usd']}, reserved ${row['reserved_usd']}")
