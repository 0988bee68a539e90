"""Adding trace events to whatever a call produced: a response, a stream, or an error.

Events that happened *before* the inner call (a reservation, a retry) go in front of the
answer's own trace; events that happened *after* it (a settlement) go behind. One helper for
all three shapes, so no layer writes its own stream plumbing to put events on a stream's
final response.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import TraceEvent
from insightforge.types.responses import restamp

__all__ = ["add_trace", "with_trace"]

T = TypeVar("T")


def with_trace(result: T, before: Sequence[TraceEvent] = (),
               after: Sequence[TraceEvent] = ()) -> T:
    """``result`` with ``before`` events in front of its trace and ``after`` behind.

    A response gets a new trace; a stream gets it on its final response (and on the error
    if it fails); an exception gets it through ``add_trace``.
    """
    if not before and not after:
        return result
    if isinstance(result, BaseException):
        add_trace(result, before, after)
        return result
    if isinstance(result, (ChatStream, AsyncChatStream)):
        def on_end(response: Any) -> Any:
            return with_trace(response, before, after)

        def on_error(error: BaseException) -> None:
            add_trace(error, before, after)

        return result.wrap(on_end=on_end, on_error=on_error)  # type: ignore[return-value]
    r: Any = result
    return restamp(r, (*before, *r.trace, *after))  # type: ignore[no-any-return]


def add_trace(error: BaseException, before: Sequence[TraceEvent] = (),
              after: Sequence[TraceEvent] = ()) -> None:
    """Put events on an error of ours (other exceptions carry no trace)."""
    adder = getattr(error, "add_trace", None)
    if adder is None:
        return
    if before:
        adder(*before)
    if after:
        adder(*after, before=False)
