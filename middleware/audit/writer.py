"""The audit writer: records leave the request path in microseconds and reach the file in
order, in batches, off it.

A request hands its facts to :meth:`Writer.submit` (a queue put: no lock held, no I/O, no
thread hop — sync and async alike). One daemon thread per sink and process takes them off
the queue in batches, builds each record (redaction included) and appends the batch in one
locked write, sealing each record onto the chain in order; ``fsync`` is batched too (one per
batch for ``"always"``, at most one per interval otherwise). With ``fsync="always"`` a
request waits for its record to be durable (group commit: concurrent requests share one
fsync).

Nothing is lost silently. A batch that cannot be written (a full disk, a removed folder, a
read-only file) stays pending and is retried with backoff; meanwhile :attr:`Writer.failing`
says why, so the layer can refuse requests (``on_write_error="fail"``) instead of serving
them unaudited. Pending records are capped (:data:`MAX_PENDING`); records dropped beyond
the cap are counted and the next record written carries ``gap``: how many were lost. At
exit (``atexit``, and a multiprocessing child's exit) every writer is flushed; after a fork
a child starts its own thread. What must not live here: record fields, chain rules, files.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MAX_PENDING", "Durable", "Writer", "flush_all", "flush_for"]

MAX_PENDING = 10_000
"""Records kept while the sink cannot write; beyond this they are counted as a gap."""
BATCH = 512
LINGER = 0.002
"""Seconds the writer waits after the first record of a batch before taking the rest: a
request never waits for it (only ``fsync="always"`` requests wait for their record, and
those are taken at once); it turns one thread wake-up — and one GIL hand-off — per request
into one per batch."""
RETRY_FIRST, RETRY_MAX = 0.2, 5.0

Build = Callable[[Any], dict[str, Any] | None]
_MARK = object()  # a flush marker in the queue
_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


class Durable:
    """Waiting for one record to be written (and fsynced): an effect for the kit's drivers.

    ``run`` blocks the thread, ``arun`` awaits; both raise the write's failure, if any.
    """

    __slots__ = ("_done", "_error", "_waiters")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._waiters: list[tuple[Any, Any]] = []

    def settle(self, error: BaseException | None) -> None:
        self._error = error
        self._done.set()
        for loop, future in self._waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake, future)

    def run(self) -> None:
        self._done.wait()
        if self._error is not None:
            raise self._error

    async def arun(self) -> None:
        import asyncio

        if not self._done.is_set():
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._waiters.append((loop, future))
            if not self._done.is_set():
                await future
        if self._error is not None:
            raise self._error


def _wake(future: Any) -> None:
    if not future.done():
        future.set_result(None)


class Writer:
    """Builds and appends the records of one sink, off the request path.

    Attributes:
        failing: why the last write failed (``None`` while writes succeed).
        dropped: records lost to the pending cap since the last successful write.
    """

    def __init__(self, sink: Any, build: Build, *, label: str) -> None:
        self.sink = sink
        self.build = build
        self.label = label
        self.failing: str | None = None
        self.dropped = 0
        self._lock = threading.Lock()
        self._start()
        _writers.add(self)

    def _start(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending: list[tuple[dict[str, Any], Durable | None]] = []
        self._pid = os.getpid()
        _flush_at_exit()
        self._thread: threading.Thread | None = None

    # -- the request path ------------------------------------------------------------------
    def submit(self, facts: Any, durable: bool = False) -> Durable | None:
        """Queue ``facts`` for a record; with ``durable`` the effect to wait for it."""
        if self._pid != os.getpid():  # a forked child: its own queue and thread
            with self._lock:
                if self._pid != os.getpid():
                    self._start()
        waiter = Durable() if durable else None
        self._queue.put((facts, waiter))
        if self._thread is None:
            self._launch()
        return waiter

    def _launch(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name=f"insightforge-audit {self.label}")
                self._thread.start()

    # -- the writer thread -----------------------------------------------------------------
    def _loop(self) -> None:
        delay = RETRY_FIRST
        while True:
            timeout = delay if self._pending else self._tick()
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is not None and item[1] is None and item[0] is not _MARK:
                time.sleep(LINGER)  # let a batch gather: one wake-up per batch, not per put
            batch = [] if item is None else [item]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if self._pending and batch:  # room again? the records kept go first
                self._write()
            marks = self._take(batch)
            if self._pending:
                delay = RETRY_FIRST if self._write() else min(delay * 2, RETRY_MAX)
            else:
                self._sync_idle()
            for mark in marks:  # flush() waits for these: all before them was handled
                mark.set()

    def _tick(self) -> float | None:
        interval = getattr(self.sink, "sync_due", None)
        return interval() if callable(interval) else None

    def _sync_idle(self) -> None:
        sync = getattr(self.sink, "sync_if_due", None)
        if callable(sync):
            with contextlib.suppress(OSError):
                sync()

    def _take(self, batch: list[tuple[Any, Any]]) -> list[threading.Event]:
        marks = []
        for facts, waiter in batch:
            if facts is _MARK:
                marks.append(waiter)
                continue
            try:
                record = self.build(facts)
            except Exception as exc:  # a record that cannot be built is still accounted for
                record = {"outcome": "error", "error_type": "AuditRecordError",
                          "error": f"{type(exc).__name__}: the record could not be built"}
            if record is None:  # a processor dropped it
                if waiter is not None:
                    waiter.settle(None)
                continue
            if len(self._pending) >= MAX_PENDING:
                self.dropped += 1
                if waiter is not None:
                    waiter.settle(self._unavailable("the pending records are full"))
                continue
            self._pending.append((record, waiter))
        return marks

    def _write(self) -> bool:
        """Append every pending record; ``True`` when they were written."""
        records = [r for r, _ in self._pending]
        if self.dropped:
            records[0] = {**records[0], "gap": self.dropped}
        try:
            write = getattr(self.sink, "write_batch", None)
            if callable(write):
                write(records)
            else:
                for record in records:
                    self.sink.write(record)
        except Exception as exc:
            self.failing = f"{type(exc).__name__}: {exc}"
            for _, waiter in self._pending:
                if waiter is not None:
                    waiter.settle(self._unavailable(self.failing))
            self._pending = [(r, None) for r, _ in self._pending]
            return False
        self.failing = None
        self.dropped = 0
        for _, waiter in self._pending:
            if waiter is not None:
                waiter.settle(None)
        self._pending = []
        return True

    def _unavailable(self, reason: str) -> BaseException:
        from insightforge.errors import AuditUnavailable

        return AuditUnavailable(self.label, reason)

    # -- flushing --------------------------------------------------------------------------
    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every record submitted so far was handled (written, or kept pending
        because the sink fails); ``True`` unless ``timeout`` passed first."""
        if self._thread is None or self._pid != os.getpid():
            return True
        mark = threading.Event()
        self._queue.put((_MARK, mark))
        return mark.wait(timeout)

    def status(self) -> Mapping[str, Any]:
        return {"failing": self.failing, "pending": len(self._pending),
                "dropped": self.dropped}


def flush_all(timeout: float = 10.0) -> None:
    """Flush every writer of this process (at exit, and by tests that read the file)."""
    for writer in list(_writers):
        writer.flush(timeout)


def flush_for(sink: Any, timeout: float = 10.0) -> None:
    """Flush the writers of ``sink`` (a sink closing first writes what was submitted)."""
    for writer in list(_writers):
        if writer.sink is sink:
            writer.flush(timeout)


atexit.register(flush_all)
_exit_flush_pid = 0


def _flush_at_exit() -> None:
    """Flush at this process's exit. ``atexit`` covers a normal exit; a multiprocessing
    child leaves through ``os._exit`` after running its finalizers (which it clears when it
    starts), so it gets a finalizer of its own, made in the child."""
    global _exit_flush_pid
    if _exit_flush_pid == os.getpid():
        return
    _exit_flush_pid = os.getpid()
    with contextlib.suppress(Exception):
        from multiprocessing import util

        util.Finalize(None, flush_all, exitpriority=100)
