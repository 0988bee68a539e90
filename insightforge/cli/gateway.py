"""``insightforge gateway keys create|list|revoke|rotate``: the gateway's virtual keys.

A key is bound to a tenant and may carry a budget, a rate limit and a model allow-list,
enforced by the gateway's ordinary Budget and RateLimit layers. The key is printed once, on
stdout, when made (``create``, ``rotate``); the store keeps only its SHA-256. The store is
``--store`` (or ``$INSIGHTFORGE_GATEWAY_STORE``), else the config's ``gateway.keys``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from insightforge.cli._errors import CommandError

__all__ = ["gateway"]

_STORE = click.option("--store", envvar="INSIGHTFORGE_GATEWAY_STORE",
                      help="Key store: sqlite:///keys.db or redis://HOST:PORT/DB (default: "
                      "the config's gateway.keys).")


def _store(ctx: click.Context, spec: str | None) -> Any:
    from insightforge.gateway.keystore import keystore_from

    if spec is None:
        from insightforge.cli._setup import config_file
        from insightforge.config.load import prepare
        from insightforge.config.models import parse_gateway
        from insightforge.config.problems import Problems

        path = config_file(ctx)
        if path is not None:
            doc, _ = prepare(path)
            problems = Problems()
            spec = parse_gateway(doc.get("gateway") if isinstance(doc, dict) else None,
                                 problems).keys
            problems.raise_if_any()
    if spec is None:
        raise click.UsageError("no key store: pass --store sqlite:///keys.db (or "
                               "redis://...), or set gateway.keys in the config")
    try:
        return keystore_from(spec)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _describe(record: Any) -> str:
    parts = [f"tenant {record.tenant}"]
    if record.budget_usd is not None:
        parts.append(f"budget ${record.budget_usd}/{record.period}")
    if record.rpm is not None:
        parts.append(f"{record.rpm} rpm")
    parts.append("models: " + (", ".join(record.models) if record.models else "all"))
    return "; ".join(parts)


def _shown_once(key: str, record: Any, as_json: bool) -> None:
    if as_json:
        from insightforge.gateway.keystore import as_mapping

        click.echo(json.dumps({"key": key, **as_mapping(record)}))
    else:
        click.echo(key)
        click.echo(f"key {record.id} ({_describe(record)}). This is the only time the key is "
                   "shown: store it now.", err=True)


@click.group()
def gateway() -> None:
    """The gateway's virtual keys (see `insightforge serve`)."""


@gateway.group()
def keys() -> None:
    """Create, list, revoke and rotate virtual keys bound to tenants."""


@keys.command()
@click.option("--tenant", required=True, help="Who the key speaks for (decides the tenant "
              "tag; no request can change it).")
@click.option("--budget", help="Spend limit: DOLLARS[/PERIOD], PERIOD one of total, day, "
              "month (e.g. 50/month).")
@click.option("--rpm", type=click.IntRange(min=1), help="Requests per minute.")
@click.option("--models", help="Comma-separated model names the key may use (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the key and record as JSON.")
@_STORE
@click.pass_context
def create(ctx: click.Context, tenant: str, budget: str | None, rpm: int | None,
           models: str | None, as_json: bool, store: str | None) -> None:
    """Make a key; it is printed once on stdout.

    \b
    Example:
      insightforge gateway keys create --tenant acme --budget 50/month --rpm 600 \\
          --models gpt-4o-mini,claude-sonnet --store sqlite:///keys.db
    """
    from insightforge.gateway.keystore import check_tenant, ops, parse_budget

    try:
        check_tenant(tenant)
        limit = parse_budget(budget) if budget else None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    names = [m.strip() for m in (models or "").split(",") if m.strip()]
    key, record = ops.create(_store(ctx, store), tenant, budget=limit, rpm=rpm, models=names)
    _shown_once(key, record, as_json)


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key.")
@_STORE
@click.pass_context
def list_(ctx: click.Context, as_json: bool, store: str | None) -> None:
    """Show every key: id, tenant, limits, hint (never the key), state."""
    from insightforge.gateway.keystore import as_mapping

    records = _store(ctx, store).records()
    if as_json:
        for record in records:
            click.echo(json.dumps(as_mapping(record)))
        return
    if not records:
        click.echo("no gateway keys; make one with `insightforge gateway keys create`")
        return
    for r in records:
        state = "active" if r.active else time.strftime("revoked %Y-%m-%d", time.gmtime(
            r.revoked or 0))
        click.echo(f"{r.id}  {r.hint}  {state:18s}  {_describe(r)}")


@keys.command()
@click.argument("key_id")
@_STORE
@click.pass_context
def revoke(ctx: click.Context, key_id: str, store: str | None) -> None:
    """Stop a key from working (gateways notice within their key cache time, 5 s)."""
    from insightforge.gateway.keystore import ops

    try:
        record = ops.revoke(_store(ctx, store), key_id)
    except LookupError as exc:
        raise CommandError(str(exc)) from None
    click.echo(f"revoked {record.id} (tenant {record.tenant})")


@keys.command()
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="Print the key and record as JSON.")
@_STORE
@click.pass_context
def rotate(ctx: click.Context, key_id: str, as_json: bool, store: str | None) -> None:
    """Give a key a new secret (same id, tenant, limits and spend); the old one stops
    working. The new key is printed once on stdout."""
    from insightforge.gateway.keystore import ops

    try:
        key, record = ops.rotate(_store(ctx, store), key_id)
    except LookupError as exc:
        raise CommandError(str(exc)) from None
    _shown_once(key, record, as_json)
