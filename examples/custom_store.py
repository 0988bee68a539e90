"""A custom store written the house way: ``JsonFileLedger``, a Budget ledger in a JSON file.

A :class:`~middleware.budget.stores.Ledger` is the shared state of a ``Budget``: spent and
reserved units (integer nano-dollars) per key. This one keeps them in a JSON file that
every process on one machine can share — no database needed — and shows what any ledger
must get right (see docs/writing-a-store.md):

* **the protocol, exactly** — ``reserve(key, limit, want, least, *, ttl=None) -> Grant``,
  ``settle(key, reserved, actual, *, lease="")``, ``entries() -> list[Entry]``, ``close()``
  and ``blocking`` (``True``: async callers run it in a worker thread); being a structural
  ``Ledger``, ``Budget(store=JsonFileLedger(...))`` takes it as it is. This one keeps no
  leases (it ignores ``ttl``): a reservation of a process killed mid-call stays counted until
  the period ends — ``SQLiteLedger`` and ``RedisLedger`` return it when its lease expires;
* **one atomic read-decide-write** — each ``reserve`` and ``settle`` holds an exclusive
  ``fcntl.flock`` on ``<path>.lock`` from reading the file to replacing it, so no two
  threads or processes can both see the same "remaining" and both spend it. The decision
  is the built-ins' pure :func:`~middleware.budget.stores.decide`, not a copy of it;
* **crash safety** — the new state is written to a temporary file, flushed and moved over
  the old one with ``os.replace``, so a reader never sees half a file;
* **clear errors** — a lock that cannot be had within ``timeout`` or a damaged file raise
  ``ConfigError`` naming the file and the fix, never a ``KeyError`` or a hang.

POSIX only (``fcntl``); on Windows use ``SQLiteLedger``. For many machines, ``RedisLedger``.
Run it offline (a scripted provider, no network):

    .venv/bin/python examples/custom_store.py
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from insightforge import ChatRequest, ChatResponse, stack
from insightforge.errors import BudgetExceeded, ConfigError
from insightforge.testing.scripted import ScriptedProvider
from middleware.budget import Budget, Entry, Grant
from middleware.budget.stores import decide

__all__ = ["JsonFileLedger", "main"]

Rows = dict[str, list[int]]  # key -> [limit, spent, reserved], as MemoryLedger keeps them


class JsonFileLedger:
    """A budget :class:`~middleware.budget.stores.Ledger` in the JSON file at ``path``.

    Attributes:
        path: the JSON file (created on first use); its lock is ``<path>.lock``.
        timeout: seconds to wait for the lock before ``ConfigError``.
    """

    blocking = True  # file I/O and a lock: async callers use a worker thread

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    # -- the protocol ----------------------------------------------------------------------
    def reserve(self, key: str, limit: int, want: int, least: int, *,
                ttl: float | None = None) -> Grant:
        with self._locked():
            rows = self._read()
            before = list(rows.get(key, ()))
            row = rows.setdefault(key, [limit, 0, 0])
            row[0] = limit
            granted = decide(limit, row[1], row[2], want, least)
            grant = Grant(granted, row[1], row[2])
            row[2] += granted
            if row != before:  # a refusal of a known key changes nothing: skip the write
                self._write(rows)
            return grant

    def settle(self, key: str, reserved: int, actual: int, *, lease: str = "") -> None:
        with self._locked():
            rows = self._read()
            row = rows.setdefault(key, [0, 0, 0])
            row[2] = max(0, row[2] - reserved)
            row[1] += actual
            self._write(rows)

    def entries(self) -> list[Entry]:
        with self._locked():
            return [Entry(k, *row) for k, row in sorted(self._read().items())]

    def close(self) -> None:
        return None  # nothing is held open between calls

    def __repr__(self) -> str:
        return f"JsonFileLedger({str(self.path)!r})"

    # -- the I/O: lock, read, write ----------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on ``<path>.lock``, between threads *and* processes.

        Each call opens the lock file afresh: ``flock`` locks belong to an open file, so two
        threads of one process exclude each other exactly as two processes do.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as handle:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise ConfigError(
                            f"JsonFileLedger: {self._lock_path} stayed locked for "
                            f"{self.timeout}s; is a process stuck holding it? Stop it, or "
                            "raise timeout=.", path="ledger") from None
                    time.sleep(0.001)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read(self) -> Rows:
        """The rows on disk (call with the lock held)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            rows: Rows = {}
        else:
            rows = _parse(text, self.path)
        return rows

    def _write(self, rows: Rows) -> None:
        """Replace the file in one step (call with the lock held)."""
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(rows, out, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _parse(text: str, path: Path) -> Rows:
    """The rows of a ledger file, or ``ConfigError`` saying the file is damaged."""
    try:
        data: Any = json.loads(text)
        rows = {str(k): [int(v[0]), int(v[1]), int(v[2])] for k, v in data.items()}
        if any(len(v) != 3 for v in data.values()):
            raise ValueError("a row does not have three numbers")
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise ConfigError(f"JsonFileLedger: {path} is not a budget ledger ({exc}); restore "
                          "it, or delete it to start the period again.", path="ledger") from None
    return rows


# -- the demo ------------------------------------------------------------------------------
def main(folder: str | os.PathLike[str], report: Callable[[str], None] = print,
         threads: int = 16) -> dict[str, Any]:
    """``threads`` callers race for a $0.0003 budget kept in a JSON file; the budget refuses
    the overflow before any call and the settled spend stays within the limit."""
    path = Path(folder) / "budget.json"
    provider = ScriptedProvider()  # $1 / $2 per million tokens; answers "Echo: ..."
    llm = stack(Budget(limit_usd="0.0003", store=JsonFileLedger(path)), provider=provider)
    answers: list[ChatResponse] = []
    refused: list[BudgetExceeded] = []
    guard = threading.Lock()

    def caller(i: int) -> None:
        for _ in range(4):
            try:
                response = llm(ChatRequest(f"caller {i} asks", max_tokens=50))
            except BudgetExceeded as exc:
                with guard:
                    refused.append(exc)
            else:
                assert isinstance(response, ChatResponse)
                with guard:
                    answers.append(response)

    workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    spent = sum((r.cost_usd or 0 for r in answers), start=0)
    (entry,) = JsonFileLedger(path).entries()  # a fresh object, as another process would
    report(f"{len(answers)} answered, {len(refused)} refused before any call; "
           f"provider saw {len(provider.calls)} calls")
    report(f"spent ${spent} of $0.0003; ledger file says spent={entry.spent} "
           f"reserved={entry.reserved} units (nano-dollars)")
    if refused:
        report(f"a refusal: {refused[0]}")
    return {"answers": answers, "refused": refused, "spent": spent, "entry": entry,
            "upstream_calls": len(provider.calls)}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(tmp)
