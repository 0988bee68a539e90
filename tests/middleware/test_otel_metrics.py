"""The ``OpenTelemetry`` layer's metrics: through the OpenTelemetry metrics API (the real
SDK, an ``InMemoryMetricReader``) and through prometheus-client (a real
``CollectorRegistry`` and its text exposition, parsed). The must-show test is
``test_a_prometheus_scrape_matches_the_audit_logs_totals``: the same run, counted twice."""

from __future__ import annotations

import collections
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from insightforge import ChatRequest, stack
from insightforge.errors import (
    AuthenticationError,
    BudgetExceeded,
    ConfigError,
    InsightForgeError,
)
from insightforge.testing import FakeClock
from insightforge.testing.scripted import ScriptedProvider
from insightforge.types import Route
from middleware import AuditLog, Budget, Cache, Fallback, RateLimit, Retry
from middleware.audit import flush_all
from middleware.otel import Outcome, outcome_of, prometheus_metrics
from tests.middleware._otel_kit import Telemetry, boom


@pytest.fixture
def tel() -> Any:
    t = Telemetry()
    yield t
    t.shutdown()


Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(registry: CollectorRegistry) -> Samples:
    """What a Prometheus server reads from ``/metrics``: the text exposition, parsed."""
    out: Samples = collections.defaultdict(list)
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out[sample.name].append((dict(sample.labels), sample.value))
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for ls, v in samples.get(name, ()) if all(ls.get(k) == x
                                                           for k, x in labels.items()))


def by(samples: Samples, name: str, label: str, **labels: str) -> dict[str, float]:
    out: dict[str, float] = collections.Counter()
    for ls, v in samples.get(name, ()):
        if v and all(ls.get(k) == x for k, x in labels.items()):
            out[ls[label]] += v
    return {k: v for k, v in out.items() if v}


# -- the OpenTelemetry metrics API ------------------------------------------------------
def test_the_genai_client_metrics_and_ours_through_the_metrics_api(tel: Telemetry) -> None:
    clock = FakeClock()
    provider = ScriptedProvider([boom(), "first answer", AuthenticationError(
        "no (scripted)", provider="scripted", status=401)], model="m-1")
    llm = stack(tel.layer(metrics="otel", tags=("tenant",)), Cache(),
                Retry(attempts=2, clock=clock, sleep=clock.sleep, asleep=clock.asleep),
                provider=provider)
    first: Any = llm(ChatRequest("hello", tags={"tenant": "acme"}))
    llm(ChatRequest("hello", tags={"tenant": "acme"}))  # a cache hit
    with pytest.raises(AuthenticationError):
        llm(ChatRequest("denied", tags={"tenant": "acme"}))
    stream: Any = llm(ChatRequest("a streamed answer", stream=True))
    stream.collect()

    duration = tel.points("gen_ai.client.operation.duration")
    assert sum(p.count for p in duration) == 4
    outcomes: collections.Counter[str] = collections.Counter()
    for p in duration:
        outcomes[p.attributes["insightforge.outcome"]] += p.count
        assert p.attributes["gen_ai.operation.name"] == "chat"
        assert p.attributes["gen_ai.request.model"] == "m-1"
    assert outcomes == {"ok": 3, "error": 1}
    tokens = {p.attributes["gen_ai.token.type"]: p.sum
              for p in tel.points("gen_ai.client.token.usage")
              if p.attributes.get("insightforge.tag.tenant") == "acme"}
    assert tokens == {"input": first.usage.input_tokens, "output": first.usage.output_tokens}
    (ttft,) = tel.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttft.count == 1
    cache: collections.Counter[str] = collections.Counter()
    for p in tel.points("insightforge.client.cache.lookups"):
        cache[p.attributes["insightforge.cache.result"]] += p.value
    assert cache == {"miss": 2, "hit": 1}  # the failed call stored nothing: no event
    (errors,) = tel.points("insightforge.client.errors")
    assert errors.attributes["error.type"] == "AuthenticationError" and errors.value == 1
    cost = sum(p.value for p in tel.points("insightforge.client.cost"))
    assert cost == pytest.approx(float(first.cost_usd) + float(stream.response.cost_usd))


