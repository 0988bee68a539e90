"""A lean HTTP/1.x request-head parser, used instead of `http.client.parse_headers`.

What lives here: `read_head`, which turns the request line and the header lines read from
a binary file into a `RequestHead` (method, target, version, lower-cased header dict) or
an `HeadError` with the status to answer. The standard library's parser builds an
`email.message.Message` per request, which is a large share of the emulator's per-call
cost; the emulator needs none of what that buys (folded lines, MIME), so it does without.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["MAX_HEADERS", "MAX_LINE", "HeadError", "RequestHead", "read_head"]

MAX_LINE = 65536
MAX_HEADERS = 100
_END = (b"\r\n", b"\n", b"")


@dataclass(frozen=True, slots=True)
class RequestHead:
    """The head of one request.

    Attributes:
        method: e.g. "POST".
        target: the request target (path and query string).
        version: "HTTP/1.1" or "HTTP/1.0".
        headers: header names lower-cased; a repeated header keeps its last value.
        keep_alive: whether the connection stays open after the response.
    """

    method: str
    target: str
    version: str
    headers: dict[str, str]
    keep_alive: bool


class LineReader(Protocol):
    """What `read_head` reads from: a binary file's `readline`."""

    def readline(self, size: int = -1, /) -> bytes: ...


class HeadError(Exception):
    """A request head the emulator refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _request_line(raw: bytes) -> tuple[str, str, str]:
    parts = raw.decode("iso-8859-1").split()
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise HeadError(400, f"Bad request line {raw[:80]!r}")
    return parts[0], parts[1], parts[2]


def _headers(rfile: LineReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = rfile.readline(MAX_LINE + 1)
        if line in _END:
            return headers
        if len(line) > MAX_LINE:
            raise HeadError(431, "Header line too long")
        name, colon, value = line.decode("iso-8859-1").partition(":")
        if not colon or not name or name != name.strip():
            raise HeadError(400, "Malformed header line")
        headers[name.lower()] = value.strip()
    raise HeadError(431, "Too many headers")


def read_head(request_line: bytes, rfile: LineReader) -> RequestHead:
    """Parse the request line (already read) and the header lines that follow in `rfile`."""
    method, target, version = _request_line(request_line)
    headers = _headers(rfile)
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
    return RequestHead(method, target, version, headers, keep_alive)
