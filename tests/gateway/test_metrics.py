"""/metrics: the OpenTelemetry layer's instruments (tenant as the capped tag) plus the
gateway's HTTP ones, their values, the audit log's totals, and a real Prometheus scraping."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from insightforge.errors import ConfigError
from insightforge.gateway.core import Gateway
from insightforge.testing.emulator import Emulator
from tests.gateway.helpers import ask, make_key, post, serving, two_models


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items()
               if n == name and all(dict(ls).get(k) == x for k, x in labels.items()))


def test_metrics_count_requests_tokens_cost_hits_refusals_and_cap_tenants(
        emulator: Emulator, tmp_path: Path) -> None:
    config = two_models(emulator, tmp_path, extra={"tenant_label_limit": 2})
    keys = {t: make_key(config, t, budget="0.00002/month")[0] for t in ("t1", "t2", "t3")}
    with serving(config) as (server, _):
        before = samples(httpx.get(server.base_url + "/metrics").text)
        for tenant, key in keys.items():
            assert post(server, key, ask(f"hello {tenant}")).status_code == 200
        assert post(server, keys["t1"], ask("hello t1")).headers["x-insightforge-cached"] == (
            "true")
        post(server, keys["t1"], ask("stream t1", stream=True))
        statuses = [post(server, keys["t2"], ask(f"spend {i} " + "x " * 30, max_tokens=4)
                         ).status_code for i in range(12)]
        assert statuses[-1] == 429 and statuses.count(429) == 12 - statuses.index(429)
        assert post(server, "ifk_not-a-key", ask("who am I")).status_code == 401
        after = samples(httpx.get(server.base_url + "/metrics").text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # the LLM-level instruments are the OpenTelemetry layer's, tenant its capped tag
    calls = "gen_ai_client_operation_duration_seconds_count"
    assert delta(calls, tag_tenant="t1", insightforge_outcome="ok") == 3
    assert delta(calls, tag_tenant="t3") == 0  # capped: the third tenant...
    assert delta(calls, tag_tenant="other", insightforge_outcome="ok") == 1  # ...is "other"
    assert delta(calls, gen_ai_request_model="gpt-4o-mini", gen_ai_provider_name="openai",
                 gen_ai_response_model="gpt-4o-mini", insightforge_outcome="ok") >= 5
    assert delta("insightforge_client_cache_lookups_total", tag_tenant="t1",
                 insightforge_cache_result="hit") == 1
    refusals = statuses.count(429)
    assert delta("insightforge_client_budget_refusals_total", tag_tenant="t2") == refusals
    assert delta("insightforge_client_errors_total", error_type="BudgetExceeded",
                 insightforge_outcome="refused") == refusals
    assert delta("insightforge_client_tokens_total", tag_tenant="t1",
                 gen_ai_token_type="output") > 0
    assert delta("gen_ai_client_token_usage_count", tag_tenant="t1",
                 gen_ai_token_type="input") == 2  # the hit used no tokens
    assert delta("insightforge_client_cost_usd_total", tag_tenant="t1") > 0
    assert delta("gen_ai_client_operation_time_to_first_chunk_seconds_count",
                 gen_ai_request_model="gpt-4o-mini") == 1
    # a request the gateway refuses itself is an error of provider "gateway" (its type,
    # http_401, is a third error type: past this cap of 2, "other")
    assert delta("insightforge_client_errors_total", gen_ai_provider_name="gateway",
                 error_type="other") == 1
    # the HTTP-level instruments stay the gateway's own
    http = "insightforge_gateway_requests_total"
    assert delta(http, endpoint="/v1/chat/completions", status="200") == 6
    assert delta(http, endpoint="/v1/chat/completions", status="429") == refusals
    assert delta(http, endpoint="/v1/chat/completions", status="401") == 1
    assert delta("insightforge_gateway_overhead_seconds_count") == 5 + len(statuses) + 1


def test_metrics_count_cache_and_reasoning_tokens_and_match_the_audit_log(
        emulator: Emulator, tmp_path: Path) -> None:
    config = two_models(emulator, tmp_path)
    config["models"]["reasoner"] = {"provider": "openai", "model": "gpt-5-mini"}
    key, _ = make_key(config, "acme")
    system = [{"type": "text", "text": "You answer briefly. " * 20,
               "cache_control": {"type": "ephemeral"}}]
    with serving(config) as (server, _):
        for i in range(2):  # the first writes the prompt cache, the second reads it
            reply = post(server, None, {"model": "claude", "max_tokens": 50, "system": system,
                                        "messages": [{"role": "user", "content": f"q{i}"}]},
                         path="/v1/messages", headers={"x-api-key": key})
            assert reply.status_code == 200, reply.text
        assert post(server, key, ask("think", model="reasoner")).status_code == 200
        found = samples(httpx.get(server.base_url + "/metrics").text)

    def tokens(kind: str, **labels: str) -> float:
        return value(found, "insightforge_client_tokens_total", gen_ai_token_type=kind,
                     tag_tenant="acme", **labels)

    assert tokens("cache_write", gen_ai_provider_name="anthropic") > 0
    assert tokens("cache_read", gen_ai_provider_name="anthropic") > 0
    assert tokens("reasoning", gen_ai_request_model="reasoner",
                  gen_ai_response_model="gpt-5-mini") > 0
    audit = [record for line in (tmp_path / "audit.jsonl").read_text().splitlines()
             if "outcome" in (record := json.loads(line))]  # not the chain's header line
    audited = sum((Decimal(r["cost_usd"]) for r in audit if r.get("cost_usd")), Decimal(0))
    measured = value(found, "insightforge_client_cost_usd_total", tag_tenant="acme")
    assert audited > 0 and measured == pytest.approx(float(audited), rel=1e-9)
    assert value(found, "gen_ai_client_operation_duration_seconds_count",
                 tag_tenant="acme") == len(audit) == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="the prometheus server is not installed (scripts/setup installs it)")
def test_a_real_prometheus_scrapes_the_gateway(emulator: Emulator, tmp_path: Path) -> None:
    config = two_models(emulator, tmp_path)
    key, _ = make_key(config, "scraped-tenant")
    with serving(config) as (server, _):
        for i in range(3):
            assert post(server, key, ask(f"scrape me {i}")).status_code == 200
        target = f"{server.server_address[0]}:{server.server_address[1]}"
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: gateway\n"
            f"    static_configs: [{{targets: ['{target}']}}]\n")
        port = _free_port()
        prom = subprocess.Popen(
            ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            query = ('sum(gen_ai_client_operation_duration_seconds_count{'
                     'tag_tenant="scraped-tenant",insightforge_outcome="ok"})')
            deadline, found = time.monotonic() + 60, None
            while time.monotonic() < deadline and found is None:
                time.sleep(0.5)
                try:
                    reply = httpx.get(f"http://127.0.0.1:{port}/api/v1/query",
                                      params={"query": query}, timeout=5).json()
                except (httpx.HTTPError, ValueError):
                    continue
                result = reply.get("data", {}).get("result", [])
                if result:
                    found = float(result[0]["value"][1])
            assert found == 3.0, "Prometheus never scraped the gateway's request count"
        finally:
            prom.terminate()
            prom.wait(timeout=20)


def test_an_otel_layer_recording_into_prometheus_is_refused_with_the_fix(
        emulator: Emulator, tmp_path: Path) -> None:
    config = two_models(emulator, tmp_path)
    config["stack"].insert(0, {"otel": {"metrics": "prometheus", "tags": ["tenant"]}})
    with pytest.raises(ConfigError) as caught:
        Gateway.from_config(config)
    assert "$.stack[0].otel.metrics" in str(caught.value)
    assert "remove metrics: prometheus" in str(caught.value)
    config["stack"][0] = {"otel": {"tags": ["tenant"]}}  # spans only: fine
    Gateway.from_config(config).table.close()
