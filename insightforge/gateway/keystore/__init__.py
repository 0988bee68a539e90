"""Virtual keys: what a key is (:class:`KeyRecord`), how one is made and stored.

A key is ``ifk_`` + 43 URL-safe characters (256 random bits), shown once when made. The
store keeps only its SHA-256 (a high-entropy secret needs no slow hash), a hint
(``ifk_AbCd…wxyz``) to tell keys apart in ``list``, and the record: tenant, budget, rate
limit, model allow-list. Lookups go by digest and the digest is compared again in constant
time. Stores: :class:`MemoryKeyStore` (tests), :class:`~.sqlite.SQLiteKeyStore`,
:class:`~.redis.RedisKeyStore` — one small protocol, :class:`KeyStore`, so a unified store
subsystem can take them over.

What must not live here: HTTP, the CLI, the per-key layers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = ["KEY_PREFIX", "KeyRecord", "KeyStore", "MemoryKeyStore", "digest", "keystore_from",
           "new_key", "parse_budget", "same_digest"]

KEY_PREFIX = "ifk_"
PERIODS = ("total", "day", "month")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def new_key() -> str:
    """A fresh secret key: ``ifk_`` + 256 random bits, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    """The SHA-256 (hex) a key is stored and looked up by."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time equality of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def hint(key: str) -> str:
    """What ``list`` shows of a key: its first 8 and last 4 characters."""
    return f"{key[:8]}…{key[-4:]}"


def check_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise ValueError("tenant must be 1-128 characters: letters, digits and . _ : @ - "
                         f"(starting with a letter or digit), got {tenant!r}")
    return tenant


def parse_budget(text: str) -> tuple[Decimal, str]:
    """``"50/month"`` -> (50, "month"); a bare amount is a ``total`` budget."""
    amount, _, period = text.partition("/")
    period = period.strip() or "total"
    try:
        limit = Decimal(amount.strip().lstrip("$"))
    except InvalidOperation:
        raise ValueError(f"budget must be DOLLARS[/PERIOD], e.g. 50/month; got {text!r}") \
            from None
    if not limit.is_finite() or limit <= 0:
        raise ValueError(f"budget must be a positive amount of dollars, got {text!r}")
    if period not in PERIODS:
        raise ValueError(f"budget period must be one of {', '.join(PERIODS)}; got {period!r}")
    return limit, period


@attrs.frozen
class KeyRecord:
    """One virtual key, as stored (never the key itself).

    Attributes:
        id: the key's public id (``key_…``): budgets and rate limits are kept per id, so a
            rotated key keeps its spend. tenant: who the key speaks for (decides the tenant
            tag; no request can change it). digest: SHA-256 of the secret. hint: first and
            last characters of the secret. created / revoked: Unix times (``revoked`` None
            while the key works). budget_usd / period: the key's spend limit (None: none).
        rpm: requests per minute (None: none). models: the names it may ask for (empty: all).
    """

    id: str
    tenant: str = attrs.field(validator=lambda _, __, v: check_tenant(v))
    digest: str = attrs.field(repr=False)
    hint: str
    created: float
    revoked: float | None = None
    budget_usd: Decimal | None = None
    period: str = "month"
    rpm: int | None = None
    models: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.revoked is None

    def to_json(self) -> str:
        data = attrs.asdict(self)
        data["budget_usd"] = None if self.budget_usd is None else str(self.budget_usd)
        data["models"] = list(self.models)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> KeyRecord:
        data: dict[str, Any] = json.loads(text)
        if data.get("budget_usd") is not None:
            data["budget_usd"] = Decimal(data["budget_usd"])
        data["models"] = tuple(data.get("models") or ())
        return cls(**data)

    @classmethod
    def make(cls, key: str, tenant: str, *, budget: tuple[Decimal, str] | None = None,
             rpm: int | None = None, models: tuple[str, ...] = ()) -> KeyRecord:
        """The record for a new ``key``."""
        limit, period = budget if budget is not None else (None, "month")
        if rpm is not None and rpm < 1:
            raise ValueError(f"rpm must be at least 1, got {rpm}")
        return cls("key_" + secrets.token_hex(6), tenant, digest(key), hint(key), time.time(),
                   budget_usd=limit, period=period, rpm=rpm, models=models)


@runtime_checkable
class KeyStore(Protocol):
    """Where key records live. Every method is safe from several threads."""

    def add(self, record: KeyRecord) -> None:
        """Store a new record (its id and digest are new)."""

    def replace(self, old: KeyRecord, new: KeyRecord) -> None:
        """Put ``new`` in place of ``old`` (same id; the digest may change: rotate)."""

    def by_digest(self, digest: str) -> KeyRecord | None:
        """The record whose secret has this digest, revoked or not."""

    def get(self, id: str) -> KeyRecord | None:
        """The record with this id."""

    def records(self) -> list[KeyRecord]:
        """Every record, oldest first."""

    def ping(self) -> None:
        """Raise when the store cannot be reached (``/readyz``)."""

    def close(self) -> None: ...


class MemoryKeyStore:
    """Keys in this process only (tests, ``--emulator``)."""

    def __init__(self) -> None:
        self._by_id: dict[str, KeyRecord] = {}
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, record: KeyRecord) -> None:
        with self._lock:
            if record.id in self._by_id or record.digest in self._ids:
                raise ValueError(f"key {record.id} exists already")
            self._by_id[record.id] = record
            self._ids[record.digest] = record.id

    def replace(self, old: KeyRecord, new: KeyRecord) -> None:
        with self._lock:
            self._ids.pop(old.digest, None)
            self._by_id[new.id] = new
            self._ids[new.digest] = new.id

    def by_digest(self, digest: str) -> KeyRecord | None:
        id = self._ids.get(digest)
        return None if id is None else self._by_id.get(id)

    def get(self, id: str) -> KeyRecord | None:
        return self._by_id.get(id)

    def records(self) -> list[KeyRecord]:
        return sorted(self._by_id.values(), key=lambda r: r.created)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"MemoryKeyStore({len(self._by_id)} keys)"


def keystore_from(spec: str | KeyStore) -> KeyStore:
    """A store from ``memory``, ``sqlite:///keys.db`` (or a ``.db`` path), ``redis://...``."""
    if not isinstance(spec, str):
        return spec
    if spec == "memory":
        return MemoryKeyStore()
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from insightforge.gateway.keystore.redis import RedisKeyStore

        return RedisKeyStore(spec)
    for prefix in ("sqlite:///", "sqlite://", "sqlite:"):
        if spec.startswith(prefix) and spec[len(prefix):]:
            from insightforge.gateway.keystore.sqlite import SQLiteKeyStore

            return SQLiteKeyStore(spec[len(prefix):])
    if spec.endswith((".db", ".sqlite", ".sqlite3")):
        from insightforge.gateway.keystore.sqlite import SQLiteKeyStore

        return SQLiteKeyStore(spec)
    raise ValueError("the key store must be sqlite:///PATH, redis://HOST:PORT/DB or memory; "
                     f"got {_masked(spec)}")


def _masked(spec: str) -> str:
    return repr(re.sub(r"//[^@/]*@", "//***@", spec))


def as_mapping(record: KeyRecord) -> Mapping[str, Any]:
    """A record as ``list --json`` prints it (no digest)."""
    data: dict[str, Any] = json.loads(record.to_json())
    data.pop("digest", None)
    return data
