"""The HTTP layer over raw sockets and curl: smuggling refused, bounds, headers, shutdown.

Every case talks to a real uvicorn server on loopback. A smuggled request would show as a
second response on the socket; each case asserts exactly one (a 400) and a closed socket.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from insightforge import ChatStream, Chunk, stack
from insightforge.gateway import start
from insightforge.gateway.server import GatewayServer
from insightforge.stack import Request
from insightforge.testing import ScriptedProvider

SMUGGLED = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def server() -> Iterator[GatewayServer]:
    with stack(provider=ScriptedProvider()) as llm, start(llm) as running:
        yield running


def exchange(server: GatewayServer, raw: bytes, wait: float = 5.0) -> bytes:
    """Send ``raw``; everything the server sends back until it closes (or ``wait``)."""
    with socket.create_connection(server.server_address, timeout=wait) as sock:
        sock.sendall(raw)
        out = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                return out
            out += data
        raise AssertionError(f"the server kept the connection open; got {out[:300]!r}")


def _chat_body() -> bytes:
    return json.dumps({"model": "default",
                       "messages": [{"role": "user", "content": "hi"}]}).encode()


@pytest.mark.parametrize("head", [
    # a GET carrying a body that is itself a request
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED),
    # duplicate Content-Length with different values (the first would hide the rest)
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
    b"Content-Length: 0\r\n\r\n" % len(SMUGGLED),
    # a sign or an underscore, which int() accepts
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: +%d\r\n\r\n"
    % len(SMUGGLED),
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1_0\r\n\r\n",
    # both framings at once
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n",
], ids=["get-with-body", "duplicate-length", "plus-sign", "underscore", "length-and-chunked"])
def test_smuggling_attempts_get_one_400_and_a_closed_connection(server: GatewayServer,
                                                               head: bytes) -> None:
    reply = exchange(server, head + SMUGGLED)
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
    assert reply.count(b"HTTP/1.1 ") == 1, reply  # the smuggled GET was never answered
    assert b'"object":"list"' not in reply


def test_keep_alive_still_serves_honest_pipelined_requests(server: GatewayServer) -> None:
    body = _chat_body()
    one = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
           b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    reply = exchange(server, one + one + b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
    assert reply.count(b"HTTP/1.1 200 OK") == 3


def test_deep_json_is_a_quick_400(server: GatewayServer) -> None:
    for depth in (100_000, 65):
        nested = b"[" * depth + b"]" * depth
        began = time.perf_counter()
        reply = httpx.post(server.url + "/chat/completions", content=nested, timeout=10)
        assert reply.status_code == 400, reply.text
        assert "nested deeper" in reply.json()["error"]["message"]
        assert time.perf_counter() - began < 5
    shallow = json.dumps({"model": "default", "messages": [{"role": "user", "content": "x"}],
                          "tools": [{"type": "function", "function": {
                              "name": "f", "parameters": {"type": "object", "properties": {
                                  "a": {"type": "array", "items": {"type": "string"}}}}}}]})
    assert httpx.post(server.url + "/chat/completions", content=shallow,
                      timeout=10).status_code == 200


def test_bodies_and_heads_are_bounded(server: GatewayServer) -> None:
    huge = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
    assert exchange(server, huge).startswith(b"HTTP/1.1 413 ")
    # no Content-Length: counted while read; 16 MiB and a bit, then we wait for the answer
    chunked_too_big = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n"
                       + (b"100000\r\n" + b"x" * 0x100000 + b"\r\n") * 16
                       + b"400\r\n" + b"x" * 0x400 + b"\r\n")
    assert b" 413 " in exchange(server, chunked_too_big).split(b"\r\n")[0]
    big_header = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    assert exchange(server, big_header).startswith(b"HTTP/1.1 431 ")
    many = b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
    assert exchange(server, many + b"\r\n").startswith(b"HTTP/1.1 431 ")


def test_no_version_banner_request_ids_and_overhead(server: GatewayServer) -> None:
    reply = httpx.get(server.base_url + "/healthz", headers={"X-Request-Id": "trace-42"})
    assert "server" not in reply.headers
    assert reply.headers["x-request-id"] == "trace-42"
    made = httpx.post(server.url + "/chat/completions", content=_chat_body(),
                      headers={"X-Request-Id": "bad id with spaces"})
    assert len(made.headers["x-request-id"]) == 32 and " " not in made.headers["x-request-id"]
    assert float(made.headers["x-insightforge-overhead-ms"]) >= 0


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed "
                    "(scripts/setup installs it)")
def test_curl_json_and_stream(server: GatewayServer) -> None:
    base = ["curl", "-sS", "--max-time", "10", "-H", "Content-Type: application/json"]
    out = subprocess.run([*base, "-d", _chat_body().decode(), server.url + "/chat/completions"],
                         capture_output=True, text=True, check=True, timeout=20).stdout
    assert json.loads(out)["choices"][0]["message"]["content"]
    body = json.dumps({"model": "default", "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]})
    out = subprocess.run([*base, "-N", "-d", body, server.url + "/chat/completions"],
                         capture_output=True, text=True, check=True, timeout=20).stdout
    events = [line for line in out.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]" and len(events) > 2
    head = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", server.base_url
                           + "/healthz"], capture_output=True, text=True, check=True,
                          timeout=20).stdout
    assert "server:" not in head.lower() and "x-request-id:" in head.lower()


def test_shutdown_lets_a_stream_in_flight_finish_then_closes_providers() -> None:
    ended, closed = threading.Event(), threading.Event()

    def slow(request: Request) -> ChatStream:
        def chunks() -> Iterator[Chunk]:
            for i in range(20):
                yield Chunk(f"w{i} ")
                time.sleep(0.02)
            ended.set()

        return ChatStream.from_chunks(chunks(), model="slow-1", provider="slow")

    class Owned:
        def __call__(self, request: Request) -> ChatStream:
            return slow(request)

    from insightforge.gateway.core import Gateway
    from insightforge.gateway.models import ModelTable

    llm = stack(provider=slow)
    table = ModelTable.single(llm)
    table._closers = (type("P", (), {"close": lambda self: closed.set()})(),)
    server = start(Gateway(table))
    got: list[str] = []
    streaming = threading.Event()

    def client() -> None:
        with httpx.stream("POST", server.url + "/chat/completions", timeout=10, json={
                "model": "default", "stream": True,
                "messages": [{"role": "user", "content": "x"}]}) as reply:
            for line in reply.iter_lines():
                got.append(line)
                streaming.set()

    reader = threading.Thread(target=client)
    reader.start()
    assert streaming.wait(10)
    server.stop()  # graceful: waits for the stream in flight
    reader.join(10)
    assert ended.is_set()
    assert [line for line in got if line][-1] == "data: [DONE]"
    assert len([line for line in got if line.startswith("data: {")]) == 20  # every chunk
    assert closed.is_set()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/healthz", timeout=2)
