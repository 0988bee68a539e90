"""The pure parts of the ``OpenTelemetry`` layer, with hypothesis and no I/O: attribute
names against the installed ``opentelemetry-semantic-conventions`` package, requests and
responses as attributes, trace events as span events, the opt-in content, the outcome the
metrics see, the cardinality cap and the measurements of an outcome."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.semconv._incubating.attributes import error_attributes as sc_error
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as sc_gen_ai
from opentelemetry.semconv._incubating.attributes import server_attributes as sc_server
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as sc_metrics

from insightforge.errors import BudgetExceeded, ProviderUnavailable, RateLimited
from insightforge.redact import Redactor
from insightforge.testing import strategies as ifs
from insightforge.types import ChatRequest, Message, Route, TraceEvent, Usage
from middleware.otel import instruments, semconv
from middleware.otel.outcome import OTHER, LabelCap, capped, outcome_of, status_of

PRIMITIVES = (str, bool, int, float)


def valid(value: Any) -> bool:
    """What OpenTelemetry accepts as an attribute value."""
    if isinstance(value, PRIMITIVES):
        return True
    if isinstance(value, list | tuple):
        return len({type(v) for v in value}) <= 1 and all(isinstance(v, PRIMITIVES)
                                                         for v in value)
    return False


def test_every_convention_name_is_the_installed_packages() -> None:
    known = {v for k, v in vars(sc_gen_ai).items() if k.startswith("GEN_AI_")}
    known |= {sc_error.ERROR_TYPE, sc_server.SERVER_ADDRESS, sc_server.SERVER_PORT}
    ours = {v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str)
            and not v.startswith("insightforge.")}
    ours.add(instruments.TOKEN_TYPE)
    assert ours - known == set()
    assert semconv.PROVIDER == sc_gen_ai.GEN_AI_PROVIDER_NAME  # not the older gen_ai.system
    metric_names = {v for k, v in vars(sc_metrics).items() if k.startswith("GEN_AI_")
                    and isinstance(v, str)}
    genai = {i.name for i in instruments.INSTRUMENTS if i.name.startswith("gen_ai.")}
    assert genai and genai <= metric_names
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= genai


def test_provider_names_follow_the_convention() -> None:
    values = {v.value for v in sc_gen_ai.GenAiProviderNameValues}
    assert semconv.provider_name("azure") == "azure.ai.openai" in values
    assert semconv.provider_name("openai") == "openai" in values
    assert semconv.provider_name("anthropic") == "anthropic" in values
    assert semconv.provider_name("ollama") == "ollama"  # no well-known value: ours


@given(ifs.chat_requests() | ifs.embed_requests(),
       st.none() | st.builds(Route, ifs.identifiers, ifs.identifiers),
       st.lists(st.sampled_from(["tenant", "feature", "user"]), max_size=3))
def test_request_attributes_are_valid_and_tags_an_allow_list(request: Any, route: Any,
                                                             tags: list[str]) -> None:
    server = semconv.server_attributes(route.base_url) if route else {}
    attributes = {**semconv.start_attributes(request, route),
                  **semconv.request_attributes(request, tags, server)}
    assert all(valid(v) for v in attributes.values())
    assert attributes[semconv.OPERATION] in ("chat", "embeddings")
    recorded = {k[len(semconv.TAG):] for k in attributes if k.startswith(semconv.TAG)}
    assert recorded == set(tags) & set(request.tags)
    name = semconv.span_name(request, route)
    model = request.model or (route.model if route else None)
    assert name == (f"{attributes[semconv.OPERATION]} {model}" if model
                    else attributes[semconv.OPERATION])


@given(st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True), st.from_regex(
    r"[a-z]{1,8}(\.[a-z]{2,5}){0,2}", fullmatch=True), st.none() | st.integers(1, 65535),
    st.text(max_size=12))
def test_server_attributes_are_the_host_alone(user: str, host: str, port: Any,
                                              path: str) -> None:
    netloc = f"{user}:{user}pw@{host}" + (f":{port}" if port else "")
    url = f"https://{netloc}/{path}?key={user}"
    out = semconv.server_attributes(url)
    assert out[semconv.SERVER_ADDRESS] == host
    assert out[semconv.SERVER_PORT] == (port or 443)
    assert f"{user}pw" not in str(out)
    assert semconv.server_attributes("scripted://") == {}


@given(ifs.chat_responses() | ifs.embed_responses())
def test_response_attributes_name_who_answered(response: Any) -> None:
    attributes = semconv.response_attributes(response)
    assert all(valid(v) for v in attributes.values())
    assert attributes[semconv.PROVIDER] == semconv.provider_name(response.provider)
    assert attributes[semconv.INPUT_TOKENS] == response.usage.input_tokens
    assert (semconv.COST in attributes) == (response.cost_usd is not None)


@given(st.integers(0, 1000), st.integers(0, 1000), st.data())
def test_usage_parts_only_when_there_were_some(inp: int, out: int, data: Any) -> None:
    read = data.draw(st.integers(0, inp))
    write = data.draw(st.integers(0, inp - read))
    reasoning = data.draw(st.integers(0, out))
    usage = Usage(inp, out, cache_read_tokens=read, cache_write_tokens=write,
                  reasoning_tokens=reasoning)
    attributes = semconv.usage_attributes(usage)
    assert attributes[semconv.INPUT_TOKENS] == inp and attributes[semconv.OUTPUT_TOKENS] == out
    assert attributes.get(semconv.CACHE_READ_TOKENS, 0) == read
    assert attributes.get(semconv.CACHE_CREATION_TOKENS, 0) == write
    assert attributes.get(semconv.REASONING_TOKENS, 0) == reasoning
    assert all(v for k, v in attributes.items() if k not in (semconv.INPUT_TOKENS,
                                                              semconv.OUTPUT_TOKENS))


@given(st.lists(ifs.trace_events, max_size=6), st.integers(0, 2 * 10**18),
       st.integers(0, 10**12))
def test_span_events_keep_order_and_stay_inside_the_span(trace: list[TraceEvent],
                                                         start: int, length: int) -> None:
    end = start + length
    events = semconv.span_events(trace, start, end, lambda v: v)
    assert [name for name, _, _ in events] == [f"insightforge.{e.layer}.{e.event}"
                                               for e in trace]
    for (_, attributes, at), event in zip(events, trace, strict=True):
        assert start <= at <= end
        if start <= int(event.at * 1e9) <= end:
            assert at == int(event.at * 1e9)
        assert all(valid(v) for v in attributes.values())
        assert set(attributes) - {"insightforge.detail"} <= set(event.data)


def test_span_events_redact_details_and_strings() -> None:
    event = TraceEvent("retry", "attempt", "after mail to jane@example.com",
                       {"who": "jane@example.com", "attempt": 2})
    ((_, attributes, _),) = semconv.span_events([event], 0, 2 * 10**18, Redactor())
    assert attributes == {"who": "[REDACTED:email]", "attempt": 2,
                          "insightforge.detail": "after mail to [REDACTED:email]"}


@given(ifs.chat_requests(), ifs.chat_responses())
def test_content_is_the_conventions_json_through_the_redactor(request: ChatRequest,
                                                              response: Any) -> None:
    seen: list[Any] = []

    def clean(value: Any) -> Any:
        seen.append(value)
        return value

    sent = json.loads(semconv.input_messages(request, clean) or "null")
    got = json.loads(semconv.output_messages(response, clean) or "null")
    assert len(seen) == 2  # every structure passed the redactor
    assert [m["role"] for m in sent] == [m.role for m in request.messages]
    assert got[0]["role"] == "assistant"
    assert all(isinstance(p["type"], str) for m in sent + got for p in m["parts"])


def test_tool_messages_and_calls_are_parts() -> None:
    from insightforge.types import ToolCall

    request = ChatRequest([Message("assistant", "", tool_calls=[ToolCall("c1", "f", '{"a":1}')]),
                           Message("tool", "42", tool_call_id="c1")])
    sent = json.loads(semconv.input_messages(request, lambda v: v) or "null")
    assert sent[0]["parts"] == [{"type": "tool_call", "id": "c1", "name": "f",
                                 "arguments": {"a": 1}}]
    assert sent[1]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": "42"}]


# -- the outcome and the metrics -------------------------------------------------------
def test_status_classes_are_the_audit_logs() -> None:
    assert status_of(None) == "ok"
    assert status_of(ProviderUnavailable("x", provider="p")) == "error"
    assert status_of(RateLimited("k")) == "refused"
    assert status_of(BudgetExceeded(scope="g", limit=Decimal(1), spent=Decimal(1))) == \
        "refused"
    assert status_of(None, abandoned=True) == "abandoned"
    assert status_of(KeyboardInterrupt()) == "abandoned"


CACHE_EVENTS = st.builds(TraceEvent, st.just("cache"), st.sampled_from(["hit", "miss", "x"]))


@given(ifs.chat_responses(), st.floats(0, 100), st.lists(st.floats(0, 60), max_size=3),
       st.lists(CACHE_EVENTS, max_size=2))
def test_outcome_of_an_answer(response: Any, duration: float, waits: list[float],
                              cache: list[TraceEvent]) -> None:
    trace = (*cache, *response.trace, *(TraceEvent("ratelimit", "waited", "", {"waited": w})
                                        for w in waits))
    response = type(response)(**{**{f: getattr(response, f) for f in (
        "message", "model", "provider", "usage", "finish_reason", "id", "cost_usd",
        "cached")}, "trace": trace})
    o = outcome_of(ChatRequest("x"), Route("p", "m"), response=response, duration_s=duration)
    assert o.status == "ok" and o.error_type == "" and o.response_model == response.model
    assert o.provider == semconv.provider_name(response.provider) and o.request_model == "m"
    assert o.rate_limit_wait_s == sum(w for w in waits if w > 0)
    said = [e.event for e in trace if e.layer == "cache" and e.event in ("hit", "miss")]
    assert o.cache == ("hit" if response.cached else (said[0] if said else ""))


@given(st.lists(st.text(max_size=3), max_size=40), st.integers(1, 8))
def test_the_cap_keeps_the_first_values_and_calls_the_rest_other(values: list[str],
                                                                 limit: int) -> None:
    seen: frozenset[str] = frozenset()
    kept: list[str] = []
    for value in values:
        out, seen = capped(seen, value, limit)
        assert out in (value, OTHER)
        kept.append(out)
    assert len(seen) <= limit
    first = list(dict.fromkeys(values))[:limit]
    assert seen == frozenset(first)
    assert kept == [v if v in first else OTHER for v in values]
    cap = LabelCap(limit)
    assert [cap("model", v) for v in values] == kept


@given(ifs.chat_responses(), st.sampled_from(["tenant", "user"]))
def test_measurements_of_an_answer(response: Any, tag: str) -> None:
    request = ChatRequest("x", tags={tag: "acme"})
    o = outcome_of(request, Route("p", "m"), response=response, tags=("tenant",))
    got = instruments.measurements(o)
    keys = [k for k, _, _ in got]
    assert keys.count("duration") == 1 and "errors" not in keys
    assert ("token_usage" in keys) == (not response.cached)
    assert ("cost" in keys) == bool(response.cost_usd)
    for _, _, labels in got:
        assert (labels.get("insightforge.tag.tenant") == "acme") == (tag == "tenant")


def test_measurements_of_a_refusal_and_a_failure() -> None:
    refused = BudgetExceeded(scope="global", limit=Decimal(1), spent=Decimal(1))
    o = outcome_of(ChatRequest("x"), Route("p", "m"), error=refused)
    assert sorted(k for k, _, _ in instruments.measurements(o)) == [
        "budget_refusals", "duration", "errors"]
    o = outcome_of(ChatRequest("x"), Route("p", "m"), error=ProviderUnavailable("x",
                                                                                provider="q"))
    (errors,) = [m for m in instruments.measurements(o) if m[0] == "errors"]
    assert errors[2]["error.type"] == "ProviderUnavailable"
    assert errors[2]["gen_ai.provider.name"] == "q"
