"""From async code, every store call on one SQLite file runs on that file's one thread.

Calls on one file take its lock in turn anyway; one thread takes them in turn instead of a
pool of threads waking to wait on each other. A forked child gets a thread of its own (a
child has no threads), and the budgets stay exact under concurrency.
"""

from __future__ import annotations

import asyncio
import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from insightforge import ChatRequest, stack
from insightforge.testing.scripted import ScriptedProvider
from middleware import Budget, Cache, RateLimit
from middleware.budget.stores import SQLiteLedger
from middleware.stores.sqlite import sqlite_file
from tests.forking import in_child


def test_async_store_calls_on_one_file_run_on_its_one_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = f"sqlite:///{tmp_path / 'stores.db'}"
    seen: set[str] = set()
    reserve = SQLiteLedger.reserve

    def watched(self: SQLiteLedger, *args: object, **kwargs: object) -> object:
        seen.add(threading.current_thread().name)
        return reserve(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SQLiteLedger, "reserve", watched)
    budget = Budget(limit_usd=1, store=spec)
    llm = stack(Cache(store=spec), budget, RateLimit(rpm=10**6, store=spec),
                provider=ScriptedProvider())

    async def many() -> list[object]:
        return list(await asyncio.gather(*(llm.acall(ChatRequest(f"question {i}"))
                                           for i in range(40))))

    answers = asyncio.run(many())
    assert len(answers) == 40
    assert seen == {"insightforge-sqlite stores.db_0"}
    (entry,) = budget.store.entries()
    assert entry.reserved == 0
    assert Decimal(entry.spent) == sum(
        (a.cost_usd * 10**9 for a in answers), Decimal(0))  # type: ignore[attr-defined]
    llm.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_gets_a_thread_of_its_own(tmp_path: Path) -> None:
    db = sqlite_file(tmp_path / "fork.db")
    parent = db.executor
    assert parent.submit(lambda: 1 + 1).result(timeout=10) == 2
    assert in_child(lambda: db.executor is not parent and db.executor.submit(  # its own
        lambda: "ok").result(timeout=10) == "ok")
    assert db.executor is parent
