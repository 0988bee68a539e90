"""The gateway end to end: the real openai SDK -> gateway -> stack -> provider -> emulator.

Every test crosses two real loopback sockets: the client's to the gateway, and the
provider's (openai SDK or httpx) to the emulator. A probe layer at the top of the stack
records what the stack received (tags), injects our own refusals, and watches streams end
or be abandoned.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import openai
import pytest

from insightforge import AsyncChatStream, ChatStream, Chunk, stack
from insightforge.errors import BudgetExceeded, RateLimited
from insightforge.gateway import GatewayServer, start
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
from insightforge.testing import ScriptedProvider
from insightforge.testing.emulator import Emulator, Fault
from providers import Ollama, OpenAI
from tests.conftest import TEST_OPENAI_KEY

GW_KEY = "gw-test-key-0123456789abcdef"


@attrs.define
class Probe:
    """A layer that records requests, raises scripted errors, and watches streams."""

    seen: list[Request] = attrs.Factory(list)
    fail: list[BaseException] = attrs.Factory(list)
    closed: threading.Event = attrs.Factory(threading.Event)
    ended: threading.Event = attrs.Factory(threading.Event)

    def __call__(self, inner: Handler) -> Handler:
        return _ProbeHandler(self, inner)


class _ProbeHandler(Middleware):
    layer: Probe

    def __call__(self, request: Request, /) -> Response:
        self.layer.seen.append(request)
        if self.layer.fail:
            raise self.layer.fail.pop(0)
        result = self.inner(request)
        if isinstance(result, ChatStream):
            return result.wrap(on_close=self.layer.closed.set,
                               on_end=lambda _: self.layer.ended.set())
        return result

    async def acall(self, request: Request, /) -> AsyncResponse:
        self.layer.seen.append(request)
        if self.layer.fail:
            raise self.layer.fail.pop(0)
        result = await self.inner.acall(request)
        if isinstance(result, AsyncChatStream):
            return result.wrap(on_close=self.layer.closed.set,
                               on_end=lambda _: self.layer.ended.set())
        return result


def _openai(emu: Emulator, **kw: Any) -> OpenAI:
    return OpenAI("gpt-4o-mini", base_url=emu.openai_url, api_key=TEST_OPENAI_KEY,
                  **{"timeout": 5, **kw})


PROVIDERS: dict[str, Callable[[Emulator], Any]] = {
    "openai": _openai,
    "ollama": lambda emu: Ollama("llama3.1", base_url=emu.ollama_url, timeout=5),
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest, emulator: Emulator) -> Any:
    return PROVIDERS[request.param](emulator)


@pytest.fixture
def probe() -> Probe:
    return Probe()


def _serve(probe: Probe, provider: Any) -> Iterator[GatewayServer]:
    with stack(probe, provider=provider) as llm, start(llm, api_keys=[GW_KEY]) as server:
        yield server


@pytest.fixture
def server(probe: Probe, provider: Any) -> Iterator[GatewayServer]:
    yield from _serve(probe, provider)


@pytest.fixture
def oa_server(probe: Probe, emulator: Emulator) -> Iterator[GatewayServer]:
    """The gateway in front of the OpenAI provider with a short timeout (fault tests)."""
    yield from _serve(probe, _openai(emulator, timeout=0.5))


def _client(server: GatewayServer, key: str = GW_KEY, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key=key, max_retries=retries, timeout=10)


def _ask(**kw: Any) -> dict[str, Any]:
    return {"model": "default", "messages": [{"role": "user", "content": "hello gateway"}],
            **kw}


# -- answers ------------------------------------------------------------------------------


def test_chat_stream_and_embeddings_through_the_sdk(server: GatewayServer,
                                                    emulator: Emulator) -> None:
    client = _client(server)
    reply = client.chat.completions.create(**_ask())
    assert reply.choices[0].message.content == "Echo: hello gateway"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    assert reply.usage.prompt_tokens == 2 + 3  # words + 3 per message (emulator rule)

    with client.chat.completions.create(**_ask(stream=True,
                                               stream_options={"include_usage": True})) as s:
        chunks = list(s)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage == reply.usage
    assert sum(1 for c in chunks if c.choices and c.choices[0].finish_reason) == 1

    vectors = client.embeddings.create(model="default", input=["first text", "second"])
    floats = client.embeddings.create(model="default", input=["first text", "second"],
                                      encoding_format="float")
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) > 1
    for packed, plain in zip(vectors.data, floats.data, strict=True):
        assert packed.embedding == pytest.approx(plain.embedding, rel=1e-6)
    assert emulator.count() == 4


def test_stream_without_usage_has_no_usage_chunk(server: GatewayServer) -> None:
    with _client(server).chat.completions.create(**_ask(stream=True)) as s:
        chunks = list(s)
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)


def test_models_list_the_stack_routes_and_a_listed_model_means_the_default(
        server: GatewayServer, probe: Probe, provider: Any) -> None:
    client = _client(server)
    ids = [m.id for m in client.models.list()]
    assert ids == ["default", provider.model]
    assert client.models.retrieve(provider.model).owned_by == provider.name
    client.chat.completions.create(**_ask(model=provider.model))
    client.chat.completions.create(**_ask(model="some-other-model"))
    assert [r.model for r in probe.seen] == [None, "some-other-model"]


def test_tags_reach_the_stack_and_never_go_upstream(server: GatewayServer, probe: Probe,
                                                    emulator: Emulator) -> None:
    _client(server).chat.completions.create(
        **_ask(metadata={"feature": "search", "tenant": "from-body"}, user="u-7"),
        extra_headers={"X-InsightForge-Tag-Tenant": "acme"})
    tags = dict(probe.seen[-1].tags)
    assert tags.pop("request_id")  # the gateway's request id, also in X-Request-Id
    assert tags == {"tenant": "acme", "feature": "search", "user": "u-7"}
    upstream = json.dumps(emulator.requests[-1].body)
    assert "acme" not in upstream and "search" not in upstream and "u-7" not in upstream


def test_keep_alive_serves_several_requests_on_one_connection(server: GatewayServer) -> None:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), port, timeout=10)
    headers = {"Authorization": f"Bearer {GW_KEY}", "Content-Type": "application/json"}
    for body in (_ask(stream=True), _ask(), _ask(stream=True)):
        conn.request("POST", "/v1/chat/completions", json.dumps(body), headers)
        response = conn.getresponse()
        data = response.read()
        assert response.status == 200, data
        assert b"Echo: " in data or b"Echo:" in data
    sock = conn.sock
    conn.request("GET", "/healthz")
    assert conn.getresponse().read() and conn.sock is sock  # same socket all along
    conn.close()


# -- refusals and errors -------------------------------------------------------------------


def test_a_gateway_key_is_required(server: GatewayServer, probe: Probe) -> None:
    for key in ("wrong-key", GW_KEY[:-1]):
        with pytest.raises(openai.AuthenticationError) as info:
            _client(server, key).chat.completions.create(**_ask())
        assert info.value.status_code == 401 and GW_KEY not in str(info.value.body)
    response = httpx.post(server.url + "/chat/completions", json=_ask(), timeout=5)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"]
    assert httpx.get(server.base_url + "/healthz", timeout=5).json()["status"] == "ok"
    assert probe.seen == []


def test_upstream_auth_failure_is_a_502_not_the_clients_401(oa_server: GatewayServer,
                                                             emulator: Emulator) -> None:
    emulator.script(Fault.status(401), api="openai")
    with pytest.raises(openai.InternalServerError) as info:
        _client(oa_server).chat.completions.create(**_ask())
    assert info.value.status_code == 502
    assert info.value.body["code"] == "upstream_authentication_failed"  # type: ignore[index]
    assert TEST_OPENAI_KEY not in info.value.response.text


@pytest.mark.parametrize(("fault", "status", "stream"), [
    (Fault.status(503), 502, False),
    (Fault.status(503), 502, True),  # before the first chunk: still a real status
    (Fault.stall(), 504, False),
    (Fault.malformed(), 502, False),
])
def test_upstream_faults_become_gateway_statuses(oa_server: GatewayServer, emulator: Emulator,
                                                 fault: Fault, status: int,
                                                 stream: bool) -> None:
    emulator.script(fault, api="openai")
    with pytest.raises(openai.APIStatusError) as info:
        result = _client(oa_server).chat.completions.create(**_ask(stream=stream))
        list(result)
    assert info.value.status_code == status


def test_a_failure_mid_stream_is_an_sse_error_event(oa_server: GatewayServer,
                                                    emulator: Emulator, probe: Probe) -> None:
    emulator.script(Fault.stream_error(1), api="openai")
    got: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in _client(oa_server).chat.completions.create(**_ask(stream=True)):
            got.append(chunk.choices[0].delta.content or "")
    assert got  # the first chunk arrived before the error
    assert info.value.body["type"] == "upstream_error"  # type: ignore[index]
    assert not probe.ended.is_set()


def test_budget_refusal_is_insufficient_quota_and_the_sdk_does_not_retry(
        oa_server: GatewayServer, probe: Probe, emulator: Emulator) -> None:
    probe.fail.append(BudgetExceeded(scope="tenant=acme", limit=Decimal(1), spent=Decimal(1)))
    with pytest.raises(openai.RateLimitError) as info:
        _client(oa_server, retries=2).chat.completions.create(**_ask())
    assert info.value.status_code == 429
    assert info.value.body["type"] == "insufficient_quota"  # type: ignore[index]
    assert len(probe.seen) == 1 and emulator.count() == 0


def test_local_rate_limit_is_429_with_retry_after(oa_server: GatewayServer,
                                                  probe: Probe) -> None:
    probe.fail.append(RateLimited("tenant=acme", wait=2.2, max_wait=0.5))
    response = httpx.post(oa_server.url + "/chat/completions", json=_ask(), timeout=5,
                          headers={"Authorization": f"Bearer {GW_KEY}"})
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/v1/chat/completions", b"{not json", 400),
    ("POST", "/v1/chat/completions", b'{"messages": []}', 400),
    ("POST", "/v1/embeddings", b'{"input": [[1, 2]]}', 400),
    ("GET", "/v1/chat/completions", b"", 405),
    ("GET", "/v1/nothing", b"", 404),
    ("GET", "/v1/models/unknown-model", b"", 404),
])
def test_bad_requests_get_openai_error_bodies(oa_server: GatewayServer, method: str,
                                              path: str, body: bytes, status: int) -> None:
    response = httpx.request(method, oa_server.base_url + path, content=body, timeout=5,
                             headers={"Authorization": f"Bearer {GW_KEY}"})
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_an_oversized_body_is_refused_before_it_is_read(oa_server: GatewayServer) -> None:
    host, port = oa_server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), port, timeout=5)
    conn.putrequest("POST", "/v1/chat/completions")
    conn.putheader("Content-Length", str(10**9))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()


# -- abandonment ---------------------------------------------------------------------------


def test_client_disconnect_mid_stream_closes_the_upstream_stream() -> None:
    upstream_closed, produced = threading.Event(), []

    def slow(request: Request) -> ChatStream:
        def chunks() -> Iterator[Chunk]:
            for i in range(500):
                produced.append(i)
                yield Chunk(f"w{i} ")
                time.sleep(0.01)

        return ChatStream.from_chunks(chunks(), model="slow-1", provider="slow",
                                      close=upstream_closed.set)

    probe = Probe()
    with start(stack(probe, provider=slow)) as server:
        stream = _client(server).chat.completions.create(**_ask(stream=True))
        first = next(iter(stream))
        assert first.choices[0].delta.content == "w0 "
        stream.close()  # the client hangs up after one chunk
        assert probe.closed.wait(5), "the stack never saw the stream abandoned"
        assert upstream_closed.wait(5), "the provider's stream was not closed"
    assert not probe.ended.is_set() and len(produced) < 500


# -- the command ---------------------------------------------------------------------------


@contextlib.contextmanager
def _cli(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `insightforge serve ... --port 0`; yield its URL; stop it with Ctrl-C (SIGINT)."""
    proc = subprocess.Popen([sys.executable, "-c", "from insightforge.cli import main; main()",
                             "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the first line names the URL
        match = re.search(r"http://\S+/v1", line)
        assert match, f"no URL in {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        yield match.group(0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_serve_emulator_command_answers_openai_clients() -> None:
    with _cli("--emulator", "--quiet", env={"INSIGHTFORGE_GATEWAY_KEYS": "k-one k-two"}) as url:
        client = openai.OpenAI(base_url=url, api_key="k-two", max_retries=0, timeout=10)
        assert client.chat.completions.create(**_ask()).choices[0].message.content == (
            "Echo: hello gateway")
        assert [m.id for m in client.models.list()] == ["default", "gpt-4o-mini", "llama3.1"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url, api_key="k-three", max_retries=0,
                          timeout=10).models.list()


def test_serve_command_loads_the_config_file(tmp_path: Path, emulator: Emulator) -> None:
    config = tmp_path / "insightforge.yaml"
    config.write_text(f"providers:\n  local:\n    type: ollama\n    model: llama3.1\n"
                      f"    base_url: {emulator.ollama_url}\n    timeout: 5\n")
    with _cli("--quiet", env={"INSIGHTFORGE_CONFIG": str(config)}) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=10)
        reply = client.chat.completions.create(**_ask())
        assert reply.choices[0].message.content == "Echo: hello gateway"
    assert emulator.count(api="ollama") == 1


def test_replies_are_not_delayed_by_nagle() -> None:
    """Headers and body are separate writes: without TCP_NODELAY each reply waits ~40 ms."""
    with start(stack(provider=ScriptedProvider())) as server:
        host, port = server.server_address[:2]
        conn = http.client.HTTPConnection(str(host), port, timeout=10)
        began = time.perf_counter()
        for _ in range(20):
            conn.request("POST", "/v1/chat/completions", json.dumps(_ask()))
            assert conn.getresponse().read()
        elapsed = time.perf_counter() - began
        conn.close()
    assert elapsed < 0.5, f"20 keep-alive requests took {elapsed:.2f}s"
