"""The short form of ``bench/soak.py`` (issue 12): 800 requests — sync, async, streams,
embeddings — through AuditLog, Cache (Redis), Budget (SQLite), Fallback, RateLimit (Redis)
and Retry while about 30% of the upstream calls misbehave and Redis is killed and restarted
half way: no untyped error, no hung call, one audit record per request, and a ledger equal to
the sum of the settlements to the nano-dollar. (Resident memory is the full soak's check:
800 requests are mostly warm-up; docs/performance.md has the 10,000-request figures.)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests._bench import load

bench: Any = load("soak")


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_short_soak_breaks_nothing_and_loses_nothing() -> None:
    figures = bench.soak(requests=800, fault_rate=0.3, seed=12, report=lambda _: None)
    assert bench.check(figures, rss_limit=None) == []
    assert figures["untyped_errors"] == 0 and figures["hung"] == 0
    assert figures["audit_records"] == figures["requests"] == 800
    assert Decimal(figures["ledger_usd"]) == Decimal(figures["settled_usd"]) > 0
    assert figures["ok"] >= 700  # the faults were survived, not merely typed
