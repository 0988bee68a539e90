"""Spend you can read: ``middleware.budget.report`` and ``insightforge budget report`` give
per-tenant, per-model and per-day spend from a real run's audit log, equal to what the
Budget settled in its ledger."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from insightforge import ChatRequest, stack
from insightforge.cli import cli
from insightforge.testing.scripted import ScriptedProvider
from middleware import AuditLog, Budget
from middleware.audit import FileSink, flush_all
from middleware.budget import SQLiteLedger
from middleware.budget.policy import from_units
from middleware.budget.report import bar_chart, read_audit, reconcile, spend


def _run(tmp_path: Path) -> tuple[Path, Path, dict[str, Decimal]]:
    log, db = tmp_path / "audit.jsonl", tmp_path / "budget.db"
    llm = stack(AuditLog(FileSink(log, max_bytes=2048)),
                Budget(limit_usd=1, scope="tag:tenant", period="month", store=SQLiteLedger(db)),
                provider=ScriptedProvider())
    paid: dict[str, Decimal] = {}
    for i in range(30):
        tenant = ("acme", "globex", "initech")[i % 3]
        answer = llm(ChatRequest("words " * (i + 1), tags={"tenant": tenant,
                                                            "feature": f"f{i % 2}"}))
        paid[tenant] = paid.get(tenant, Decimal(0)) + answer.cost_usd  # type: ignore[union-attr]
    llm.close()
    flush_all()
    return log, db, paid


def test_spend_per_tenant_equals_what_was_paid_and_settled(tmp_path: Path) -> None:
    log, db, paid = _run(tmp_path)
    assert len(list(tmp_path.glob("audit.jsonl.2*"))) >= 1  # rotated: every file is read
    rows = spend(read_audit(log), by=("tenant",))
    assert {r.key[0]: r.cost_usd for r in rows} == paid
    assert [r.key[0] for r in rows] == sorted(paid, key=lambda t: -paid[t])  # dearest first
    assert sum(r.requests for r in rows) == 30
    checked = reconcile(rows, SQLiteLedger(db).entries(), by=("tenant",))
    assert len(checked) == 3
    assert all(Decimal(c["audit_usd"]) == Decimal(c["ledger_usd"]) for c in checked)
    by_two = spend(read_audit(log), by=("tenant", "feature"))
    assert len(by_two) == 6 and sum(r.cost_usd for r in by_two) == sum(paid.values())
    assert len(bar_chart(rows)) == 3 and "█" in bar_chart(rows)[0]


def test_the_cli_report_as_table_json_and_chart(tmp_path: Path) -> None:
    log, db, paid = _run(tmp_path)
    runner = CliRunner()
    table = runner.invoke(cli, ["budget", "report", "--audit", str(log), "--by", "tenant",
                                "--ledger", str(db)])
    assert table.exit_code == 0, table.output
    assert "acme" in table.output and f"total ${sum(paid.values())}" in table.output
    assert table.output.count("ledger tenant=") == 3
    raw = runner.invoke(cli, ["budget", "report", "--audit", str(log), "--by", "day,model",
                              "--json"])
    data = json.loads(raw.output)
    assert data["by"] == ["day", "model"]
    assert sum(Decimal(r["cost_usd"]) for r in data["rows"]) == sum(paid.values())
    chart = runner.invoke(cli, ["budget", "report", "--audit", str(log), "--chart"])
    assert chart.exit_code == 0 and chart.output.count("\n") == 3
    missing = runner.invoke(cli, ["budget", "report", "--audit", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "no such audit file" in str(missing.exception)
    assert from_units(0) == 0
