"""Where sealed audit records go: a JSON-lines file, or any stdlib/structlog logger.

:class:`FileSink` appends canonical JSON lines. Reading the last hash and writing the next
lines happen under an exclusive ``fcntl.flock`` on ``<path>.lock`` (a file that is never
renamed) plus a thread lock, so several processes and threads appending to one file keep
one chain; a batch of records is sealed in order and written in one go. A sink remembers
where its own last write ended (inode, size, last hash): while the file still ends there,
nobody appended since, and the tail is not read back. Rotation
(``max_bytes``) renames the full file aside and starts a new one whose header points at the
old file's last hash. ``fsync``: ``"always"`` (each batch durable before its requests
return), ``"interval"`` (at most every ``fsync_interval`` seconds, and on close),
``"never"`` (the OS decides).

Writes are complete or detected: a short write is continued, a failed one is cut back off
the file (or, if even that fails, left as a torn line); a torn last line — a crash, a power
cut, a full disk mid-write — is sealed by the next writer: the line is ended and a ``torn``
record chained to the last good record says which line it was, so writing goes on and
``insightforge audit verify`` names the torn line and verifies the rest.

:class:`LoggerSink` keeps the chain in memory, per sink. What must not live here: record
building or redaction (``record.py``), hashing rules (``chain.py``), queues (``writer.py``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from middleware.audit import chain

__all__ = ["FileSink", "LoggerSink", "Sink", "as_sink", "last_hash_of", "tail_of"]

FSYNC_POLICIES = ("always", "interval", "never")


@runtime_checkable
class Sink(Protocol):
    """Takes an unsealed record, chains and stores it, returns the sealed record.

    ``blocking``: writing waits on I/O — the AuditLog then writes from its background
    writer (:mod:`middleware.audit.writer`) instead of on the request path.
    """

    blocking: bool

    def write(self, record: Mapping[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


def _record_hash(line: bytes) -> str | None:
    try:
        found = json.loads(line)["hash"]
    except (ValueError, KeyError, TypeError):
        return None
    return found if isinstance(found, str) else None


def tail_of(fd: int, size: int) -> tuple[str | None, int, int]:
    """``(last good hash, where a torn tail starts, its length)`` of an open audit file.

    The last good hash is that of the last intact record (``None`` when there is none);
    whatever follows its line — a partial line left by a crash, or lines that are not
    records — is the torn tail (length 0 for an intact file).
    """
    block = 4096
    while size:
        pos = max(0, size - block)
        pieces = os.pread(fd, size - pos, pos).split(b"\n")
        ends, offset = [], pos
        for piece in pieces:
            offset += len(piece) + 1
            ends.append(offset)
        for i in range(len(pieces) - 1, 0 if pos else -1, -1):  # a first piece may be partial
            found = _record_hash(pieces[i]) if pieces[i] else None
            if found is not None:
                end = min(ends[i], size)
                return found, end, size - end
        if pos == 0:
            break
        block *= 4
    return None, 0, size


def last_hash_of(fd: int, size: int) -> str | None:
    """The ``hash`` of the last intact record of an open file (``None`` if there is none)."""
    return tail_of(fd, size)[0]


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a short write is continued)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FileSink:
    """Append-only JSON-lines file with a hash chain (see the module docstring).

    Attributes:
        path: the audit file. fsync: ``always`` | ``interval`` | ``never``.
        fsync_interval: seconds between fsyncs for ``interval``.
        max_bytes: rotate when the file reaches this size (``None``: never).
    """

    blocking = True

    def __init__(self, path: str | os.PathLike[str], *, fsync: str = "interval",
                 fsync_interval: float = 1.0, max_bytes: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {FSYNC_POLICIES}, got {fsync!r}")
        if max_bytes is not None and max_bytes < 1024:
            raise ValueError(f"max_bytes must be at least 1024, got {max_bytes!r}")
        self.path = Path(path)
        self.fsync = fsync
        self.fsync_interval = float(fsync_interval)
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._lockpath = self.path.with_name(self.path.name + ".lock")
        self._fd: int | None = None
        self._lockfd: int | None = None
        self._pid = 0
        self._ino = 0
        self._synced = 0.0
        self._dirty = False
        self._end: tuple[int, int, str] | None = None  # (inode, size, last hash) we wrote

    # -- file handling ---------------------------------------------------------------
    def _fds(self) -> tuple[int, int]:
        """(lock fd, data fd) for this process; reopened after a fork."""
        if self._fd is None or self._lockfd is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lockfd = os.open(self._lockpath, os.O_RDWR | os.O_CREAT, 0o600)
            self._fd = None
            self._pid = os.getpid()
            self._reopen()
        assert self._fd is not None and self._lockfd is not None
        return self._lockfd, self._fd

    def _reopen(self) -> int:
        self._end = None
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        self._ino = os.fstat(self._fd).st_ino
        return self._fd

    def write(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Chain ``record`` to the file's last line and append it, atomically."""
        return self.write_batch([record])[0]

    def write_batch(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Chain ``records``, in order, to the file's last line and append them in one go.

        Mutual exclusion: a thread lock, then ``flock`` on ``<path>.lock``. On failure
        nothing is half-written (the file is cut back to where it was) and the error
        propagates; the caller keeps the records and tries again.
        """
        with self._lock:
            try:
                lockfd, fd = self._fds()
            except OSError:
                self._forget()
                raise
            fcntl.flock(lockfd, fcntl.LOCK_EX)
            try:
                try:
                    current = os.stat(self.path).st_ino
                except FileNotFoundError:
                    current = -1
                if current != self._ino:  # rotated (or moved away) by someone else
                    fd = self._reopen()
                return self._append(fd, records)
            finally:
                fcntl.flock(lockfd, fcntl.LOCK_UN)

    def _forget(self) -> None:
        for fd in (self._fd, self._lockfd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._lockfd = None

    def _append(self, fd: int, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        size = os.fstat(fd).st_size
        if self._end is not None and self._end[:2] == (self._ino, size):
            # The file ends where our last write left it (an append-only file that no one
            # else appended to since): its last line is our last record, whole.
            prev: str | None = self._end[2]
            torn_at = torn_len = 0
            out = _Lines()
        else:
            prev, torn_at, torn_len = tail_of(fd, size)
            out = _Lines("\n" if not _ends_with_newline(fd, size) else "")  # end a torn line
        if torn_len and prev is not None:  # a crash mid-write: say so in the chain
            prev = out.add(chain.seal({"type": "torn", "torn_line": _line_number(fd, torn_at),
                                       "torn_bytes": torn_len, "ts": self._now()}, prev))
        elif prev is None:
            prev = out.add(chain.header(prev_file=None, ts=self._now()))
        sealed = []
        for record in records:
            if self.max_bytes is not None and size + out.size >= self.max_bytes:
                fd = self._commit(fd, out)
                fd, head = self._rotate(fd, prev)
                size, out = 0, _Lines()
                prev = out.add(head)
            done, line = chain.seal_line(record, prev)
            sealed.append(done)
            prev = out.add(done, line)
        self._commit(fd, out)
        return sealed

    def _commit(self, fd: int, out: _Lines) -> int:
        """Write ``out`` in full (and fsync by policy), or cut the file back and raise."""
        if not out.size:
            return fd
        start = os.fstat(fd).st_size
        self._end = None
        try:
            _write_all(fd, out.data())
            self._sync(fd)
        except OSError:
            with contextlib.suppress(OSError):  # leave no half-written line behind (else a
                os.ftruncate(fd, start)         # torn line, sealed by the next write)
            raise
        self._end = (self._ino, start + out.size, out.last) if out.last else None
        return fd

    def _rotate(self, fd: int, last: str) -> tuple[int, dict[str, Any]]:
        """Rename the full file aside; the new file's header carries ``last``."""
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.name}.{stamp}")
        os.fsync(fd)
        os.rename(self.path, target)
        head = chain.header(last, prev_file=target.name, ts=self._now())
        return self._reopen(), head

    # -- durability ------------------------------------------------------------------------
    def _sync(self, fd: int) -> None:
        if self.fsync == "always":
            os.fsync(fd)
        elif self.fsync == "interval":
            now = time.monotonic()
            if now - self._synced >= self.fsync_interval:
                os.fsync(fd)
                self._synced = now
                self._dirty = False
            else:
                self._dirty = True

    def sync_due(self) -> float | None:
        """Seconds until unsynced records are due for an fsync (``None``: nothing is)."""
        if not self._dirty:
            return None
        return max(0.0, self._synced + self.fsync_interval - time.monotonic())

    def sync_if_due(self) -> None:
        """fsync unsynced records whose interval has passed (the writer calls it idle)."""
        with self._lock:
            if self._dirty and self._fd is not None and self._pid == os.getpid() and \
                    time.monotonic() - self._synced >= self.fsync_interval:
                os.fsync(self._fd)
                self._synced = time.monotonic()
                self._dirty = False

    def _now(self) -> str:
        from middleware.audit.record import iso_utc

        return iso_utc(self._clock())

    def close(self) -> None:
        """Write what was submitted, fsync pending records (``interval``), close the file."""
        from middleware.audit.writer import flush_for

        flush_for(self)
        with self._lock:
            fd, lockfd, self._fd, self._lockfd = self._fd, self._lockfd, None, None
            if self._pid != os.getpid():
                return
            if fd is not None:
                if self._dirty:
                    os.fsync(fd)
                    self._dirty = False
                os.close(fd)
            if lockfd is not None:
                os.close(lockfd)

    def __repr__(self) -> str:
        return f"FileSink({str(self.path)!r}, fsync={self.fsync!r})"


