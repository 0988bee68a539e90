"""The Cache layer: key, entries, stores (memory, SQLite, real Redis), single flight, CLI.

Invariant held with hypothesis: a stack with ``Cache`` answers exactly as the same stack
without it. Compared: message, model, provider, usage, finish_reason (and for streams the
chunks); ignored, as documented: ``cached``, ``cost_usd``, ``trace`` and ``id`` (a hit
returns the stored id).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightforge import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    ImagePart,
    Message,
    TextPart,
    stack,
)
from insightforge.errors import ProviderUnavailable
from insightforge.testing import part_strategies as pst
from insightforge.testing import strategies as ist
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from insightforge.types import Route
from middleware.cache import Cache, MemoryCache, cache_key, canonical
from middleware.cache.entry import decode, encode, make_entry
from middleware.cache.key import route_fingerprint
from middleware.cache.stores import RedisCache, SQLiteCache
from tests.conftest import TEST_OPENAI_KEY


def same(a: Any, b: Any) -> bool:
    fields = ("message", "model", "provider", "usage", "finish_reason")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


# -- the key -----------------------------------------------------------------------------
@given(ist.chat_requests(), ist.tags)
def test_key_ignores_tags_and_metadata(request: ChatRequest, tags: dict[str, str]) -> None:
    import attrs

    other = attrs.evolve(request, tags=tags,
                         options={**request.options, "metadata": {"x": 1}, "user": "u1"})
    assert cache_key(request, "r") == cache_key(other, "r")
    assert "tags" not in canonical(request)


@given(ist.chat_requests())
def test_key_includes_routes_and_content(request: ChatRequest) -> None:
    import attrs

    assert cache_key(request, "a") != cache_key(request, "b")
    changed = attrs.evolve(request, seed=(request.seed or 0) + 1)
    assert cache_key(request, "a") != cache_key(changed, "a")
    assert cache_key(request, "a").startswith("if1:")


def test_route_fingerprint_has_endpoint_and_is_order_free() -> None:
    a, b = Route("openai", "gpt-4o", base_url="http://x"), Route("ollama", "llama3")
    assert route_fingerprint([a, b]) == route_fingerprint([b, a])
    assert route_fingerprint([a]) != route_fingerprint([Route("openai", "gpt-4o",
                                                              base_url="http://y")])


@given(pst.part_messages(), pst.part_messages())
def test_key_of_parts_hashes_bytes_and_never_meets_text(a: Message, b: Message) -> None:
    """Media parts key by their bytes' SHA-256: equal content, equal key; different
    content, different key; and no text part can spell a media part's key."""
    ra, rb = ChatRequest(messages=(a,)), ChatRequest(messages=(b,))
    assert (cache_key(ra, "r") == cache_key(rb, "r")) == (a == b)
    as_text = ChatRequest(messages=(Message(a.role, json.dumps(canonical(ra))),))
    assert cache_key(as_text, "r") != cache_key(ra, "r")


def test_key_of_an_image_does_not_carry_its_bytes() -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
    request = ChatRequest(messages=(Message("user", (TextPart("what is this?"),
                                                     ImagePart(data=data))),))
    text = json.dumps(canonical(request))
    assert base64.b64encode(data).decode()[:40] not in text
    assert hashlib.sha256(data).hexdigest() in text
    changed = ChatRequest(messages=(Message("user", (TextPart("what is this?"),
                                                     ImagePart(data=data + b"x"))),))
    assert cache_key(request, "r") != cache_key(changed, "r")


# -- entries -------------------------------------------------------------------------------
@given(ist.chat_responses())
def test_entry_json_round_trip(response: ChatResponse) -> None:
    entry = make_entry(response)
    back = decode(encode(entry))
    assert back is not None and back.response == entry.response and back.chunks is None
    assert back.response.trace == ()


def test_damaged_entries_are_misses() -> None:
    assert decode("{not json") is None
    assert decode('{"v": 999}') is None


