"""A SQLite budget ledger on the async path: inline on the event loop, a thread only to wait.

``SQLiteLedger.blocking == "try"``: the async driver runs ``reserve``/``settle`` on the
loop's own thread (a worker-thread hop costs more than the transaction), and only when the
call would wait — another process holds the write lock, another thread the file's lock —
does it run again in a worker thread, so the loop never waits. Nothing is applied twice:
the ledger is exact after calls that were pushed to a thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from insightforge import ChatRequest, stack
from insightforge.kit import WouldBlock, may_wait
from insightforge.testing.scripted import ScriptedProvider
from middleware.budget import Budget, SQLiteLedger


class _Where(SQLiteLedger):
    """A real SQLite ledger that notes the thread of every reserve and settle."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.threads: list[int] = []

    def reserve(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.get_ident())
        return super().reserve(*args, **kwargs)

    def settle(self, *args: Any, **kwargs: Any) -> None:
        self.threads.append(threading.get_ident())
        super().settle(*args, **kwargs)


def _spent(ledger: SQLiteLedger) -> int:
    return sum(e.spent for e in ledger.entries())


def test_uncontended_calls_run_on_the_loops_thread(tmp_path: Path) -> None:
    ledger = _Where(tmp_path / "b.db")
    handler = stack(Budget(limit_usd=10, store=ledger), provider=ScriptedProvider())

    async def run() -> int:
        for i in range(5):
            await handler.acall(ChatRequest(f"inline {i}", max_tokens=16))
        return threading.get_ident()

    loop_thread = asyncio.run(run())
    assert ledger.threads == [loop_thread] * 10  # 5 reserves + 5 settles, no hop
    assert sum(e.reserved for e in ledger.entries()) == 0
    assert _spent(ledger) > 0


def test_another_process_holding_the_write_lock_sends_the_call_to_a_thread(
        tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    ledger = _Where(path)
    handler = stack(Budget(limit_usd=10, store=ledger), provider=ScriptedProvider())
    asyncio.run(handler.acall(ChatRequest("warm", max_tokens=16)))  # schema made
    before = _spent(ledger)
    other = sqlite3.connect(path, isolation_level=None)  # as another process would
    other.execute("BEGIN IMMEDIATE")

    async def run() -> tuple[int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        call = asyncio.create_task(handler.acall(ChatRequest("waits", max_tokens=16)))
        await asyncio.sleep(0.3)
        assert not call.done()  # waiting for the other writer, off the loop
        seen = ticks
        other.execute("COMMIT")
        await asyncio.wait_for(call, 10)
        ticking.cancel()
        return seen, threading.get_ident()

    ticks_while_locked, loop_thread = asyncio.run(run())
    other.close()
    assert ticks_while_locked >= 10  # the loop went on while the call waited
    tried, waited, settled = ledger.threads[2:]
    assert tried == settled == loop_thread != waited  # tried inline, then waited off the loop
    assert _spent(ledger) > before
    assert sum(e.reserved for e in ledger.entries()) == 0  # reserved once, settled once


def test_the_files_lock_held_by_another_thread_is_would_block_inline(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "b.db")
    ledger.reserve("k", 100, 1, 1)  # open the file
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with ledger._db.lock:
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    from insightforge.kit import effects

    effects._inline.on = True
    try:
        assert not may_wait()
        try:
            ledger.reserve("k", 100, 1, 1)
        except WouldBlock:
            blocked = True
        else:
            blocked = False
    finally:
        effects._inline.on = False
        release.set()
        holder.join()
    assert blocked
    assert ledger.entries()[0].reserved == 1  # the refused call changed nothing


def test_many_concurrent_async_calls_settle_exactly(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "b.db")
    handler = stack(Budget(limit_usd=Decimal(1000), store=ledger),
                    provider=ScriptedProvider())
    other = SQLiteLedger(tmp_path / "b.db")

    async def run() -> None:
        async def writer() -> None:  # another thread writing the same file meanwhile
            for _ in range(50):
                await asyncio.to_thread(other.settle, "elsewhere", 0, 1)

        await asyncio.gather(writer(), *(handler.acall(ChatRequest(f"c {i}", max_tokens=8))
                                         for i in range(200)))

    asyncio.run(run())
    entries = {e.key: e for e in ledger.entries()}
    assert entries["elsewhere"].spent == 50
    assert sum(e.reserved for e in entries.values()) == 0
