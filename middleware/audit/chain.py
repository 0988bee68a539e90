"""The hash chain of an audit file: canonical JSON, sealing, and verification. Pure.

Each line is one record in canonical JSON (sorted keys, no spaces, ASCII only). A record
carries ``prev_hash`` (the ``hash`` of the line before it) and ``hash`` = SHA-256 of its own
canonical JSON without the ``hash`` key. The first line of every file is a *header* record
(``"type": "header"``) whose ``prev_hash`` is the last hash of the previous file after a
rotation (or :data:`GENESIS` for the first file), so the chain continues across files.

:func:`verify` walks the lines and reports the first one that is not where the chain says it
should be, and why: ``edited``, ``inserted``, ``deleted`` or ``reordered``. What must not live
here: file handles, locks, clocks — the sink does I/O, this module only computes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from insightforge._json import compiled

__all__ = ["GENESIS", "ChainBreak", "ChainReport", "canonical", "digest", "header", "seal",
           "seal_line", "verify"]

GENESIS = "0" * 64
VERSION = 1


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                            allow_nan=False, default=str)


_encode = compiled(_ENCODER)


def canonical(record: Mapping[str, Any]) -> str:
    """The one byte-exact JSON form of a record (what is hashed and what is written)."""
    return _encode(record)


def digest(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical JSON, without its ``hash`` key."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("ascii")).hexdigest()


def seal(record: Mapping[str, Any], prev_hash: str) -> dict[str, Any]:
    """``record`` with ``prev_hash`` and ``hash`` set: the next link of the chain."""
    sealed = {k: v for k, v in record.items() if k not in ("hash", "prev_hash")}
    sealed["prev_hash"] = prev_hash
    sealed["hash"] = digest(sealed)
    return sealed


def seal_line(record: Mapping[str, Any], prev_hash: str) -> tuple[dict[str, Any], str]:
    """:func:`seal` and :func:`canonical` of the result in one JSON encoding: the sealed
    record and its line. The record is encoded once with a placeholder ``hash`` (a random
    value of this process, never written anywhere, so no field can forge it); the hashed
    text is that line without the placeholder pair, and the line has the digest in its
    place — sorted keys put ``hash`` exactly where the placeholder was."""
    body = dict(record)  # the two keys set below replace any the record had
    body["prev_hash"] = prev_hash
    body["hash"] = _SLOT
    full = _encode(body)
    at = full.index(_SLOT_PAIR)
    end = at + len(_SLOT_PAIR)
    # Keys before it: drop the comma that leads the pair; the first key: drop the comma
    # that follows it (``prev_hash`` always does).
    leads = full[at - 1] == ","
    hashed = full[:at - 1] + full[end:] if leads else full[:at] + full[end + 1:]
    digest = hashlib.sha256(hashed.encode("ascii")).hexdigest()
    body["hash"] = digest
    value_at = at + len('"hash":"')
    return body, full[:value_at] + digest + full[value_at + len(_SLOT):]


_SLOT = secrets.token_hex(32)
_SLOT_PAIR = f'"hash":"{_SLOT}"'


def header(prev_hash: str = GENESIS, *, prev_file: str | None = None,
           ts: str | None = None) -> dict[str, Any]:
    """The sealed first line of a file (after rotation: points at the previous file)."""
    record: dict[str, Any] = {"type": "header", "chain_version": VERSION, "prev_file": prev_file}
    if ts is not None:
        record["ts"] = ts
    return seal(record, prev_hash)


@attrs.frozen
class ChainBreak:
    """The first place the chain breaks.

    Attributes:
        line: 1-based line number in the file.
        reason: ``edited``, ``inserted``, ``deleted`` or ``reordered``.
        detail: a human sentence.
    """

    line: int
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason} — {self.detail}"


@attrs.frozen
class ChainReport:
    """What :func:`verify` found.

    Attributes:
        records: request records that verified (headers not counted).
        last_hash: the hash of the last good line (anchor it elsewhere to detect truncation).
        first_prev: the header's ``prev_hash`` (the previous file's last hash, or genesis).
        problem: the first break, or ``None`` when the whole file verifies.
        torn: lines a crash left half-written (sealed by a ``torn`` record, or the last
            line); the records around them verify, so they are named, not failed.
    """

    records: int
    last_hash: str
    first_prev: str
    problem: ChainBreak | None = None
    torn: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None


def _parse(line: str) -> dict[str, Any] | str:
    """The record on ``line`` if it is intact, else why not."""
    try:
        record = json.loads(line)
    except ValueError:
        return "the line is not valid JSON"
    if not isinstance(record, dict) or not isinstance(record.get("hash"), str):
        return "the line is not an audit record (no hash)"
    if canonical(record) != line:
        return "the line's bytes differ from its canonical form"
    if digest(record) != record["hash"]:
        return "the record's content does not match its hash"
    if not isinstance(record.get("prev_hash"), str):
        return "the record has no prev_hash"
    return record


def verify(lines: Iterable[str], *, expect_prev: str | None = None,
           ended: bool = True) -> ChainReport:
    """Check a file's lines (without their newlines); see the module docstring.

    ``expect_prev``: the previous file's last hash, when checking a rotated file against it.
    ``ended``: the file ended with a newline; when it did not, a bad last line is a write a
    crash cut short (torn), not an edit.
    """
    items = list(lines)
    parsed = [_parse(line) for line in items]
    hashes = {p["hash"]: i for i, p in enumerate(parsed) if isinstance(p, dict)}
    count, prev, first_prev = 0, "", GENESIS
    torn: list[int] = []
    skip_to = 0
    for i, rec in enumerate(parsed):
        n = i + 1
        if i < skip_to:
            continue
        if isinstance(rec, str):
            sealed_at = _sealed_torn(parsed, i, prev)
            if sealed_at is not None:  # a crash's half line, sealed by the next writer
                torn.append(n)
                skip_to = sealed_at
                continue
            if n == len(parsed) and i > 0 and not ended:  # cut short by a crash
                torn.append(n)
                break
            return ChainReport(count, prev, first_prev, ChainBreak(n, "edited", rec), tuple(torn))
        if i == 0:
            if rec.get("type") != "header":
                return ChainReport(0, prev, first_prev, ChainBreak(
                    1, "deleted", "the file's header line is missing (first line deleted?)"))
            first_prev = rec["prev_hash"]
            if expect_prev is not None and first_prev != expect_prev:
                return ChainReport(0, prev, first_prev, ChainBreak(
                    1, "deleted", "the header does not point at the previous file's last "
                    "record: records are missing at the end of the previous file"))
            prev = rec["hash"]
            continue
        if rec["prev_hash"] != prev:
            return ChainReport(count, prev, first_prev, _break(n, rec, parsed, hashes, prev),
                          tuple(torn))
        if rec.get("type") == "header":
            return ChainReport(count, prev, first_prev, ChainBreak(
                n, "inserted", "a header line in the middle of a file"), tuple(torn))
        prev = rec["hash"]
        if rec.get("type") != "torn":
            count += 1
    if not items:
        return ChainReport(0, GENESIS, GENESIS, ChainBreak(1, "deleted", "the file is empty"))
    return ChainReport(count, prev, first_prev, None, tuple(torn))


def _sealed_torn(parsed: list[dict[str, Any] | str], i: int, prev: str) -> int | None:
    """The index of the ``torn`` record that seals a bad line ``i`` (chained to ``prev``,
    naming line ``i + 1``), if the lines up to it are all the torn tail."""
    for j in range(i + 1, len(parsed)):
        rec = parsed[j]
        if isinstance(rec, dict):
            sealed = (rec.get("type") == "torn" and rec.get("torn_line") == i + 1
                      and rec.get("prev_hash") == prev)
            return j if sealed else None
    return None


def _break(n: int, rec: dict[str, Any], parsed: list[dict[str, Any] | str],
           hashes: dict[str, int], expected: str) -> ChainBreak:
    """Classify a link whose ``prev_hash`` is not the previous line's hash."""
    i = n - 1
    nxt = parsed[i + 1] if i + 1 < len(parsed) else None
    next_follows_prev = isinstance(nxt, dict) and nxt.get("prev_hash") == expected
    at = hashes.get(rec["prev_hash"])
    if at is not None and at > i - 1:
        return ChainBreak(n, "reordered",
                       f"this record belongs after line {at + 1}; the order was changed")
    if next_follows_prev:
        return ChainBreak(n, "inserted", "this line is not part of the chain: the next line "
                       "follows the line before it")
    if at is not None:
        return ChainBreak(at + 2, "inserted", f"lines {at + 2}-{n - 1} were inserted: line {n} "
                       f"follows line {at + 1} in the chain")
    return ChainBreak(n, "deleted", f"one or more records are missing before line {n}")
