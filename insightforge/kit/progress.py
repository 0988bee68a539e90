"""Progress while a call waits: one process-wide hook, silent until someone listens.

The layers put what they did on the final answer as :class:`~insightforge.types.TraceEvent`s;
a person at a terminal wants to know *while* it happens that a call is waiting. So the
places where a call waits or moves on report the event as it starts:

* the kit's repeat loop (:mod:`.repeat`) — ``Retry`` before it sleeps for the next attempt,
  ``Fallback`` as it moves to the next branch — reports the event the layer just recorded
  (``retry.attempt``, ``fallback.fallback``) with the seconds it is about to wait;
* the :class:`~insightforge.kit.effects.Sleep` effect — ``RateLimit`` waiting for room, or
  any flow that sleeps — reports its ``note`` (or a plain ``kit.sleep``) with its seconds.

:func:`listening` installs one listener for the process (``insightforge chat`` draws a
status line on stderr from it) and restores the previous one after. With no listener,
:func:`active` is one global read and nothing else happens: no event is built, no call
made. A listener that raises is ignored — reporting never changes a call's outcome.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from insightforge.types import TraceEvent

__all__ = ["Listener", "active", "listening", "report"]

Listener = Callable[[TraceEvent, float], None]
"""Called with the event and the seconds the call is about to wait (0: moving on now)."""

_listener: Listener | None = None


def active() -> bool:
    """Whether a listener is installed (report only then: building an event costs)."""
    return _listener is not None


def report(event: TraceEvent, wait: float = 0.0) -> None:
    """Tell the listener, if any, that a call starts to wait ``wait`` seconds (or moves on)
    for the reason ``event`` gives."""
    listener = _listener
    if listener is None:
        return
    with contextlib.suppress(Exception):
        listener(event, wait)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Install ``listener`` for the whole process while the block runs."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous
