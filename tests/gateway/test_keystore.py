"""Key stores (memory, SQLite, Redis) behave alike; the key decides the tenant (property);
/readyz reports an unreachable store."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge import stack
from insightforge.errors import InvalidRequest
from insightforge.gateway import start
from insightforge.gateway.auth import Caller, Keys, Unauthorized
from insightforge.gateway.core import Gateway
from insightforge.gateway.keystore import KeyRecord, KeyStore, keystore_from, ops, parse_budget
from insightforge.gateway.tenancy import tags_for
from insightforge.testing import ScriptedProvider


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    if request.param == "redis":
        request.getfixturevalue("redis_client")  # a flushed database
        spec = request.getfixturevalue("redis_url")
    else:
        spec = "memory" if request.param == "memory" else f"sqlite:///{tmp_path / 'k.db'}"
    made = keystore_from(spec)
    yield made
    made.close()


def test_stores_add_find_rotate_revoke_list(store: KeyStore) -> None:
    key, record = ops.create(store, "acme", budget=parse_budget("2.5/day"), rpm=10,
                             models=["m1"])
    other, _ = ops.create(store, "globex")
    from insightforge.gateway.keystore import digest

    assert store.by_digest(digest(key)) == record
    assert store.get(record.id) == record and store.by_digest(digest("ifk_nope")) is None
    new_key, rotated = ops.rotate(store, record.id)
    assert store.by_digest(digest(key)) is None and store.by_digest(digest(new_key)) == rotated
    revoked = ops.revoke(store, record.id)
    assert not revoked.active and store.get(record.id) == revoked
    assert [r.tenant for r in store.records()] == ["acme", "globex"]
    assert rotated.budget_usd == Decimal("2.5") and rotated.period == "day"
    store.ping()
    assert other not in repr(store) and key not in repr(record)


def test_keys_check() -> None:
    import asyncio

    store = keystore_from("memory")
    key, record = ops.create(store, "acme")
    keys = Keys(["static-key"], store, ttl=0)

    async def check() -> None:
        assert (await keys.caller(key)).key == record
        assert (await keys.caller("static-key")).key is None
        for bad in (None, "", "ifk_" + "x" * 43, "static-key ", "x" * 10_000):
            with pytest.raises(Unauthorized):
                await keys.caller(bad)
        ops.revoke(store, record.id)
        with pytest.raises(Unauthorized, match="revoked"):
            await keys.caller(key)

    asyncio.run(check())


_RECORD = KeyRecord.make("ifk_test", "acme")


@given(st.dictionaries(st.sampled_from(["tenant", "key_id", "user", "feature", "x"]),
                       st.text(max_size=8), max_size=4))
def test_the_key_decides_the_tenant_whatever_the_client_tags(client: dict[str, str]) -> None:
    try:
        tags = tags_for(Caller(_RECORD), client, "rid")
    except InvalidRequest as exc:
        assert any(client.get(name) not in (None, value) for name, value in
                   (("tenant", "acme"), ("key_id", _RECORD.id)))
        assert "set by your gateway key" in str(exc)
        return
    assert tags["tenant"] == "acme" and tags["key_id"] == _RECORD.id
    assert {k: v for k, v in tags.items() if k not in ("tenant", "key_id", "request_id")} == {
        k: v for k, v in client.items() if k not in ("tenant", "key_id")}


def test_readyz_names_an_unreachable_store() -> None:
    from insightforge.config.models import GatewaySettings
    from insightforge.gateway.models import ModelTable

    unreachable = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    gateway: Any = Gateway(ModelTable.single(stack(provider=ScriptedProvider())),
                           settings=GatewaySettings(store=unreachable))
    with start(gateway) as server:
        reply = httpx.get(server.base_url + "/readyz", timeout=20)
        assert reply.status_code == 503
        assert reply.json()["problems"] == ["budget/rate-limit store unreachable "
                                            "(ConnectionError)"]
        assert httpx.get(server.base_url + "/healthz").json() == {"status": "ok"}
