"""Scripted faults: the `Fault` value type and the queue the server consumes.

What lives here: `Fault` (one misbehaviour, built with a named constructor such as
``Fault.status(429, retry_after=1)``, optionally filtered to one API or a path substring
and repeated with `times`), and `FaultQueue`, the thread-safe FIFO the server takes one
fault from per matching request (a `down` fault answers every matching request until its
time is up, and a `reject_prefill` fault only requests that end with an assistant message).
How a fault is *applied* lives in `server.py`; this file knows nothing of sockets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = ["API_NAMES", "PREFILL_REJECTED", "Fault", "FaultKind", "FaultQueue",
           "ends_with_assistant"]

FaultKind = Literal[
    "status", "delay", "stall", "drop", "truncate", "malformed", "wrong_shape",
    "stream_error", "content_filter", "slow_first_token", "stall_stream", "no_done",
    "reject_prefill", "down",
]
PREFILL_REJECTED = ("This model does not support assistant message prefill. The "
                    "conversation must end with a user message.")
"""What Anthropic answers (400) when a model from Claude 4.6 on is sent a prefill."""
_CONTEXT = ("This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 131072 tokens. Please reduce the length of the messages.")


def ends_with_assistant(body: Any) -> bool:
    """True when a chat body's last message is the assistant's (a prefill)."""
    messages = body.get("messages") if isinstance(body, Mapping) else None
    if not isinstance(messages, list) or not messages:
        return False
    last = messages[-1]
    return isinstance(last, Mapping) and last.get("role") == "assistant"
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
    `Fault.stream_error`, `Fault.content_filter`, `Fault.slow_first_token`,
    `Fault.stall_stream`, `Fault.no_done`, `Fault.reject_prefill`, `Fault.down`,
    `Fault.context_length`, `Fault.content_policy`).

    Attributes:
        kind: which misbehaviour.
        code: the HTTP status (`status`).
        retry_after: seconds for a `retry-after` header (`status`).
        retry_after_ms: milliseconds for a `retry-after-ms` header (`status`).
        body: a body replacing the vendor's error body (`status`; dict/list -> JSON).
        message: the error message (`status`, `stream_error`).
        seconds: how long to wait (`delay`, `slow_first_token`, `stall_stream`) or to stay
            down (`down`).
        after_chunks: content chunks sent before the cut (`truncate`, `stream_error`) or
            the pause (`stall_stream`).
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

    @classmethod
    def slow_first_token(cls, seconds: float, *, api: str | None = None,
                         path: str | None = None) -> Fault:
        """A stream's headers (and opening frames) at once, its first token after `seconds`
        (a plain answer: the whole body after `seconds`)."""
        return cls("slow_first_token", seconds=seconds, api=api, path=path)

    @classmethod
    def stall_stream(cls, after_chunks: int, seconds: float = 30.0, *, api: str | None = None,
                     path: str | None = None) -> Fault:
        """A stream that goes silent for `seconds` after `after_chunks` content chunks, then
        goes on (unless the client has left)."""
        return cls("stall_stream", after_chunks=after_chunks, seconds=seconds, api=api,
                   path=path)

    @classmethod
    def no_done(cls, *, api: str | None = None, path: str | None = None) -> Fault:
        """A complete stream whose end marker (OpenAI's ``[DONE]``) never comes: the
        connection stays open after the last frame until the client leaves."""
        return cls("no_done", api=api, path=path)

    @classmethod
    def reject_prefill(cls, *, api: str | None = None, path: str | None = None) -> Fault:
        """Refuse (400, the vendor's shape) the next request that ends with an assistant
        message — as Claude models from 4.6 on do; other requests pass untouched."""
        return cls("reject_prefill", code=400, message=PREFILL_REJECTED, api=api, path=path)

    @classmethod
    def down(cls, seconds: float, code: int = 503, *, api: str | None = None,
             path: str | None = None) -> Fault:
        """Answer every matching request with HTTP `code` for `seconds` from now (an
        outage), then recover."""
        return cls("down", code=code, seconds=seconds, api=api, path=path)

    @classmethod
    def context_length(cls, *, api: str | None = None, path: str | None = None) -> Fault:
        """400: the prompt exceeds the model's context window (OpenAI's words and code)."""
        return cls.status(400, message=_CONTEXT, api=api, path=path)

    @classmethod
    def content_policy(cls, *, api: str | None = None, path: str | None = None) -> Fault:
        """400 ``content_policy_violation``: the prompt was refused by the safety system (the
        OpenAI body of :func:`~insightforge.testing.emulator.refusal`, on any API)."""
        from .refusals import refusal_body  # refusals builds on Fault

        return cls.status(400, body=refusal_body("openai"), api=api, path=path)

    def times(self, n: int) -> Fault:
        """This fault, applied to the next `n` matching requests."""
        return replace(self, repeat=n)

    def where(self, api: str | None = None, path: str | None = None) -> Fault:
        """This fault, limited to one API and/or a path substring."""
        return replace(self, api=api, path=path)

    def matches(self, api: str, path: str, body: Any = None) -> bool:
        """True when a request to `api` at `path` (with `body`) should receive this fault."""
        if self.api is not None and self.api != api:
            return False
        if self.kind == "reject_prefill" and not ends_with_assistant(body):
            return False
        return self.path is None or self.path in path


class FaultQueue:
    """A thread-safe FIFO of faults; each matching request consumes one application."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[list[Any]] = []  # [fault, remaining applications, until]

    def add(self, fault: Fault, times: int | None = None) -> None:
        """Queue `fault` for `times` matching requests (default: `fault.repeat`); a `down`
        fault instead answers every matching request for its `seconds`."""
        count = fault.repeat if times is None else times
        if count < 1:
            raise ValueError("times must be >= 1")
        until = time.monotonic() + fault.seconds if fault.kind == "down" else None
        with self._lock:
            self._entries.append([fault, count, until])

    def take(self, api: str, path: str, body: Any = None) -> Fault | None:
        """The first queued fault matching this request, consumed once; None if none."""
        if not self._entries:  # fast path: no script, no lock
            return None
        with self._lock:
            now = time.monotonic()
            self._entries = [e for e in self._entries if e[2] is None or now < e[2]]
            for index, entry in enumerate(self._entries):
                fault: Fault = entry[0]
                if not fault.matches(api, path, body):
                    continue
                if entry[2] is None:  # a `down` fault is not used up, it expires
                    entry[1] -= 1
                    if entry[1] == 0:
                        del self._entries[index]
                return fault
        return None

    def pending(self) -> int:
        """How many fault applications are still queued (a `down` fault in force: 1)."""
        now = time.monotonic()
        with self._lock:
            return sum(int(entry[1]) if entry[2] is None else int(now < entry[2])
                       for entry in self._entries)

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._entries.clear()