def test_budget_refusals_are_counted(tel: Telemetry) -> None:
    provider = ScriptedProvider()
    llm = stack(tel.layer(metrics="otel"), Budget(limit_usd=Decimal("0.00006")),
                provider=provider)
    refused = 0
    for i in range(4):
        try:
            llm(ChatRequest(f"request {i}", max_tokens=10))
        except BudgetExceeded:
            refused += 1
    (refusals,) = tel.points("insightforge.client.budget.refusals")
    assert refusals.value == refused == 4 - len(provider.calls) > 0


def test_rate_limit_waits_are_measured(tel: Telemetry) -> None:
    clock = FakeClock()
    limit = RateLimit(rpm=1, max_wait=120, clock=clock, sleep=clock.sleep, asleep=clock.asleep)
    llm = stack(tel.layer(metrics="otel"), limit, provider=ScriptedProvider())
    for i in range(3):
        llm(ChatRequest(f"request {i}"))
    (waits,) = tel.points("insightforge.client.ratelimit.wait")
    assert waits.count == 2 and sum(clock.sleeps) > 0
    assert waits.sum == pytest.approx(sum(clock.sleeps))


def test_labels_have_a_cardinality_cap(tel: Telemetry) -> None:
    llm = stack(tel.layer(metrics="otel", max_label_values=2, tags=("tenant",)),
                provider=ScriptedProvider())
    for i in range(5):
        llm(ChatRequest("x", model=f"model-{i}", tags={"tenant": f"t{i}"}))
    points = tel.points("gen_ai.client.operation.duration")
    models: collections.Counter[str] = collections.Counter()
    for p in points:
        models[p.attributes["gen_ai.request.model"]] += p.count
    assert models == {"model-0": 1, "model-1": 1, "other": 3}
    tenants = {p.attributes["insightforge.tag.tenant"] for p in points}
    assert tenants == {"t0", "t1", "other"}


# -- prometheus-client ------------------------------------------------------------------
def test_prometheus_metrics_are_shared_per_registry() -> None:
    registry = CollectorRegistry()
    one = prometheus_metrics(registry, tags=("tenant",))
    assert prometheus_metrics(registry, tags=("tenant",)) is one
    with pytest.raises(ConfigError) as caught:
        prometheus_metrics(registry, tags=("feature",))
    assert caught.value.path == "tags"
    a = stack(__import__("middleware").OpenTelemetry(metrics="prometheus", registry=registry,
                                                     tags=("tenant",)),
              provider=ScriptedProvider())
    assert a.handler.state.metrics is one  # type: ignore[attr-defined]


def test_a_registry_with_a_metric_of_the_same_name_is_a_config_error() -> None:
    from prometheus_client import Counter

    registry = CollectorRegistry()
    Counter("insightforge_client_errors", "someone else's", registry=registry)
    with pytest.raises(ConfigError) as caught:
        prometheus_metrics(registry)
    assert caught.value.path == "registry" and "own CollectorRegistry" in str(caught.value)
    assert [m.name for m in registry.collect()] == ["insightforge_client_errors"]  # undone


def test_the_gateway_records_its_own_outcomes_into_the_same_instruments() -> None:
    """What the gateway does for a request it answers itself (a 401, say)."""
    registry = CollectorRegistry()
    metrics = prometheus_metrics(registry)
    request = ChatRequest("x")
    error = AuthenticationError("unknown virtual key", provider="gateway", status=401)
    metrics.record(outcome_of(request, Route("openai", "gpt-4o-mini"), error=error,
                              duration_s=0.002))
    metrics.record(Outcome("chat", "openai", "gpt-4o-mini", "gpt-4o-mini", duration_s=0.5))
    samples = scrape(registry)
    assert total(samples, "gen_ai_client_operation_duration_seconds_count") == 2
    assert by(samples, "insightforge_client_errors_total", "error_type") == {
        "AuthenticationError": 1}


# -- must show: a scrape matches the audit log ------------------------------------------
class Moody:
    """A provider that fails by what it is asked (so a refused request leaves nothing
    scripted behind): "denied" -> AuthenticationError, "flaky" -> ProviderUnavailable
    (retried, then fallen back); anything else is answered by a ScriptedProvider."""

    def __init__(self, name: str, model: str) -> None:
        self.echo = ScriptedProvider(name=name, model=model)
        self.name, self.model = name, model

    def routes(self) -> tuple[Route, ...]:
        return self.echo.routes()

    def _check(self, request: Any) -> None:
        text = request.messages[-1].content
        if "denied" in text:
            raise AuthenticationError("denied (scripted)", provider=self.name, status=401)
        if "flaky" in text:
            raise boom(self.name)

    def __call__(self, request: Any) -> Any:
        self._check(request)
        return self.echo(request)

    async def acall(self, request: Any) -> Any:
        self._check(request)
        return await self.echo.acall(request)


