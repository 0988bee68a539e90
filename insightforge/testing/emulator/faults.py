"""Scripted faults: the `Fault` value type and the queue the server consumes.

What lives here: `Fault` (one misbehaviour, built with a named constructor such as
``Fault.status(429, retry_after=1)``, optionally filtered to one API or a path substring
and repeated with `times`), and `FaultQueue`, the thread-safe FIFO the server takes one
fault from per matching request. How a fault is *applied* lives in `server.py`; this file
knows nothing of sockets.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = ["API_NAMES", "Fault", "FaultKind", "FaultQueue"]

FaultKind = Literal[
    "status", "delay", "stall", "drop", "truncate", "malformed", "wrong_shape",
    "stream_error", "content_filter",
]
API_NAMES = frozenset({"openai", "azure", "anthropic", "ollama", "hf"})


def _check_api(api: str | None) -> str | None:
    if api is not None and api not in API_NAMES:
        raise ValueError(f"unknown api {api!r}; expected one of {sorted(API_NAMES)}")
    return api


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted misbehaviour of the emulated vendor.

    Build it with a named constructor (`Fault.status`, `Fault.delay`, `Fault.stall`,
    `Fault.drop`, `Fault.truncate`, `Fault.malformed`, `Fault.wrong_shape`,
    `Fault.stream_error`, `Fault.content_filter`).

    Attributes:
        kind: which misbehaviour.
        code: the HTTP status (`status`).
        retry_after: seconds for a `retry-after` header (`status`).
        retry_after_ms: milliseconds for a `retry-after-ms` header (`status`).
        body: a body replacing the vendor's error body (`status`; dict/list -> JSON).
        message: the error message (`status`, `stream_error`).
        seconds: how long to wait (`delay`).
        after_chunks: content chunks sent before the cut (`truncate`, `stream_error`).
        error_kind: the error type reported mid-stream (`stream_error`).
        api: only requests to this API match (None: any).
        path: only requests whose path contains this substring match (None: any).
        repeat: how many matching requests this fault applies to.
    """

    kind: FaultKind
    code: int = 0
    retry_after: float | None = None
    retry_after_ms: int | None = None
    body: Any = None
    message: str | None = None
    seconds: float = 0.0
    after_chunks: int = 1
    error_kind: str = "overloaded_error"
    api: str | None = None
    path: str | None = None
    repeat: int = 1

    def __post_init__(self) -> None:
        _check_api(self.api)
        if self.repeat < 1:
            raise ValueError("a fault must apply at least once (times >= 1)")
        if self.after_chunks < 0 or self.seconds < 0:
            raise ValueError("after_chunks and seconds must be >= 0")

    @classmethod
    def status(
        cls, code: int, retry_after: float | None = None, retry_after_ms: int | None = None,
        body: Any = None, message: str | None = None, *, api: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Answer with HTTP `code` and the vendor's error body (plus retry headers)."""
        if not 400 <= code <= 599:
            raise ValueError(f"Fault.status needs a 4xx or 5xx code, got {code}")
        return cls("status", code=code, retry_after=retry_after, retry_after_ms=retry_after_ms,
                   body=body, message=message, api=api, path=path)

    @classmethod
    def delay(cls, seconds: float, *, api: str | None = None, path: str | None = None) -> Fault:
        """Wait `seconds`, then answer normally."""
        return cls("delay", seconds=seconds, api=api, path=path)

    @classmethod
    def stall(cls, *, api: str | None = None, path: str | None = None) -> Fault:
        """Read the request, then never answer (until the emulator stops, at most 60 s)."""
        return cls("stall", api=api, path=path)

    @classmethod
    def drop(cls, *, api: str | None = None, path: str | None = None) -> Fault:
        """Close the connection without any response."""
        return cls("drop", api=api, path=path)

    @classmethod
    def truncate(
        cls, after_chunks: int = 1, *, api: str | None = None, path: str | None = None
    ) -> Fault:
        """Cut a stream after `after_chunks` content chunks (a body: short of Content-Length)."""
        return cls("truncate", after_chunks=after_chunks, api=api, path=path)

    @classmethod
    def malformed(cls, *, api: str | None = None, path: str | None = None) -> Fault:
        """Answer 200 with a body (or one stream line) that is not valid JSON."""
        return cls("malformed", api=api, path=path)

    @classmethod
    def wrong_shape(cls, *, api: str | None = None, path: str | None = None) -> Fault:
        """Answer 200 with valid JSON lacking every expected field."""
        return cls("wrong_shape", api=api, path=path)

    @classmethod
    def stream_error(
        cls, after_chunks: int = 1, kind: str = "overloaded_error", message: str | None = None,
        *, api: str | None = None, path: str | None = None,
    ) -> Fault:
        """Report an error of type `kind` in the stream after `after_chunks` chunks."""
        return cls("stream_error", after_chunks=after_chunks, error_kind=kind,
                   message=message, api=api, path=path)

    @classmethod
    def content_filter(cls, *, api: str | None = None, path: str | None = None) -> Fault:
        """Answer normally in shape, but empty and finished by the content filter."""
        return cls("content_filter", api=api, path=path)

    def times(self, n: int) -> Fault:
        """This fault, applied to the next `n` matching requests."""
        return replace(self, repeat=n)

    def where(self, api: str | None = None, path: str | None = None) -> Fault:
        """This fault, limited to one API and/or a path substring."""
        return replace(self, api=api, path=path)

    def matches(self, api: str, path: str) -> bool:
        """True when a request to `api` at `path` should receive this fault."""
        if self.api is not None and self.api != api:
            return False
        return self.path is None or self.path in path


class FaultQueue:
    """A thread-safe FIFO of faults; each matching request consumes one application."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[list[Any]] = []  # [fault, remaining applications]

    def add(self, fault: Fault, times: int | None = None) -> None:
        """Queue `fault` for `times` matching requests (default: `fault.repeat`)."""
        count = fault.repeat if times is None else times
        if count < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._entries.append([fault, count])

    def take(self, api: str, path: str) -> Fault | None:
        """The first queued fault matching this request, consumed once; None if none."""
        if not self._entries:  # fast path: no script, no lock
            return None
        with self._lock:
            for index, entry in enumerate(self._entries):
                fault: Fault = entry[0]
                if fault.matches(api, path):
                    entry[1] -= 1
                    if entry[1] == 0:
                        del self._entries[index]
                    return fault
        return None

    def pending(self) -> int:
        """How many fault applications are still queued."""
        with self._lock:
            return sum(int(entry[1]) for entry in self._entries)

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._entries.clear()