# -- equivalence ---------------------------------------------------------------------------
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(ist.conformance_chat_requests(), min_size=1, max_size=4), st.booleans())
def test_cache_answers_as_the_stack_without_it(requests: list[ChatRequest],
                                               stream: bool) -> None:
    import attrs

    plain = stack(provider=ScriptedProvider())
    cached = stack(Cache(), provider=ScriptedProvider())
    for request in requests:
        request = attrs.evolve(request, stream=stream)
        for _ in range(2):  # a miss, then a hit
            if stream:
                want_s, got_s = plain(request), cached(request)
                want_chunks, got_chunks = list(want_s), list(got_s)  # type: ignore[arg-type]
                assert want_chunks == got_chunks
                want, got = want_s.response, got_s.response  # type: ignore[union-attr]
            else:
                want, got = plain(request), cached(request)
            assert same(want, got)
    # and async, from the same cache
    async def main() -> None:
        for request in requests:
            request = attrs.evolve(request, stream=False)
            want = await plain.acall(request)
            await cached.acall(request)
            got = await cached.acall(request)
            assert same(want, got) and got.cached  # type: ignore[union-attr]

    asyncio.run(main())


def test_hit_is_marked_free_and_traced() -> None:
    p = ScriptedProvider()
    llm = stack(Cache(), provider=p)
    first = llm(ChatRequest("hello"))
    hit = llm(ChatRequest("hello", tags={"user": "someone else"}))
    assert len(p.calls) == 1
    assert not first.cached and first.cost_usd and first.cost_usd > 0
    assert hit.cached and hit.cost_usd == Decimal(0)
    assert [(e.layer, e.event) for e in hit.trace] == [("cache", "hit")]
    assert first.trace[0].event == "miss"


def test_embeddings_are_cached() -> None:
    p = ScriptedProvider()
    llm = stack(Cache(), provider=p)
    a, b = llm(EmbedRequest(["one two"])), llm(EmbedRequest(["one two"]))
    assert a.vectors == b.vectors and b.cached and len(p.calls) == 1


def test_errors_and_partial_streams_are_never_cached() -> None:
    p = ScriptedProvider([ProviderUnavailable("down", provider="scripted"),
                          StreamStep("a b c", ProviderUnavailable("cut", provider="s"), 1),
                          "one two three"])
    llm = stack(Cache(), provider=p)
    with pytest.raises(ProviderUnavailable):
        llm(ChatRequest("q"))
    with pytest.raises(ProviderUnavailable):
        llm(ChatRequest("q", stream=True)).collect()  # type: ignore[union-attr]
    abandoned = llm(ChatRequest("q", stream=True))
    next(iter(abandoned))  # type: ignore[call-overload]
    abandoned.close()  # type: ignore[union-attr]
    ended = llm(ChatRequest("q", stream=True))
    assert ended.collect().text == "Echo: q"  # type: ignore[union-attr]
    replay = llm(ChatRequest("q", stream=True))
    assert [c.text for c in replay] == ["Echo: ", "q", ""]  # type: ignore[union-attr]
    assert replay.response.cached and len(p.calls) == 4  # type: ignore[union-attr]
    assert llm(ChatRequest("q")).text == "Echo: q" and len(p.calls) == 5  # different key


def test_memory_ttl_expires() -> None:
    now = [0.0]
    store = MemoryCache(ttl=10, maxsize=4, timer=lambda: now[0])
    p = ScriptedProvider()
    llm = stack(Cache(store=store), provider=p)
    llm(ChatRequest("a"))
    llm(ChatRequest("a"))
    now[0] = 11
    llm(ChatRequest("a"))
    assert len(p.calls) == 2
    assert store.stats().hits == 1


