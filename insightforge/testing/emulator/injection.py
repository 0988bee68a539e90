"""How each fault kind changes a response: pure functions, no sockets.

What lives here: the error `Body` a `status` fault answers with (vendor shape plus
`retry-after` / `retry-after-ms`), the body a `malformed` / `wrong_shape` / `stream_error`
fault puts in place of a complete response, the bytes a `truncate` fault sends of one, and
the frames a stream is cut or corrupted to. Faults that act on the connection itself
(`drop`, `stall`, `delay`, the abrupt close after `truncate`) are the server's job.
"""

from __future__ import annotations

from . import routes
from .faults import Fault
from .wire_common import Body, Stream, dumps

__all__ = ["Pause", "faulty_body", "status_body", "stream_frames", "truncated_body"]

_STREAM_MESSAGES = {"overloaded_error": "Overloaded", "rate_limit_error": "Rate limited"}
_STREAM_STATUS = {"overloaded_error": 503, "rate_limit_error": 429}
MALFORMED = b'{"id": "x", "choi'
WRONG_SHAPE = b'{"unexpected": true}'


class Pause:
    """A silence in a stream: the server sends nothing for ``seconds`` (and stops early when
    the client leaves or the emulator stops)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Pause({self.seconds})"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def status_body(api: str, fault: Fault) -> Body:
    """The response of a `status` fault: the vendor's error body (or `fault.body`)."""
    headers: list[tuple[str, str]] = []
    if fault.retry_after is not None:
        headers.append(("retry-after", _seconds(fault.retry_after)))
    if fault.retry_after_ms is not None:
        headers.append(("retry-after-ms", str(int(fault.retry_after_ms))))
    payload = fault.body
    if payload is None:
        payload = routes.error(api, fault.code, fault.message).payload
    elif isinstance(payload, str):
        payload = payload.encode("utf-8")
    elif not isinstance(payload, bytes):
        payload = dumps(payload)
    return Body(fault.code, payload, headers=tuple(headers))


def _stream_message(fault: Fault) -> str:
    return fault.message or _STREAM_MESSAGES.get(fault.error_kind, "Internal server error")


def faulty_body(api: str, body: Body, fault: Fault | None) -> Body:
    """`body` as `fault` leaves it (a `stream_error` on a non-stream call: an error status)."""
    kind = fault.kind if fault is not None else None
    if kind == "malformed":
        return Body(200, MALFORMED)
    if kind == "wrong_shape":
        return Body(200, WRONG_SHAPE)
    if fault is not None and kind == "stream_error":
        code = _STREAM_STATUS.get(fault.error_kind, 500)
        if code == 503 and api == "anthropic":
            code = 529
        return routes.error(api, code, _stream_message(fault))
    return body


def truncated_body(body: Body) -> tuple[int, bytes]:
    """(the Content-Length to announce, the bytes actually sent) for a `truncate` fault."""
    return len(body.payload) + 16, body.payload[: len(body.payload) // 2]


def stream_frames(stream: Stream, fault: Fault | None,
                  hold: float = 60.0) -> tuple[tuple[bytes | Pause, ...], bool]:
    """The frames to send for `stream` under `fault`, and whether the body ends cleanly.

    truncate: the head and `after_chunks` content frames, then an abrupt close.
    stream_error: the same, then the vendor's error frame, then a clean end.
    malformed: a non-JSON frame right after the head, then the rest as usual.
    wrong_shape: one valid-JSON frame with none of the expected fields, then a clean end.
    slow_first_token: the head, a :class:`Pause` of `seconds`, then the rest.
    stall_stream: the head and `after_chunks` content frames, a pause, then the rest.
    no_done: everything but the end marker, then the connection held open (`hold` s).
    """
    kind = fault.kind if fault is not None else None
    whole = stream.head + stream.content + stream.tail
    if fault is not None and kind == "slow_first_token":
        return (*stream.head, Pause(fault.seconds), *stream.content, *stream.tail), True
    if fault is not None and kind == "stall_stream":
        at = len(stream.head) + fault.after_chunks
        return (*whole[:at], Pause(fault.seconds), *whole[at:]), True
    if kind == "no_done":
        end = stream.faults.end
        frames = whole[:-len(end)] if end and whole[-len(end):] == end else whole
        return (*frames, Pause(hold)), False
    if fault is None or kind not in ("truncate", "stream_error", "malformed", "wrong_shape"):
        return whole, True
    cut = stream.head + stream.content[: fault.after_chunks]
    if kind == "truncate":
        return cut, False
    if kind == "stream_error":
        return (*cut, stream.faults.error(fault.error_kind, _stream_message(fault))), True
    if kind == "malformed":
        return (*stream.head, stream.faults.malformed, *stream.content, *stream.tail), True
    return (stream.faults.wrong_shape, *stream.faults.end), True
