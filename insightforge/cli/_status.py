"""The live status line: on a terminal, what a call is waiting for, on one line of stderr.

While ``chat`` or ``embed`` runs, the :mod:`insightforge.kit.progress` hook tells this line
when a layer starts to wait or moves on — ``retry: attempt 2 after 1.20s: RateLimitError``,
``fallback: fallback to local after ProviderUnavailable``, ``ratelimit: waiting 3.00s for
...`` — and the line shows it with a countdown, redrawn in place (``\\r`` and erase-line).
It is erased before the answer is printed, so it never mixes with the answer. Nothing is
drawn when stderr is not a terminal (a pipe, a file) or with ``--quiet``.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from insightforge.secrets import scrub
from insightforge.types import TraceEvent

__all__ = ["StatusLine", "live_status", "status_text"]

_ERASE = "\r\x1b[2K"


def status_text(event: TraceEvent, left: float) -> str:
    """The line for ``event`` with ``left`` seconds of waiting to go. Pure."""
    text = f"{event.layer}: {scrub(event.detail)}" if event.detail else \
        f"{event.layer}: {event.event}"
    return f"{text} (waiting {left:.1f}s)" if left > 0.05 else f"{text} ..."


class StatusLine:
    """One line of ``stream`` redrawn in place; a ticker thread counts the wait down."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic,
                 tick: float = 0.1) -> None:
        self.stream = stream
        self.clock = clock
        self.tick = tick
        self._lock = threading.Lock()
        self._event: TraceEvent | None = None
        self._until = 0.0
        self._drawn = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def show(self, event: TraceEvent, wait: float) -> None:
        """The progress listener: show ``event``, counting ``wait`` seconds down."""
        with self._lock:
            self._event, self._until = event, self.clock() + max(0.0, wait)
            self._draw()
        if wait > 0 and self._ticker is None:
            self._ticker = threading.Thread(target=self._run, name="insightforge-status",
                                            daemon=True)
            self._ticker.start()

    def _draw(self) -> None:
        if self._event is None:
            return
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        text = status_text(self._event, self._until - self.clock())[:width]
        self.stream.write(_ERASE + text)
        self.stream.flush()
        self._drawn = True

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                if self._event is not None and self._until > self.clock() - self.tick:
                    self._draw()

    def clear(self) -> None:
        """Erase the line (before the answer is printed, and at the end)."""
        with self._lock:
            self._event = None
            if self._drawn:
                self.stream.write(_ERASE)
                self.stream.flush()
                self._drawn = False

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1)
        self.clear()


@contextlib.contextmanager
def live_status(stream: TextIO, *, enabled: bool) -> Iterator[StatusLine | None]:
    """The status line for the block, listening to the progress hook — or ``None`` when
    ``enabled`` is false or ``stream`` is not a terminal."""
    if not enabled or not stream.isatty():
        yield None
        return
    from insightforge.kit.progress import listening

    line = StatusLine(stream)
    try:
        with listening(line.show):
            yield line
    finally:
        line.close()