# -- single flight -------------------------------------------------------------------------
def test_single_flight_threads() -> None:
    p = ScriptedProvider(delay=0.2)
    llm = stack(Cache(), provider=p)
    out: list[Any] = []
    barrier = threading.Barrier(50)

    def call() -> None:
        barrier.wait()
        out.append(llm(ChatRequest("same")))

    threads = [threading.Thread(target=call) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(p.calls) == 1 and len(out) == 50
    assert sum(r.cached for r in out) == 49


def test_single_flight_tasks_and_shared_error() -> None:
    p = ScriptedProvider([ProviderUnavailable("down", provider="s")], delay=0.05)
    llm = stack(Cache(), provider=p)

    async def main() -> None:
        results = await asyncio.gather(*(llm.acall(ChatRequest("x")) for _ in range(20)),
                                       return_exceptions=True)
        assert all(isinstance(r, ProviderUnavailable) for r in results)
        assert len(p.calls) == 1  # one failing upstream call, not twenty
        results = await asyncio.gather(*(llm.acall(ChatRequest("x")) for _ in range(50)))
        assert len(p.calls) == 2 and sum(r.cached for r in results) == 49  # type: ignore

    asyncio.run(main())


def test_followers_get_their_own_copy_of_a_shared_error() -> None:
    """A layer above the cache adds trace events to the error it sees; with one shared
    exception object, every caller's error would carry every other caller's events."""
    from insightforge.types import TraceEvent

    def errors_of(results: list[Any]) -> list[ProviderUnavailable]:
        assert all(isinstance(r, ProviderUnavailable) for r in results)
        return list(results)

    async def tasks() -> list[Any]:
        p = ScriptedProvider([ProviderUnavailable("down", provider="s", status=503)],
                             delay=0.05)
        llm = stack(Cache(), provider=p)
        return list(await asyncio.gather(*(llm.acall(ChatRequest("x")) for _ in range(5)),
                                         return_exceptions=True))

    def threads() -> list[Any]:
        p = ScriptedProvider([ProviderUnavailable("down", provider="s", status=503)],
                             delay=0.1)
        llm = stack(Cache(), provider=p)
        out: list[Any] = []
        barrier = threading.Barrier(5)

        def call() -> None:
            barrier.wait()
            try:
                llm(ChatRequest("x"))
            except ProviderUnavailable as exc:
                out.append(exc)

        workers = [threading.Thread(target=call) for _ in range(5)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(10)
        return out

    for errors in (errors_of(asyncio.run(tasks())), errors_of(threads())):
        assert len(errors) == 5 and len({id(e) for e in errors}) == 5
        assert {(e.message, e.provider, e.status, e.retryable) for e in errors} == {
            ("down", "s", 503, True)}
        errors[0].add_trace(TraceEvent("audit", "mine"))
        assert all(not e.trace for e in errors[1:])


def test_single_flight_streams_replay_for_followers() -> None:
    p = ScriptedProvider(delay=0.1)
    llm = stack(Cache(), provider=p)
    texts: list[list[str]] = []
    lock = threading.Lock()

    def call() -> None:
        s = llm(ChatRequest("stream me", stream=True))
        chunks = [c.text for c in s]  # type: ignore[union-attr]
        with lock:
            texts.append(chunks)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(p.calls) == 1 and len(texts) == 10
    assert all(t == ["Echo: ", "stream ", "me", ""] for t in texts)


def test_two_identical_streams_in_one_thread_do_not_deadlock() -> None:
    p = ScriptedProvider()
    llm = stack(Cache(), provider=p)
    first = llm(ChatRequest("s", stream=True))
    second = llm(ChatRequest("s", stream=True))  # the leader is this thread: no waiting
    assert second.collect().text == first.collect().text  # type: ignore[union-attr]

    async def main() -> None:
        a = await llm.acall(ChatRequest("t", stream=True))
        b = await llm.acall(ChatRequest("t", stream=True))
        assert (await b.collect()).text == (await a.collect()).text  # type: ignore[union-attr]

    asyncio.run(asyncio.wait_for(main(), 5))


# -- shared stores -------------------------------------------------------------------------
def check_store(store: Any) -> None:
    p = ScriptedProvider()
    llm = stack(Cache(store=store, ttl=60), provider=p)
    llm(ChatRequest("one"))
    s = llm(ChatRequest("two", stream=True))
    s.collect()  # type: ignore[union-attr]
    assert llm(ChatRequest("one")).cached
    replay = llm(ChatRequest("two", stream=True))
    assert [c.text for c in replay] == ["Echo: ", "two", ""]  # type: ignore[union-attr]
    stats = store.stats()
    assert stats.entries == 2 and stats.hits >= 2 and stats.size_bytes
    assert store.clear() == 2 and store.stats().entries == 0
    assert len(p.calls) == 2


def test_sqlite_store(tmp_path: Path) -> None:
    check_store(SQLiteCache(tmp_path / "c.db"))
    store = SQLiteCache(tmp_path / "ttl.db")
    p = ScriptedProvider()
    llm = stack(Cache(store=store, ttl=0.05), provider=p)
    llm(ChatRequest("x"))
    time.sleep(0.1)
    llm(ChatRequest("x"))
    assert len(p.calls) == 2


@pytest.mark.redis
def test_redis_store(redis_url: str, redis_client: Any) -> None:
    check_store(RedisCache(redis_url))


@pytest.mark.redis
def test_redis_counts_reach_other_clients_in_batches(redis_url: str,
                                                     redis_client: Any) -> None:
    from middleware.cache.stores import STATS_EVERY

    a, b = RedisCache(redis_url), RedisCache(redis_url)
    entry = make_entry(ScriptedProvider()(ChatRequest("q")))  # type: ignore[arg-type]
    a.set("k", entry, 60)
    for _ in range(STATS_EVERY):  # a full batch is flushed without asking
        assert a.get("k") == entry
    assert b.stats().hits == STATS_EVERY
    a.get("nope")
    a.close()  # closing flushes the rest
    assert b.stats().misses == 1
    assert a.get("k") == entry and a.stats().hits == STATS_EVERY + 1


@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=40))
def test_decode_memo_never_serves_another_entry(texts: list[str]) -> None:
    from middleware.cache.entry import DecodeMemo

    p = ScriptedProvider()
    raws = {t: encode(make_entry(p(ChatRequest(t)))) for t in "abcd"}  # type: ignore[arg-type]
    memo = DecodeMemo(size=2)
    for t in texts:
        got = memo(raws[t])
        assert got is not None and got.response.text == f"Echo: {t}"  # type: ignore[union-attr]
    assert memo(b"not json") is None


