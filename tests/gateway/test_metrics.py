"""/metrics: the instruments' values, the tenant label cap, and a real Prometheus scraping."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

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
        after = samples(httpx.get(server.base_url + "/metrics").text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    p = "insightforge_gateway_"
    assert delta(p + "requests_total", tenant="t1", status="200") == 3
    assert delta(p + "requests_total", tenant="t3") == 0  # capped: the third tenant...
    assert delta(p + "requests_total", tenant="other", status="200") >= 1  # ...is "other"
    assert delta(p + "cache_hits_total", tenant="t1") == 1
    refusals = statuses.count(429)
    assert delta(p + "budget_refusals_total", tenant="t2") == refusals
    assert delta(p + "errors_total", type="BudgetExceeded") == refusals
    assert delta(p + "tokens_total", tenant="t1", type="output") > 0
    assert delta(p + "cost_usd_total", tenant="t1") > 0
    assert delta(p + "time_to_first_token_seconds_count", model="gpt-4o-mini") == 1
    assert delta(p + "request_duration_seconds_count", endpoint="/v1/chat/completions") >= 6


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
            query = ('sum(insightforge_gateway_requests_total{tenant="scraped-tenant",'
                     'status="200"})')
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
