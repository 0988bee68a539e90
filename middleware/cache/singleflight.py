"""Single flight: identical concurrent requests share one upstream call — among threads,
among tasks, and between the two (a thread and a task asking the same thing fly once).

The first caller of a key becomes the **leader** and makes the call; callers arriving while
it runs are **followers** and wait for its outcome: an entry to replay, the error to raise,
or ``None`` (the leader's stream failed or was abandoned, the leader was interrupted or
cancelled, or the wait timed out) — then a follower makes its own call. A timed-out follower
retires the flight, so a leader that never finishes cannot stall later callers. A follower
never waits for a leader that cannot progress while it waits: a thread never waits for a
leader in its own thread, a task never for itself.

Waiting is an effect (:meth:`Flights.wait`): a thread blocks on an event, a task awaits a
future that the leader resolves from whatever thread it finishes on. What must not live
here: keys, stores, responses.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Generic, TypeVar

__all__ = ["Flight", "Flights"]

T = TypeVar("T")


def _shared(error: BaseException | None) -> BaseException | None:
    """The error followers re-raise: a failure of the call, never the leader's own
    interruption (``CancelledError``, ``KeyboardInterrupt``, an abandoned stream) — followers
    then call themselves instead of being cancelled with it."""
    return error if isinstance(error, Exception) else None


def own_copy(error: BaseException) -> BaseException:
    """A follower's own copy of the leader's error, so a layer that adds trace events to it
    never writes into another caller's error. Made without ``__init__`` (ours take
    keyword-only fields); if a type refuses, the shared error is raised as it is."""
    try:
        twin = type(error).__new__(type(error))
        twin.__dict__.update(error.__dict__)
        twin.args = error.args
    except Exception:
        return error
    twin.__cause__, twin.__suppress_context__ = error.__cause__, True
    return twin


class Flight(Generic[T]):
    """One in-flight call: who leads it and, once done, its outcome. The event threads wait
    on is made by the first thread that follows, the list of waiting tasks by the first task
    (most flights have no follower)."""

    __slots__ = ("_event", "error", "finished", "result", "task", "thread", "waiters")

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        loop = asyncio._get_running_loop()  # the task, asked without raising outside a loop
        self.task = None if loop is None else asyncio.current_task(loop)
        self.finished = False
        self._event: threading.Event | None = None
        self.result: T | None = None
        self.error: BaseException | None = None
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] | None = None


class Flights(Generic[T]):
    """Per-key flights, shared by every thread and task using one cache handler."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Flight[T]] = {}

    def join(self, key: str) -> tuple[Flight[T], bool]:
        """The flight for ``key`` and whether the caller leads it."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = Flight()
                return flight, True
            return flight, False

    def finish(self, key: str, flight: Flight[T], result: T | None = None,
               error: BaseException | None = None) -> None:
        """End ``flight`` (the first call wins) and wake its followers, from any thread."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
            if flight.finished:
                return
            flight.result, flight.error = result, None if error is None else _shared(error)
            flight.finished = True
            if flight._event is not None:
                flight._event.set()
            waiters, flight.waiters = flight.waiters, None
        for loop, future in waiters or ():
            with contextlib.suppress(RuntimeError):  # that loop closed: nobody waits there
                loop.call_soon_threadsafe(_wake, future)

    def _event(self, flight: Flight[T]) -> threading.Event:
        """The event a following thread waits on (made on first use, set if done)."""
        with self._lock:
            if flight._event is None:
                flight._event = threading.Event()
                if flight.finished:
                    flight._event.set()
            return flight._event

    def _retire(self, key: str, flight: Flight[T]) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]

    def wait(self, key: str, flight: Flight[T], timeout: float) -> _Wait[T]:
        """The effect of following ``flight``: its entry, its error raised, or ``None``."""
        return _Wait(self, key, flight, timeout)

    def _outcome(self, flight: Flight[T]) -> T | None:
        if flight.error is not None:
            raise own_copy(flight.error)
        return flight.result

    def __len__(self) -> int:
        return len(self._flights)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Wait(Generic[T]):
    """Following a flight, as an effect: ``run`` blocks the thread, ``arun`` the task."""

    __slots__ = ("flight", "flights", "key", "timeout")

    def __init__(self, flights: Flights[T], key: str, flight: Flight[T], timeout: float) -> None:
        self.flights = flights
        self.key = key
        self.flight = flight
        self.timeout = timeout

    def run(self) -> T | None:
        flight = self.flight
        if flight.thread == threading.get_ident() and not flight.finished:
            return None  # its leader is this very thread: it cannot finish while we wait
        if not self.flights._event(flight).wait(self.timeout):
            self.flights._retire(self.key, flight)
            return None
        return self.flights._outcome(flight)

    async def arun(self) -> T | None:
        flight = self.flight
        mine = (flight.task is asyncio.current_task() if flight.task is not None
                else flight.thread == threading.get_ident())  # a sync call on this loop's thread
        if mine and not flight.finished:
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self.flights._lock:
            if not flight.finished:
                if flight.waiters is None:
                    flight.waiters = []
                flight.waiters.append((loop, future))
            else:
                future.set_result(None)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            self.flights._retire(self.key, flight)
            return None
        return self.flights._outcome(flight)