@pytest.mark.redis
def test_stacks_sharing_redis_never_answer_for_each_other(redis_url: str,
                                                          redis_client: Any) -> None:
    a = ScriptedProvider(name="alpha", model="m")
    b = ScriptedProvider(name="beta", model="m")
    llm_a = stack(Cache(store=redis_url), provider=a)
    llm_b = stack(Cache(store=redis_url), provider=b)
    assert llm_a(ChatRequest("q")).provider == "alpha"
    assert llm_b(ChatRequest("q")).provider == "beta"
    assert llm_a(ChatRequest("q")).cached and len(a.calls) == len(b.calls) == 1


def test_a_dead_store_is_a_miss_not_a_failure() -> None:
    store = RedisCache("redis://:pw-hunter2@127.0.0.1:1/0", timeout=0.2)
    p = ScriptedProvider()
    llm = stack(Cache(store=store), provider=p)
    assert llm(ChatRequest("q")).text == "Echo: q"
    assert "pw-hunter2" not in repr(store) and "pw-hunter2" not in repr(llm)


def test_entries_hold_no_request_secret(tmp_path: Path) -> None:
    store = SQLiteCache(tmp_path / "s.db")
    llm = stack(Cache(store=store), provider=ScriptedProvider())
    llm(ChatRequest("hi", options={"api_key": TEST_OPENAI_KEY},
                    tags={"auth": TEST_OPENAI_KEY}))
    assert TEST_OPENAI_KEY not in (tmp_path / "s.db").read_bytes().decode("latin-1")


