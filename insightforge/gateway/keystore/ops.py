"""What the ``insightforge gateway keys`` commands do, apart from the terminal: create,
revoke, rotate. Each returns the record (and the new secret, shown once by the caller)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal

import attrs

from insightforge.gateway.keystore import KeyRecord, KeyStore, digest, hint, new_key

__all__ = ["create", "find", "revoke", "rotate"]


def create(store: KeyStore, tenant: str, *, budget: tuple[Decimal, str] | None = None,
           rpm: int | None = None, models: Iterable[str] = ()) -> tuple[str, KeyRecord]:
    """A new key for ``tenant``; the secret is returned once and never stored."""
    key = new_key()
    record = KeyRecord.make(key, tenant, budget=budget, rpm=rpm,
                            models=tuple(m for m in models if m))
    store.add(record)
    return key, record


def find(store: KeyStore, id: str) -> KeyRecord:
    """The record with ``id``; a ``LookupError`` naming the fix when there is none."""
    record = store.get(id)
    if record is None:
        raise LookupError(f"no gateway key with id {id!r}; `insightforge gateway keys list` "
                          "shows the ids")
    return record


def revoke(store: KeyStore, id: str) -> KeyRecord:
    """Stop the key from working (kept, marked revoked, for the record)."""
    record = find(store, id)
    if record.active:
        revoked = attrs.evolve(record, revoked=time.time())
        store.replace(record, revoked)
        return revoked
    return record


def rotate(store: KeyStore, id: str) -> tuple[str, KeyRecord]:
    """A new secret for the same key id (same tenant, budget spend, limits); the old secret
    stops working at once (within the gateways' key cache time)."""
    record = find(store, id)
    if not record.active:
        raise LookupError(f"gateway key {id} was revoked; create a new one")
    key = new_key()
    rotated = attrs.evolve(record, digest=digest(key), hint=hint(key))
    store.replace(record, rotated)
    return key, rotated