class _Lines:
    """Lines about to be appended (canonical JSON, ASCII), and their size in bytes."""

    __slots__ = ("_parts", "last", "size")

    def __init__(self, prefix: str = "") -> None:
        self._parts = [prefix] if prefix else []
        self.size = len(prefix)
        self.last = ""

    def add(self, record: dict[str, Any], line: str | None = None) -> str:
        text = (chain.canonical(record) if line is None else line) + "\n"
        self._parts.append(text)
        self.size += len(text)
        self.last = str(record["hash"])
        return self.last

    def data(self) -> bytes:
        return "".join(self._parts).encode("ascii")


def _ends_with_newline(fd: int, size: int) -> bool:
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


def _line_number(fd: int, offset: int) -> int:
    """The 1-based number of the line that starts at byte ``offset``."""
    count, pos = 0, 0
    while pos < offset:
        chunk = os.pread(fd, min(1 << 20, offset - pos), pos)
        if not chunk:
            break
        count += chunk.count(b"\n")
        pos += len(chunk)
    return count + 1


class LoggerSink:
    """Sends each sealed record to a logger: stdlib gets one JSON line per ``info`` call,
    a structlog logger gets ``info("audit", **record)``. The chain lives in memory, so it
    restarts at genesis (with a header record) in every process.

    Attributes:
        logger: a ``logging.Logger`` or a structlog bound logger.
    """

    blocking = False

    def __init__(self, logger: Any) -> None:
        if not callable(getattr(logger, "info", None)):
            raise TypeError(f"a logger sink needs an object with .info(), got "
                            f"{type(logger).__name__}; pass a path or a logging.Logger")
        self.logger = logger
        self._lock = threading.Lock()
        self._prev: str | None = None

    def write(self, record: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._prev is None:
                head = chain.header()
                self._emit(head)
                self._prev = head["hash"]
            sealed = chain.seal(record, self._prev)
            self._emit(sealed)
            self._prev = sealed["hash"]
            return sealed

    def _emit(self, record: dict[str, Any]) -> None:
        if isinstance(self.logger, (logging.Logger, logging.LoggerAdapter)):
            self.logger.info(chain.canonical(record))
        else:
            self.logger.info("audit", **record)

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"LoggerSink({getattr(self.logger, 'name', type(self.logger).__name__)!r})"


def as_sink(target: Any) -> Sink:
    """A sink from a path, a sink object, or a logger."""
    if isinstance(target, (str, os.PathLike)):
        return FileSink(target)
    if isinstance(target, Sink):
        return target
    if callable(getattr(target, "info", None)):
        return LoggerSink(target)
    raise TypeError(f"AuditLog sink must be a file path, a sink, or a logger; got "
                    f"{type(target).__name__}")
