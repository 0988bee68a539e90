"""AuditLog: one redacted, hash-chained record per request, whatever happened to it."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import multiprocessing
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightforge import (
    AuditUnavailable,
    BudgetExceeded,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    Message,
    RateLimited,
    RateLimitError,
    TraceEvent,
    stack,
)
from insightforge.cli.audit import audit as audit_cli
from insightforge.cli.audit import follow, format_record
from insightforge.stack import Handler, Middleware, Request
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from middleware.audit import AuditLog, FileSink, LoggerSink, flush_all
from middleware.audit import chain as ch
from middleware.audit.record import count_attempts
from tests.secret_shapes import ANY_SECRET, Shape, filler


def records(path: Path) -> list[dict[str, Any]]:
    flush_all()  # records are written off the request path: wait for them
    return [r for r in map(json.loads, path.read_text().splitlines()) if r.get("type") != "header"]


def check(path: Path) -> ch.ChainReport:
    flush_all()
    report = ch.verify(path.read_text().splitlines())
    assert report.ok, report.problem
    return report


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


# -- hand-built inner layers (stand-ins for Cache/Budget/RateLimit in unit tests) ----------
@attrs.frozen
class Refuse:
    error: BaseException

    def __call__(self, inner: Handler) -> Handler:
        layer = self

        class H(Middleware):
            def __call__(self, request: Request, /) -> Any:
                raise layer.error

            async def acall(self, request: Request, /) -> Any:
                raise layer.error
        return H(self, inner)


@attrs.frozen
class FakeCacheHit:
    def __call__(self, inner: Handler) -> Handler:
        class H(Middleware):
            def __call__(self, request: Request, /) -> Any:
                return ChatResponse(Message("assistant", "cached"), "m1", "p1", cost_usd=Decimal(0),
                                    cached=True, trace=(TraceEvent("cache", "hit"),))

            async def acall(self, request: Request, /) -> Any:
                return self(request)
        return H(self, inner)


# -- the record ----------------------------------------------------------------------------
def test_success_record_has_every_field(log: Path) -> None:
    llm = stack(AuditLog(log, clock=lambda: 0.0), provider=ScriptedProvider(["hi there"]))
    llm(ChatRequest("hello", tags={"tenant": "acme"}))
    [rec] = records(log)
    assert rec["ts"] == "1970-01-01T00:00:00.000000Z"
    assert rec["outcome"] == "ok" and rec["kind"] == "chat" and rec["tags"] == {"tenant": "acme"}
    assert (rec["provider"], rec["model"]) == ("scripted", "scripted-1")
    assert rec["usage"] == {"input_tokens": 4, "output_tokens": 2}
    assert rec["cost_usd"] == "0.000008" and rec["attempts"] == 1 and rec["cache"] is False
    assert rec["error"] is None and rec["ttft_ms"] is None and rec["latency_ms"] >= 0
    assert "content" not in rec and len(rec["request_id"]) == 36
    assert rec["prev_hash"] != rec["hash"]
    check(log)


def test_failure_record_is_redacted(log: Path) -> None:
    err = RateLimitError("throttled for key sk-proj-abcdefghijklmnopqrstuvwx; mail a@b.io",
                         provider="scripted", status=429)
    llm = stack(AuditLog(log), provider=ScriptedProvider([err]))
    with pytest.raises(RateLimitError):
        llm(ChatRequest("x", model="m-9"))
    [rec] = records(log)
    assert rec["outcome"] == "error" and rec["error_type"] == "RateLimitError"
    assert rec["error"] == "throttled for key [REDACTED:openai_key]; mail [REDACTED:email]"
    assert (rec["provider"], rec["model"], rec["usage"]) == ("scripted", "m-9", None)


@pytest.mark.parametrize("error", [
    BudgetExceeded(scope="global", limit=Decimal(1), spent=Decimal(1)),
    RateLimited("scripted:scripted-1", wait=3.0, max_wait=1.0),
])
def test_refusals_by_inner_layers(log: Path, error: BaseException) -> None:
    provider = ScriptedProvider()
    llm = stack(AuditLog(log), Refuse(error), provider=provider)
    with pytest.raises(type(error)):
        llm(ChatRequest("x"))
    [rec] = records(log)
    assert rec["outcome"] == "refused" and rec["error_type"] == type(error).__name__
    assert rec["provider"] == "scripted" and provider.calls == []


def test_cache_hit(log: Path) -> None:
    llm = stack(AuditLog(log), FakeCacheHit(), provider=ScriptedProvider())
    llm(ChatRequest("x"))
    [rec] = records(log)
    assert rec["cache"] is True and rec["cost_usd"] == "0" and rec["trace"] == ["cache.hit"]


def test_embed_record(log: Path) -> None:
    llm = stack(AuditLog(log, log_content=True), provider=ScriptedProvider())
    llm(EmbedRequest(["one two", "mail x@y.org"]))
    [rec] = records(log)
    assert rec["kind"] == "embed" and rec["usage"]["input_tokens"] == 4
    assert rec["content"] == {"inputs": ["one two", "mail [REDACTED:email]"]}


def test_content_only_when_asked_and_redacted(log: Path) -> None:
    llm = stack(AuditLog(log, log_content=True), provider=ScriptedProvider(["call 555-123-4567"]))
    llm(ChatRequest([Message("user", "I am bob@example.com"),
                     Message("assistant", "", tool_calls=[{"id": "1", "function": {
                         "name": "pay", "arguments": '{"card": "4111111111111111"}'}}])]))
    content = records(log)[0]["content"]
    assert content["messages"][0]["content"] == "I am [REDACTED:email]"
    assert json.loads(content["messages"][1]["tool_calls"][0]["arguments"]) == \
        {"card": "[REDACTED:card]"}
    assert content["completion"]["content"] == "call [REDACTED:phone]"


def test_redact_false_writes_text_as_is(log: Path) -> None:
    llm = stack(AuditLog(log, redact=False, log_content=True), provider=ScriptedProvider())
    llm(ChatRequest("bob@example.com"))
    assert records(log)[0]["content"]["messages"][0]["content"] == "bob@example.com"


def test_fields_subset_and_bad_field(log: Path) -> None:
    llm = stack(AuditLog(log, fields=["cost_usd"]), provider=ScriptedProvider())
    llm(ChatRequest("x"))
    assert set(records(log)[0]) == {"ts", "request_id", "outcome", "cost_usd", "prev_hash",
                                    "hash"}
    with pytest.raises(ValueError, match="unknown field"):
        AuditLog(log, fields=["costs"])


def test_attempts_and_fallbacks_from_trace() -> None:
    trace = (TraceEvent("retry", "attempt", data={"attempt": 2}),
             TraceEvent("retry", "gave_up", data={"attempt": 2}),
             TraceEvent("fallback", "fallback"), TraceEvent("retry", "attempt"),
             TraceEvent("cache", "miss"))
    assert count_attempts(trace) == (4, 1)
    assert count_attempts(()) == (1, 0)


# -- streams -------------------------------------------------------------------------------
def test_stream_finished_failed_abandoned(log: Path) -> None:
    times = iter(float(i) for i in range(100))
    provider = ScriptedProvider(["a b c", StreamStep("x y z", RateLimitError("boom", provider="s"),
                                                     fail_after=1), "d e f g"])
    llm: Any = stack(AuditLog(log, timer=lambda: next(times)), provider=provider)
    assert "".join(c.text for c in llm(ChatRequest("q", stream=True))) == "a b c"
    with pytest.raises(RateLimitError):
        list(llm(ChatRequest("q", stream=True)))
    s = llm(ChatRequest("q", stream=True))
    next(s)
    s.close()
    s.close()
    ok, failed, abandoned = records(log)
    assert ok["outcome"] == "ok" and ok["ttft_ms"] == 1000.0 and ok["usage"]["output_tokens"] == 3
    assert failed["outcome"] == "error" and failed["error_type"] == "RateLimitError"
    assert abandoned["outcome"] == "abandoned" and abandoned["ttft_ms"] is not None
    check(log)


def test_dropped_sync_stream_is_logged_once(log: Path) -> None:
    llm: Any = stack(AuditLog(log), provider=ScriptedProvider(["a b c"]))
    s = llm(ChatRequest("q", stream=True))
    next(s)
    del s
    gc.collect()
    assert [r["outcome"] for r in records(log)] == ["abandoned"]


def test_async_streams_and_dropped_async_stream(log: Path) -> None:
    asyncio.run(_async_streams_and_dropped_async_stream(log))


async def _async_streams_and_dropped_async_stream(log: Path) -> None:
    llm: Any = stack(AuditLog(log), provider=ScriptedProvider(["a b", "c d"]))
    s = await llm.acall(ChatRequest("q", stream=True))
    chunks = [c.text async for c in s]
    assert chunks[0] == "a "
    s2 = await llm.acall(ChatRequest("q", stream=True))
    await s2.__anext__()
    del s2
    gc.collect()
    s3 = await llm.acall(ChatRequest("q", stream=True))
    await s3.aclose()
    assert [r["outcome"] for r in records(log)] == ["ok", "abandoned", "abandoned"]
    check(log)


def test_async_cancellation_is_abandoned(log: Path) -> None:
    asyncio.run(_async_cancellation_is_abandoned(log))


async def _async_cancellation_is_abandoned(log: Path) -> None:
    llm = stack(AuditLog(FileSink(log, fsync="always")), provider=ScriptedProvider(delay=5))
    task = asyncio.create_task(llm.acall(ChatRequest("q")))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [r["outcome"] for r in records(log)] == ["abandoned"]


# -- sync/async parity ---------------------------------------------------------------------
def _script() -> list[Any]:
    return ["one", RateLimitError("x", provider="scripted"), StreamStep("s t"), "two"]


def _stable(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items()
            if k not in ("ts", "request_id", "latency_ms", "ttft_ms", "hash", "prev_hash")}


def test_sync_and_async_write_the_same_records(tmp_path: Path) -> None:
    asyncio.run(_sync_and_async_write_the_same_records(tmp_path))


async def _sync_and_async_write_the_same_records(tmp_path: Path) -> None:
    reqs = [ChatRequest("a"), ChatRequest("b"), ChatRequest("c", stream=True), ChatRequest("d")]
    out = []
    for name in ("sync", "async"):
        path = tmp_path / f"{name}.jsonl"
        llm: Any = stack(AuditLog(path, log_content=True), provider=ScriptedProvider(_script()))
        for req in reqs:
            try:
                if name == "sync":
                    r = llm(req)
                    _ = list(r) if req.stream else r
                else:
                    r = await llm.acall(req)
                    _ = [c async for c in r] if req.stream else r
            except RateLimitError:
                pass
        out.append([_stable(r) for r in records(path)])
    assert out[0] == out[1] and len(out[0]) == 4


steps = st.lists(st.one_of(
    st.sampled_from(["alpha", "beta gamma"]),
    st.builds(lambda: RateLimitError("slow", provider="scripted")),
    st.builds(lambda: BudgetExceeded(scope="global", limit=Decimal(1), spent=Decimal(1))),
    st.builds(StreamStep, st.sampled_from(["s t u", "v"])),
    st.builds(lambda: StreamStep("x y z", RateLimitError("mid", provider="s"), fail_after=1)),
), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=steps)
def test_sync_and_async_drivers_decide_alike(tmp_path: Path, script: list[Any]) -> None:
    out = []
    for name in ("sync", "async"):
        path = tmp_path / f"p-{name}.jsonl"
        path.unlink(missing_ok=True)
        llm: Any = stack(AuditLog(path, log_content=True), provider=ScriptedProvider(script))
        reqs = [ChatRequest(f"q{i}", stream=isinstance(s, StreamStep))
                for i, s in enumerate(script)]
        if name == "sync":
            for req in reqs:
                try:
                    r = llm(req)
                    if req.stream:
                        list(r)
                except (RateLimitError, BudgetExceeded):
                    pass
        else:
            async def drive(llm: Any = llm, reqs: list[ChatRequest] = reqs) -> None:
                for req in reqs:
                    try:
                        r = await llm.acall(req)
                        if req.stream:
                            _ = [c async for c in r]
                    except (RateLimitError, BudgetExceeded):
                        pass
            asyncio.run(drive())
        out.append([_stable(r) for r in records(path)])
    assert out[0] == out[1] and len(out[0]) == len(script)


# -- exactly one record under concurrency -------------------------------------------------
def test_threads_share_one_chain(log: Path) -> None:
    llm = stack(AuditLog(FileSink(log, fsync="never")), provider=ScriptedProvider())
    threads = [threading.Thread(target=lambda: [llm(ChatRequest("x")) for _ in range(50)])
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert check(log).records == 400
    assert len({r["request_id"] for r in records(log)}) == 400


def test_tasks_share_one_chain(log: Path) -> None:
    asyncio.run(_tasks_share_one_chain(log))


async def _tasks_share_one_chain(log: Path) -> None:
    llm = stack(AuditLog(FileSink(log, fsync="always")), provider=ScriptedProvider())
    await asyncio.gather(*(llm.acall(ChatRequest("x")) for _ in range(200)))
    assert check(log).records == 200


def _child(path: str, n: int) -> None:
    llm = stack(AuditLog(FileSink(path, fsync="never")), provider=ScriptedProvider())
    for _ in range(n):
        llm(ChatRequest("x"))


def test_processes_share_one_chain(log: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(str(log), 60)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert check(log).records == 240


def _rotating_child(path: str, n: int) -> None:
    llm = stack(AuditLog(FileSink(path, fsync="never", max_bytes=4096)),
                provider=ScriptedProvider())
    for _ in range(n):
        llm(ChatRequest("x"))


def test_processes_rotating_one_chain(tmp_path: Path) -> None:
    log = tmp_path / "r.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_rotating_child, args=(str(log), 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    files = [*sorted(tmp_path.glob("r.jsonl.2*")), log]
    assert len(files) >= 3
    assert sum(check(f).records for f in files) == 120
    result = CliRunner().invoke(audit_cli, ["verify", str(log)])
    assert result.exit_code == 0 and result.output.count("OK:") == len(files), result.output


def test_chain_survives_restart(log: Path) -> None:
    for _ in range(3):  # a new sink each time: the chain continues from the file's last line
        sink = FileSink(log)
        stack(AuditLog(sink), provider=ScriptedProvider())(ChatRequest("x"))
        sink.close()
    text = log.read_text()
    assert text.count('"type":"header"') == 1 and check(log).records == 3


def test_rotation_continues_the_chain(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    llm = stack(AuditLog(FileSink(log, max_bytes=2048, fsync="never")),
                provider=ScriptedProvider())
    for _ in range(20):
        llm(ChatRequest("x"))
    flush_all()
    files = sorted(tmp_path.glob("a.jsonl.2*"))
    assert len(files) >= 2
    total = sum(len(records(f)) for f in [*files, log])
    assert total == 20
    result = CliRunner().invoke(audit_cli, ["verify", str(log)])
    assert result.exit_code == 0 and result.output.count("OK:") == len(files) + 1, result.output
    # deleting the last record of an earlier file is caught through the next header
    first = files[-1]
    first.write_text("\n".join(first.read_text().splitlines()[:-1]) + "\n")
    result = CliRunner().invoke(audit_cli, ["verify", str(log)])
    assert result.exit_code == 1 and "deleted" in result.output


# -- sinks ---------------------------------------------------------------------------------
def test_stdlib_logger_sink(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.audit.sink")
    with caplog.at_level(logging.INFO, logger="test.audit.sink"):
        stack(AuditLog(logger), provider=ScriptedProvider())(ChatRequest("x"))
    lines = [r.getMessage() for r in caplog.records if r.name == "test.audit.sink"]
    assert len(lines) == 2 and ch.verify(lines).ok


def test_structlog_logger_sink() -> None:
    seen: list[dict[str, Any]] = []

    def capture(_: Any, __: str, event: Any) -> Any:
        seen.append(dict(event))
        raise structlog.DropEvent

    logger = structlog.wrap_logger(structlog.PrintLogger(), processors=[capture])
    stack(AuditLog(logger), provider=ScriptedProvider())(ChatRequest("x"))
    assert [e.get("type") for e in seen] == ["header", None]
    assert seen[1]["outcome"] == "ok" and seen[1]["event"] == "audit"
    assert isinstance(AuditLog(logger).sink, LoggerSink)


def test_write_failure_warns_or_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        blocking = False

        def write(self, record: Any) -> Any:
            raise OSError("disk full")

        def close(self) -> None: ...

    # serving unaudited is a choice (issue 12): on_write_error="serve" warns and goes on
    llm: Any = stack(AuditLog(Broken(), on_write_error="serve"), provider=ScriptedProvider())
    assert llm(ChatRequest("x")).text == "Echo: x"
    assert "could not be written" in caplog.text
    # ... and by default (and with the old strict=True) the request fails, typed
    for layer in (AuditLog(Broken()), AuditLog(Broken(), strict=True)):
        with pytest.raises(AuditUnavailable, match="disk full"):
            stack(layer, provider=ScriptedProvider())(ChatRequest("x"))


def test_bad_sink_and_options_say_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="file path, a sink, or a logger"):
        AuditLog(42)
    with pytest.raises(ValueError, match="fsync must be one of"):
        FileSink(tmp_path / "x", fsync="sometimes")
    with pytest.raises(TypeError, match="redact must be"):
        AuditLog(tmp_path / "x", redact="yes")  # type: ignore[arg-type]


def test_repr_shows_no_secret(log: Path) -> None:
    llm = stack(AuditLog(log, log_content=True), provider=ScriptedProvider())
    assert "AuditLog(FileSink(" in repr(llm) and "log_content=True" in repr(llm)


# -- the chain, generated ------------------------------------------------------------------
def _chain_file(n: int) -> list[str]:
    lines = [ch.canonical(ch.header())]
    prev = json.loads(lines[0])["hash"]
    for i in range(n):
        rec = ch.seal({"i": i, "outcome": "ok", "tags": {"t": "é"}}, prev)
        lines.append(ch.canonical(rec))
        prev = rec["hash"]
    return lines


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 30))
def test_chain_verifies_after_any_number_of_writes(n: int) -> None:
    report = ch.verify(_chain_file(n))
    assert report.ok and report.records == n


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 12), data=st.data())
def test_any_single_byte_edit_is_detected(n: int, data: st.DataObject) -> None:
    lines = _chain_file(n)
    blob = bytearray("\n".join(lines).encode())
    pos = data.draw(st.integers(0, len(blob) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != blob[pos]))
    blob[pos] = new
    edited = blob.decode("latin-1").split("\n")
    report = ch.verify(edited)
    assert not report.ok


@settings(max_examples=200, deadline=None)
@given(n=st.integers(2, 12), data=st.data())
def test_any_deletion_but_the_last_is_detected_and_named(n: int, data: st.DataObject) -> None:
    lines = _chain_file(n)
    gone = data.draw(st.integers(0, len(lines) - 2))
    report = ch.verify(lines[:gone] + lines[gone + 1:])
    assert report.problem is not None and report.problem.reason == "deleted"
    assert report.problem.line == gone + 1


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 12), data=st.data())
def test_any_insertion_is_detected(n: int, data: st.DataObject) -> None:
    lines = _chain_file(n)
    at = data.draw(st.integers(1, len(lines)))
    kind = data.draw(st.sampled_from(["replay", "forged", "junk"]))
    if kind == "replay":
        extra = data.draw(st.sampled_from(lines))
    elif kind == "forged":  # a new record, properly chained to some earlier line
        prev = data.draw(st.sampled_from([json.loads(x)["hash"] for x in lines[:at]]))
        extra = ch.canonical(ch.seal({"forged": 1}, prev))
    else:
        extra = data.draw(st.text(max_size=40))
    report = ch.verify([*lines[:at], extra, *lines[at:]])
    if kind == "forged" and at == len(lines) and prev == json.loads(lines[-1])["hash"]:
        return  # a properly chained record appended at the end is a valid append
    assert not report.ok
    # a replayed copy may sit just before its identical twin
    assert report.problem is not None and report.problem.line <= at + 2


def test_reorder_is_named() -> None:
    lines = _chain_file(5)
    lines[2], lines[3] = lines[3], lines[2]
    problem = ch.verify(lines).problem
    assert problem is not None and problem.reason == "reordered" and problem.line == 3


# -- no secret into any record -------------------------------------------------------------
@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=ANY_SECRET, words=filler)
def test_generated_secrets_never_reach_a_record(tmp_path: Path, shape: Shape, words: str) -> None:
    kind, embed, raw = shape
    path = tmp_path / "h.jsonl"
    body = json.dumps({"error": {"message": f"{words} {embed}"}})
    value = raw if kind not in ("email", "phone", "card", "iban") else embed
    headers = {"Authorization": f"Bearer {value}", "api-key": value}
    provider = ScriptedProvider([f"{words} {embed}", RateLimitError(
        f"upstream said {body}; headers={headers!r}", provider="scripted")])
    llm = stack(AuditLog(path, log_content=True), provider=provider)
    args = json.dumps({"q": f"{words} {embed}"})
    req = ChatRequest([Message("user", f"{words} {embed}"),
                       Message("assistant", "", tool_calls=[{"id": "1", "function": {
                           "name": "f", "arguments": args}}])], tags={"note": embed})
    llm(req)
    with pytest.raises(RateLimitError):
        llm(req)
    written = json.dumps([{k: v for k, v in r.items() if k not in ("hash", "prev_hash")}
                          for r in records(path)])
    assert raw not in written
    path.unlink()


# -- CLI -----------------------------------------------------------------------------------
def test_cli_verify_and_tail(log: Path) -> None:
    llm = stack(AuditLog(log), provider=ScriptedProvider(["a", RateLimitError("x", provider="s")]))
    llm(ChatRequest("x", tags={"tenant": "acme"}))
    with pytest.raises(RateLimitError):
        llm(ChatRequest("y"))
    llm(ChatRequest("z"))
    flush_all()
    runner = CliRunner()
    ok = runner.invoke(audit_cli, ["verify", str(log)])
    assert ok.exit_code == 0 and ok.output.startswith("OK: 3 records")
    tail = runner.invoke(audit_cli, ["tail", str(log), "-n", "2"])
    assert tail.exit_code == 0 and "RateLimitError" in tail.output and "tenant" not in tail.output
    raw = runner.invoke(audit_cli, ["tail", str(log), "--json", "-n", "1"])
    assert json.loads(raw.output)["outcome"] == "ok"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    bad = runner.invoke(audit_cli, ["verify", str(log)])
    assert bad.exit_code == 1 and "line 3: deleted" in bad.output
    missing = runner.invoke(audit_cli, ["verify", str(log) + ".nope"])
    assert missing.exit_code == 2 and "no such audit file" in missing.output


def test_format_record_is_readable() -> None:
    line = format_record({"ts": "T", "outcome": "ok", "provider": "openai", "model": "m",
                          "latency_ms": 12.4, "usage": {"input_tokens": 1, "output_tokens": 2},
                          "cost_usd": "0.1", "attempts": 2, "fallbacks": 1, "cache": True,
                          "tags": {"a": "b"}})
    assert line.split() == ["T", "ok", "openai/m", "12ms", "in=1", "out=2", "$0.1",
                            "attempts=2", "fallbacks=1", "[cache]", "a=b"]


def test_follow_yields_appended_lines_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text("old\n")
    steps = iter(range(10))
    got: list[str] = []

    def sleep(_: float) -> None:
        i = next(steps)
        if i == 0:
            with path.open("a") as fh:
                fh.write("one\ntw")
        elif i == 1:
            with path.open("a") as fh:
                fh.write("o\n")
        elif i == 2:
            path.rename(tmp_path / "f.jsonl.1")
            path.write_text("three\n")

    gen: Iterator[str] = follow(path, poll=0, stop=lambda: len(got) >= 3, sleep=sleep)
    for line in gen:
        got.append(line)
    assert got == ["one", "two", "three"]


@settings(max_examples=200, deadline=None)
@given(record=st.dictionaries(st.text(st.characters(codec="ascii"), max_size=12),
                              st.one_of(st.none(), st.integers(), st.text(max_size=20),
                                        st.lists(st.integers(), max_size=3)), max_size=8),
       prev=st.text("0123456789abcdef", min_size=64, max_size=64))
def test_seal_line_is_seal_then_canonical(record: dict[str, Any], prev: str) -> None:
    sealed, line = ch.seal_line(record, prev)
    assert sealed == ch.seal(record, prev)
    assert line == ch.canonical(sealed)
