"""The short form of bench/gateway.py's streaming load: many concurrent streams over several
virtual keys with budgets — none lost, duplicated or mixed up; each key's ledger spend equals
the costs its audit records name, within its limit, nothing left reserved."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from insightforge.testing.emulator import Emulator
from middleware.budget import ledger_from
from middleware.budget.policy import from_units
from tests._bench import load
from tests.gateway.helpers import make_key, serving, two_models

bench: Any = load("gateway")


def test_concurrent_streams_are_whole_and_budgets_exact(emulator: Emulator,
                                                       tmp_path: Path) -> None:
    config = two_models(emulator, tmp_path, store=f"sqlite:///{tmp_path / 'gw.db'}",
                        cache=False)
    limit = Decimal("0.0005")
    keys = [make_key(config, f"tenant{i}", budget=f"{limit}/month") for i in range(4)]
    with serving(config) as (server, _):
        host, port = server.server_address
        result = asyncio.run(bench.stream_load(host, port, [k for k, _ in keys], 60))
    assert result["bad"] == []
    assert result["ok"] + result["refused"] == 60 and result["ok"] >= 20
    costs = bench.audit_costs(tmp_path / "audit.jsonl")
    ledger = ledger_from(config["gateway"]["store"])
    for _, record in keys:
        rows = [e for e in ledger.entries() if e.key.startswith(f"key_id={record.id}|")]
        spent = sum((from_units(e.spent) for e in rows), Decimal(0))
        assert spent == costs[record.id] and 0 < spent <= limit
        assert sum(e.reserved for e in rows) == 0