ACTIONS = st.lists(st.tuples(st.sampled_from(["new", "again", "denied", "flaky", "stream",
                                              "abandon"]),
                             st.sampled_from(["rich", "poor"])), min_size=1, max_size=14)


EVERY_KIND = [("new", "rich"), ("again", "rich"), ("again", "poor"), ("denied", "rich"),
              ("flaky", "rich"), ("stream", "rich"), ("abandon", "rich"),
              *[("new", "poor")] * 7]  # the poor tenant's budget runs out


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(actions=EVERY_KIND)
@given(actions=ACTIONS)
def test_a_prometheus_scrape_matches_the_audit_logs_totals(actions: list[tuple[str, str]],
                                                          tmp_path: Path) -> None:
    registry = CollectorRegistry()
    path = tmp_path / f"audit-{id(actions)}.jsonl"
    clock = FakeClock()
    primary = Moody("primary", "big-1")
    backup = ScriptedProvider(name="backup", model="small-2")
    llm = stack(__import__("middleware").OpenTelemetry(metrics="prometheus", registry=registry,
                                                       tags=("tenant",)),
                AuditLog(str(path)), Cache(),
                Budget(limit_usd=Decimal("0.00015"), scope="tag:tenant"),
                Fallback(backup), Retry(attempts=2, clock=clock, sleep=clock.sleep,
                                        asleep=clock.asleep),
                provider=primary)
    for i, (action, tenant) in enumerate(actions):
        text = "the same question" if action == "again" else f"question {i} of {action}"
        request = ChatRequest(text, tags={"tenant": tenant}, max_tokens=20,
                              stream=action in ("stream", "abandon"))
        try:
            result: Any = llm(request)
            if action == "stream":
                result.collect()
            elif action == "abandon":
                result.close()
        except InsightForgeError:
            pass
    llm.close()
    flush_all()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    records = [r for r in lines if "outcome" in r]  # the chain's header line aside
    if actions == EVERY_KIND:  # the explicit example shows every kind of outcome
        assert {r["outcome"] for r in records} == {"ok", "error", "refused", "abandoned"}
        assert any(r["cache"] for r in records) and any(r["fallbacks"] for r in records)
        assert any(r["error_type"] == "BudgetExceeded" for r in records)
    samples = scrape(registry)

    assert len(records) == len(actions)
    assert total(samples, "gen_ai_client_operation_duration_seconds_count") == len(records)
    assert by(samples, "gen_ai_client_operation_duration_seconds_count",
              "insightforge_outcome") == collections.Counter(r["outcome"] for r in records)
    assert by(samples, "gen_ai_client_operation_duration_seconds_count", "tag_tenant") == \
        collections.Counter(r["tags"]["tenant"] for r in records)
    failed = [r for r in records if r["outcome"] in ("error", "refused")]
    assert by(samples, "insightforge_client_errors_total", "error_type") == \
        collections.Counter(r["error_type"] for r in failed)
    assert total(samples, "insightforge_client_budget_refusals_total") == \
        sum(r["error_type"] == "BudgetExceeded" for r in records)
    billed = [r for r in records if r["usage"] and not r["cache"]]
    for kind in ("input", "output"):
        expected = sum(r["usage"][f"{kind}_tokens"] for r in billed)
        assert total(samples, "insightforge_client_tokens_total", gen_ai_token_type=kind) == \
            expected
        assert total(samples, "gen_ai_client_token_usage_sum", gen_ai_token_type=kind) == \
            expected
    assert total(samples, "insightforge_client_cost_usd_total") == pytest.approx(
        float(sum(Decimal(r["cost_usd"]) for r in records if r["cost_usd"])))
    assert total(samples, "insightforge_client_cache_lookups_total",
                 insightforge_cache_result="hit") == sum(r["cache"] for r in records)
    assert by(samples, "gen_ai_client_operation_duration_seconds_count",
              "gen_ai_response_model", insightforge_outcome="ok") == \
        collections.Counter(r["model"] for r in records if r["outcome"] == "ok")
