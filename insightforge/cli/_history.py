"""The chat history: every ``insightforge chat`` exchange in a SQLite file in the user data
folder (``history.db``), so ``chat -c`` continues the last conversation, ``chat --cid ID``
a chosen one, and ``insightforge logs`` reads them back.

Everything stored passes through :class:`insightforge.redact.Redactor` first (keys, tokens,
personal data become ``[REDACTED:kind]``): the file never holds a secret, and neither does
what a continued conversation sends again. The file is created only by ``chat`` (mode 0600);
``logs`` never creates it. What lives here: the store (:class:`History`), the record
(:class:`Exchange`) and the pure helpers that turn earlier exchanges into messages.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from insightforge.types import Message

__all__ = ["Exchange", "History", "NoHistory", "earlier_messages", "history_path",
           "new_conversation_id", "redact"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,
    time TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    system TEXT,
    prompt TEXT NOT NULL,
    answer TEXT NOT NULL,
    finish_reason TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd TEXT,
    tags TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS exchanges_by_conversation ON exchanges (conversation, id);
"""
_COLUMNS = ("conversation", "time", "provider", "model", "system", "prompt", "answer",
            "finish_reason", "input_tokens", "output_tokens", "cost_usd", "tags")


class NoHistory(Exception):
    """There is no history file yet (nothing was ever logged)."""


@attrs.frozen
class Exchange:
    """One prompt and its answer.

    Attributes:
        conversation: the conversation id. time: ISO 8601, UTC. provider, model: who
        answered. system: the system prompt, if any. prompt, answer: the texts (redacted).
        finish_reason: why the answer ended. input_tokens, output_tokens, cost_usd: usage
        (the cost a decimal string, or ``None`` when unknown). tags: the request's tags as
        JSON text. id: the row id (0 before it is stored).
    """

    conversation: str
    time: str
    provider: str
    model: str
    system: str | None
    prompt: str
    answer: str
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: str | None = None
    tags: str = "{}"
    id: int = 0


def history_path() -> Path:
    """``history.db`` in the user data folder."""
    from insightforge.config.load import user_data_dir

    return user_data_dir() / "history.db"


def new_conversation_id() -> str:
    """A short id that sorts by time: milliseconds in hex, then 4 random bytes."""
    return f"{int(time.time() * 1000):011x}{secrets.token_hex(4)}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def redact(text: str) -> str:
    """``text`` with secrets and personal data replaced (what the file may hold)."""
    from insightforge.redact import Redactor

    return str(Redactor().text(text))


def earlier_messages(exchanges: Sequence[Exchange]) -> list[Message]:
    """The turns of a conversation as messages, oldest first (user, assistant, ...). Pure."""
    messages: list[Message] = []
    for exchange in exchanges:
        messages.append(Message("user", exchange.prompt))
        messages.append(Message("assistant", exchange.answer))
    return messages


class History:
    """The history file. ``create=False`` (``logs``) raises :class:`NoHistory` instead of
    creating a missing file."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        fresh = not path.exists()
        if fresh and not create:
            raise NoHistory(str(path))
        if fresh:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        uri = path.absolute().as_uri() + ("" if create else "?mode=ro")
        self._db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
        if create:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, exchange: Exchange) -> None:
        values = tuple(getattr(exchange, column) for column in _COLUMNS)
        self._db.execute(f"INSERT INTO exchanges ({', '.join(_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(_COLUMNS))})", values)

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Exchange]:
        with contextlib.closing(self._db.execute(sql, args)) as cursor:
            return [Exchange(**dict(zip(_COLUMNS, row[1:], strict=True)), id=row[0])
                    for row in cursor.fetchall()]

    def latest(self) -> str | None:
        """The conversation of the most recent exchange, or ``None``."""
        row = self._db.execute("SELECT conversation FROM exchanges ORDER BY id DESC "
                               "LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def find(self, prefix: str) -> list[str]:
        """Conversation ids starting with ``prefix`` (a whole id, or enough of one)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.execute("SELECT DISTINCT conversation FROM exchanges WHERE "
                                "conversation LIKE ? ESCAPE '\\'", (escaped + "%",)).fetchall()
        return sorted(str(row[0]) for row in rows)

    def conversation(self, cid: str) -> list[Exchange]:
        """Every exchange of conversation ``cid``, oldest first."""
        return self._rows(f"SELECT id, {', '.join(_COLUMNS)} FROM exchanges WHERE "
                          "conversation = ? ORDER BY id", (cid,))

    def recent(self, count: int, cid: str | None = None) -> list[Exchange]:
        """The last ``count`` exchanges (of ``cid``), oldest first."""
        where, args = ("WHERE conversation = ? ", [cid]) if cid else ("", [])
        rows = self._rows(f"SELECT id, {', '.join(_COLUMNS)} FROM exchanges {where}"
                          "ORDER BY id DESC LIMIT ?", (*args, count))
        return rows[::-1]

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self.recent(-1))