def test_store_specs() -> None:
    assert isinstance(Cache(store="sqlite::memory:").backend, SQLiteCache)
    with pytest.raises(ValueError, match="store must be"):
        Cache(store="ftp://nope")
    with pytest.raises(ValueError, match="ttl"):
        Cache(ttl=0)


# -- CLI -----------------------------------------------------------------------------------
def test_cli_cache_stats_and_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from insightforge.cli import cli
    from insightforge.cli._errors import run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("INSIGHTFORGE_CACHE_STORE", raising=False)
    db = tmp_path / "c.db"
    llm = stack(Cache(store=SQLiteCache(db)), provider=ScriptedProvider())
    llm(ChatRequest("a"))
    llm(ChatRequest("b"))
    assert run(cli, ["cache", "stats", "--store", str(db)]) == 0
    assert "entries     2" in capsys.readouterr().out
    assert run(cli, ["cache", "clear", "--store", f"sqlite:{db}", "--yes"]) == 0
    assert "Deleted 2" in capsys.readouterr().out
    assert run(cli, ["cache", "stats"]) == 2
    assert "--store" in capsys.readouterr().err


# -- single flight: flights that never end must not stall later callers -------------------
def test_abandoned_async_stream_without_aclose_frees_its_flight() -> None:
    import gc

    p = ScriptedProvider()
    cache = Cache(wait_timeout=2.0)
    llm = stack(cache, provider=p)

    async def main() -> None:
        s = await llm.acall(ChatRequest("dropped", stream=True))
        await s.__anext__()  # type: ignore[union-attr]
        del s  # dropped without aclose(): no on_close fires
        gc.collect()
        await asyncio.sleep(0)
        t0 = time.monotonic()

        async def later() -> str:  # another task: it would follow a live leader
            again = await llm.acall(ChatRequest("dropped", stream=True))
            return (await again.collect()).text  # type: ignore[union-attr]

        assert await asyncio.create_task(later()) == "Echo: dropped"
        assert time.monotonic() - t0 < 1.0, "a later caller waited for a dead leader"
        assert len(p.calls) == 2

    asyncio.run(asyncio.wait_for(main(), 10))


def test_cancelled_leader_does_not_cancel_its_followers() -> None:
    p = ScriptedProvider(delay=0.3)
    llm = stack(Cache(), provider=p)

    async def main() -> None:
        leader = asyncio.create_task(llm.acall(ChatRequest("c")))
        await asyncio.sleep(0.05)
        follower = asyncio.create_task(llm.acall(ChatRequest("c")))
        await asyncio.sleep(0.05)
        leader.cancel()
        reply = await follower  # the follower was not cancelled: it calls itself
        assert reply.text == "Echo: c"  # type: ignore[union-attr]

    asyncio.run(asyncio.wait_for(main(), 5))


def test_a_failing_store_write_still_ends_the_flight(tmp_path: Path) -> None:
    import sqlite3

    class Broken(MemoryCache):
        def set(self, key: str, entry: Any, ttl: float | None = None) -> None:
            raise sqlite3.OperationalError("database or disk is full")

    p = ScriptedProvider(delay=0.2)
    llm = stack(Cache(store=Broken(), wait_timeout=3.0), provider=p)
    out: list[Any] = []

    def call() -> None:
        try:
            out.append(llm(ChatRequest("w")))
        except Exception as exc:  # recorded for the assertion
            out.append(exc)

    t0 = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join(10)
    assert time.monotonic() - t0 < 2.0, "followers waited for a flight that never ended"
    assert all(getattr(r, "text", None) == "Echo: w" for r in out), out
