"""Virtual keys decide the tenant: budgets, rate limits, caches and the model allow-list.

Must show: no key can spend another tenant's budget or read another tenant's cache, by any
header, body field or malformed request; an Anthropic-SDK client and an openai-SDK client,
each with its own key, go through one gateway with two models into one audit log with the
right tenants. Real uvicorn on loopback, real SDKs, the emulator upstream, SQLite and Redis.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from insightforge.testing.emulator import Emulator
from middleware.audit import verify
from middleware.budget import ledger_from
from tests.gateway.helpers import ask, make_key, post, serving, spent, two_models

# Ways a holder of key A might try to pass as tenant B (or as B's key).
ATTACKS: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("tag header", {"X-InsightForge-Tag-Tenant": "globex"}, {}),
    ("tag header, odd case", {"x-INSIGHTFORGE-tag-TENANT": "globex"}, {}),
    ("tag header, other case", {"X-InsightForge-Tag-Tenant": "ACME-globex"}, {}),
    ("key id header", {"X-InsightForge-Tag-Key_Id": "{b_id}"}, {}),
    ("metadata tenant", {}, {"metadata": {"tenant": "globex"}}),
    ("metadata key id", {}, {"metadata": {"key_id": "{b_id}"}}),
    ("both, header over body", {"X-InsightForge-Tag-Tenant": "globex"},
     {"metadata": {"tenant": "acme"}}),
]


@pytest.fixture
def config(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    return two_models(emulator, tmp_path, store=f"sqlite:///{tmp_path / 'gw.db'}")


@pytest.mark.parametrize(("what", "headers", "extra"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_no_header_or_body_field_moves_a_request_to_another_tenant(
        config: dict[str, Any], emulator: Emulator, tmp_path: Path, what: str,
        headers: dict[str, str], extra: dict[str, Any]) -> None:
    key_a, a = make_key(config, "acme", budget="1/month")
    key_b, b = make_key(config, "globex", budget="1/month")
    headers = {k: v.replace("{b_id}", b.id) for k, v in headers.items()}
    extra = json.loads(json.dumps(extra).replace("{b_id}", b.id))
    with serving(config) as (server, _):
        refused = post(server, key_a, ask(**extra), headers=headers)
        assert refused.status_code == 400, refused.text
        message = refused.json()["error"]["message"]
        assert "set by your gateway key" in message and key_a not in message
        assert emulator.count() == 0
        # B's own request goes through and is B's
        assert post(server, key_b, ask("from b")).status_code == 200
    ledger = ledger_from(config["gateway"]["store"])
    assert spent(ledger.entries(), a.id) == 0 and spent(ledger.entries(), b.id) > 0
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()
               if '"tags"' in line]
    assert [r["tags"]["tenant"] for r in records] == ["globex"]


def test_a_key_spends_only_its_own_budget(config: dict[str, Any], emulator: Emulator) -> None:
    key_a, a = make_key(config, "acme", budget="0.00002/month")
    key_b, b = make_key(config, "globex", budget="5/month")
    with serving(config) as (server, _):
        statuses = [post(server, key_a, ask(f"question {i}", max_tokens=8)).status_code
                    for i in range(12)]
        assert 200 in statuses and statuses[-1] == 429  # A ran out...
        refusal = post(server, key_a, ask("question 99", max_tokens=8))
        assert refusal.json()["error"]["type"] == "insufficient_quota"
        assert refusal.headers["x-should-retry"] == "false"
        # ...and neither a tag, nor A's key sent as x-api-key beside B's, reaches B's budget
        assert post(server, key_a, ask("x"), headers={"X-InsightForge-Tag-Tenant": "globex"}
                    ).status_code == 400
        assert post(server, None, ask("question 98"), headers={"x-api-key": key_a}
                    ).status_code == 429
        assert post(server, key_b, ask("b works", max_tokens=8)).status_code == 200
    ledger = ledger_from(config["gateway"]["store"])
    limit_a = [e for e in ledger.entries() if e.key.startswith(f"key_id={a.id}|")]
    assert spent(ledger.entries(), a.id) <= Decimal("0.00002")
    assert limit_a and limit_a[0].reserved == 0
    assert 0 < spent(ledger.entries(), b.id) < 5


def test_the_cache_is_partitioned_by_tenant(config: dict[str, Any], emulator: Emulator) -> None:
    key_a, _ = make_key(config, "acme")
    key_a2, _ = make_key(config, "acme")  # a second key of the same tenant
    key_b, _ = make_key(config, "globex")
    secret_question = ask("what did acme ask about the merger?")
    with serving(config) as (server, _):
        first = post(server, key_a, secret_question)
        assert first.headers["X-InsightForge-Cached"] == "false"
        again = post(server, key_a2, secret_question)
        assert again.headers["X-InsightForge-Cached"] == "true"  # one tenant, one cache
        other = post(server, key_b, secret_question)
        assert other.headers["X-InsightForge-Cached"] == "false"  # no oracle for globex
        for headers in ({"X-InsightForge-Tag-Tenant": "acme"},
                        {"X-InsightForge-Tag-Tenant": "acme", "Authorization": "Bearer x"}):
            assert post(server, key_b, secret_question, headers=headers).status_code in (400,
                                                                                        401)
        assert post(server, key_b, {**secret_question, "metadata": {"tenant": "acme"}}
                    ).status_code == 400
        # a streamed ask by globex is a miss as well, and then globex's own hit
        assert post(server, key_b, secret_question).headers["X-InsightForge-Cached"] == "true"
    assert emulator.count(api="openai") == 2


def test_model_allow_list_and_listing(config: dict[str, Any]) -> None:
    key, _ = make_key(config, "acme", models=("claude-sonnet",))
    with serving(config) as (server, _):
        client = openai.OpenAI(base_url=server.url, api_key=key, max_retries=0)
        assert [m.id for m in client.models.list()] == ["claude-sonnet", "claude"]
        assert client.chat.completions.create(**ask(model="claude")).model == (
            "claude-sonnet-4-5")  # the alias, answered by the model that produced it
        with pytest.raises(openai.PermissionDeniedError) as denied:
            client.chat.completions.create(**ask(model="gpt-4o-mini"))
        assert denied.value.body["code"] == "model_not_allowed"  # type: ignore[index]
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(**ask(model="gpt-5-ultra"))
        assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]
        assert missing.value.body["type"] == "invalid_request_error"  # type: ignore[index]


def test_revoked_and_rotated_keys(config: dict[str, Any]) -> None:
    from insightforge.gateway.keystore import keystore_from, ops

    config["gateway"]["key_cache_seconds"] = 0  # see revocations at once
    key, record = make_key(config, "acme", budget="1/month")
    with serving(config) as (server, _):
        assert post(server, key, ask()).status_code == 200
        store = keystore_from(config["gateway"]["keys"])
        new_key, rotated = ops.rotate(store, record.id)
        assert rotated.id == record.id and new_key != key
        assert post(server, key, ask()).status_code == 401
        assert post(server, new_key, ask("again")).status_code == 200
        ops.revoke(store, record.id)
        gone = post(server, new_key, ask())
        assert gone.status_code == 401 and "revoked" in gone.json()["error"]["message"]
        assert new_key not in gone.text
    ledger = ledger_from(config["gateway"]["store"])
    assert spent(ledger.entries(), record.id) > 0  # one budget across the rotation


def test_two_sdks_two_models_one_audit_log(config: dict[str, Any], tmp_path: Path,
                                           emulator: Emulator) -> None:
    key_o, o = make_key(config, "acme", budget="5/month")
    key_a, a = make_key(config, "globex", rpm=600)
    with serving(config) as (server, _):
        oa = openai.OpenAI(base_url=server.url, api_key=key_o, max_retries=0)
        reply = oa.chat.completions.create(**ask("from openai", model="gpt-4o-mini"),
                                           metadata={"feature": "search"})
        assert reply.choices[0].message.content == "Echo: from openai"
        an = anthropic.Anthropic(base_url=server.base_url, api_key=key_a, max_retries=0)
        message = an.messages.create(model="claude-sonnet", max_tokens=64,
                                     messages=[{"role": "user", "content": "from anthropic"}])
        assert message.content[0].text == "Echo: from anthropic"  # type: ignore[union-attr]
        assert message.model == "claude-sonnet-4-5"
        with an.messages.stream(model="claude", max_tokens=64,
                                messages=[{"role": "user", "content": "streamed"}]) as s:
            assert "".join(s.text_stream) == "Echo: streamed"
    assert emulator.count(api="openai") == 1 and emulator.count(api="anthropic") == 2
    audit = tmp_path / "audit.jsonl"
    report = verify(audit.read_text().splitlines())
    assert report.problem is None and report.records == 3  # one intact hash chain
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    records = [r for r in records if "tags" in r]
    assert [(r["tags"]["tenant"], r["tags"]["key_id"]) for r in records] == [
        ("acme", o.id), ("globex", a.id), ("globex", a.id)]
    assert records[0]["tags"]["feature"] == "search"
    assert [r["model"] for r in records] == ["gpt-4o-mini", "claude-sonnet-4-5",
                                             "claude-sonnet-4-5"]
    for key in (key_o, key_a):
        assert key not in audit.read_text()


@pytest.mark.redis
def test_keys_budgets_and_limits_in_redis(emulator: Emulator, tmp_path: Path, redis_url: str,
                                          redis_client: Any) -> None:
    config = two_models(emulator, tmp_path, store=redis_url, keys=redis_url)
    key, record = make_key(config, "acme", budget="1/day", rpm=2)
    with serving(config) as (server, _):
        assert [post(server, key, ask(f"q{i}")).status_code for i in range(3)] == [200, 200,
                                                                                   429]
        limited = post(server, key, ask("q4"))
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert int(limited.headers["Retry-After"]) >= 1
        assert httpx.get(server.base_url + "/readyz").json()["status"] == "ready"
    assert spent(ledger_from(redis_url).entries(), record.id) > 0
