"""Spend you can read: who spent what, on which model, on which day — from the audit log,
checked against the budget ledger.

The audit log has one record per request with its tags (tenant, user, feature...), model,
cost and time; :func:`spend` groups them. The ledger has what the Budget settled per bucket
and period; :func:`reconcile` sets the two side by side, so a difference (a record lost, a
settlement that failed) shows. ``insightforge budget report`` prints the same numbers as a
table, JSON or a bar chart.

>>> from middleware.budget.report import read_audit, spend
>>> rows = spend(read_audit("audit.jsonl"), by=("tenant", "model"))  # doctest: +SKIP

Pure apart from :func:`read_audit`, which reads files (rotated ones included, torn lines
skipped).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from middleware.budget.stores import Entry

__all__ = ["DIMENSIONS", "Row", "bar_chart", "read_audit", "reconcile", "spend"]

DIMENSIONS = ("tenant", "user", "feature", "model", "provider", "day", "month", "outcome")
"""What spend can be grouped by: a tag (``tenant``, ``user``, ``feature``, or any other tag
name), the model or provider that answered, the UTC day or month, the outcome."""


@attrs.frozen(slots=True)
class Row:
    """Spend of one group.

    Attributes:
        key: the group's values, in the order of ``by``.
        cost_usd: what its requests cost, exactly. requests: how many.
        input_tokens, output_tokens: their usage. cached: answered by a cache.
        unpriced: requests whose cost was unknown (counted, not added).
    """

    key: tuple[str, ...]
    cost_usd: Decimal = Decimal(0)
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached: int = 0
    unpriced: int = 0

    def as_dict(self, by: Sequence[str]) -> dict[str, Any]:
        return {**dict(zip(by, self.key, strict=True)), "cost_usd": str(self.cost_usd),
                "requests": self.requests, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cached": self.cached,
                "unpriced": self.unpriced}


def read_audit(path: str | Path, *, rotated: bool = True) -> Iterator[dict[str, Any]]:
    """The request records of an audit file (and, with ``rotated``, of the files it was
    rotated from, oldest first); headers, torn markers and torn lines are skipped."""
    files = [Path(path)]
    while rotated:
        previous = _previous(files[0])
        if previous is None or not previous.is_file():
            break
        files.insert(0, previous)
    for file in files:
        with file.open("rb") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a torn line: its record was never complete
                if isinstance(record, dict) and "outcome" in record:
                    yield record


def _previous(path: Path) -> Path | None:
    try:
        with path.open("rb") as handle:
            head = json.loads(handle.readline())
    except (OSError, ValueError):
        return None
    name = head.get("prev_file") if isinstance(head, dict) else None
    return path.with_name(name) if isinstance(name, str) and "/" not in name else None


def _value(record: Mapping[str, Any], dimension: str) -> str:
    ts = str(record.get("ts") or "")
    if dimension == "day":
        return ts[:10] or "?"
    if dimension == "month":
        return ts[:7] or "?"
    if dimension in ("model", "provider", "outcome"):
        return str(record.get(dimension) or "?")
    tags = record.get("tags") or {}
    return str(tags.get(dimension) or "<untagged>") if isinstance(tags, Mapping) else "?"


def spend(records: Iterable[Mapping[str, Any]], *, by: Sequence[str] = ("tenant",),
          since: str | None = None, until: str | None = None) -> list[Row]:
    """Spend grouped by ``by`` (see :data:`DIMENSIONS`), dearest first; ``since``/``until``
    bound the records' UTC time (``2026-11-01``, ``2026-11-02T10:00``), ``until`` excluded."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for record in records:
        ts = str(record.get("ts") or "")
        if (since and ts < since) or (until and ts >= until):
            continue
        key = tuple(_value(record, d) for d in by)
        group = groups.setdefault(key, [Decimal(0), 0, 0, 0, 0, 0])
        group[1] += 1
        usage = record.get("usage") or {}
        group[2] += int(usage.get("input_tokens") or 0)
        group[3] += int(usage.get("output_tokens") or 0)
        group[4] += bool(record.get("cache"))
        try:
            group[0] += Decimal(str(record["cost_usd"]))
        except (KeyError, InvalidOperation, TypeError):
            group[5] += record.get("cost_usd") is None and not record.get("cache")
    rows = [Row(key, *values) for key, values in groups.items()]
    return sorted(rows, key=lambda r: (-r.cost_usd, r.key))


def reconcile(rows: Iterable[Row], entries: Iterable[Entry], *,
              by: Sequence[str] = ("tenant",)) -> list[dict[str, Any]]:
    """The audit log's spend per bucket beside the ledger's (``tenant=acme|month:...``):
    ``audit_usd``, ``ledger_usd`` and ``reserved_usd`` per ledger row whose scope is one of
    the report's groups (grouped ``by`` one tag, the Budget's ``scope="tag:<that tag>"``)."""
    from middleware.budget.policy import from_units

    spent = {row.key[0]: row.cost_usd for row in rows if len(row.key) == 1}
    out = []
    for entry in entries:
        name, _, value = entry.scope.partition("=")
        if len(by) == 1 and name == by[0]:
            out.append({"scope": entry.scope, "period": entry.period,
                        "audit_usd": str(spent.get(value, Decimal(0))),
                        "ledger_usd": str(from_units(entry.spent)),
                        "reserved_usd": str(from_units(entry.reserved))})
    return out


def bar_chart(rows: Sequence[Row], *, width: int = 40) -> list[str]:
    """One text bar per group, scaled to the dearest: ``acme  ████████  $1.20``."""
    if not rows:
        return []
    top = max(row.cost_usd for row in rows) or Decimal(1)
    label = max(len(" / ".join(row.key)) for row in rows)
    lines = []
    for row in rows:
        filled = round(float(row.cost_usd / top) * width)
        lines.append(f"{' / '.join(row.key):<{label}}  {'█' * filled:<{width}}  "
                     f"${row.cost_usd}")
    return lines
