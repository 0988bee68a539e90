"""Several processes opening one fresh SQLite store at the same instant all succeed.

Switching a file to WAL needs a moment of exclusive access, and SQLite can answer
"database is locked" at once instead of waiting its busy timeout; the stores retry that
(``middleware.stores.open_wal``). This once failed CI through the rate-limit store.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

WORKERS = 6


def _open_all(folder: str, start_at: float) -> str:
    from middleware.budget.stores import SQLiteLedger
    from middleware.cache.stores import SQLiteCache
    from middleware.ratelimit.stores import SQLiteStore

    time.sleep(max(0.0, start_at - time.time()))
    store = SQLiteStore(Path(folder) / "limits.db")
    ledger = SQLiteLedger(Path(folder) / "budget.db")
    cache = SQLiteCache(Path(folder) / "cache.db")
    ledger.entries()
    cache.stats()
    store.close()
    ledger.close()
    cache.close()
    return "ok"


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_processes_open_one_store_at_once(tmp_path: Path, attempt: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.5
    with ctx.Pool(WORKERS) as pool:
        results = pool.starmap_async(_open_all, [(str(tmp_path), start_at)] * WORKERS)
        assert results.get(timeout=60) == ["ok"] * WORKERS


def test_open_wal_gives_up_after_its_timeout(tmp_path: Path) -> None:
    import sqlite3

    from middleware.stores import open_wal

    path = str(tmp_path / "held.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")  # nobody else may even read now
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        open_wal(path, timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 5
    holder.execute("ROLLBACK")
    conn = open_wal(path, timeout=1)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    holder.close()
