"""Single flight: identical concurrent requests share one upstream call.

The first caller of a key becomes the **leader** and makes the call; callers arriving while
it runs are **followers** and wait for its outcome: an entry to replay, the error to raise,
or ``None`` (the leader's stream failed or was abandoned, the leader was interrupted or
cancelled, or the wait timed out) — then a follower makes its own call. A timed-out
follower retires the flight, so a leader that never finishes cannot stall later callers.
Threads use :class:`SingleFlight` (an event per key); tasks use :class:`AsyncSingleFlight`
(a future per key and event loop). A follower never waits for a leader running in its own
thread or task (that leader cannot progress while it waits — e.g. one thread opening two
identical streams).

What must not live here: keys, stores, responses.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, Generic, TypeVar

__all__ = ["AsyncSingleFlight", "Flight", "SingleFlight"]

T = TypeVar("T")


def _shared(error: BaseException | None) -> BaseException | None:
    """The error followers re-raise: a failure of the call, never the leader's own
    interruption (``CancelledError``, ``KeyboardInterrupt``) — followers then call
    themselves instead of being cancelled with it."""
    return error if isinstance(error, Exception) else None


def _own_copy(error: BaseException) -> BaseException:
    """A follower's own copy of the leader's error, so a layer that adds trace events to
    it (``error.add_trace``) never writes into another caller's error. The copy is made
    without calling ``__init__`` (ours take keyword-only fields); if a type refuses, the
    shared error is raised as it is."""
    try:
        twin = type(error).__new__(type(error))
        twin.__dict__.update(error.__dict__)
        twin.args = error.args
    except Exception:
        return error
    twin.__cause__, twin.__suppress_context__ = error.__cause__, True
    return twin


class Flight(Generic[T]):
    """One in-flight call: its owner and, once done, its outcome."""

    __slots__ = ("done", "error", "owner", "result")

    def __init__(self, owner: object) -> None:
        self.owner = owner
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    """Per-key flights for threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Flight[T]] = {}

    def join(self, key: str) -> tuple[Flight[T], bool]:
        """The flight for ``key`` and whether the caller leads it."""
        me = threading.get_ident()
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = Flight(me)
                return flight, True
        return flight, False

    def mine(self, flight: Flight[T]) -> bool:
        return flight.owner == threading.get_ident()

    def finish(self, key: str, flight: Flight[T], result: T | None = None,
               error: BaseException | None = None) -> None:
        """End ``flight`` (exactly once) and wake its followers."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        if not flight.done.is_set():
            flight.result, flight.error = result, _shared(error)
            flight.done.set()

    def wait(self, key: str, flight: Flight[T], timeout: float) -> T | None:
        """The leader's result; raises its error; ``None`` when there is nothing to share.

        A follower that times out retires the flight, so callers after it lead a new one
        instead of each waiting for a leader that may never finish.
        """
        if not flight.done.wait(timeout):
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            return None
        if flight.error is not None:
            raise _own_copy(flight.error)
        return flight.result

    def __len__(self) -> int:
        return len(self._flights)


class AsyncSingleFlight(Generic[T]):
    """Per-key flights for asyncio tasks (one table per event loop)."""

    def __init__(self) -> None:
        self._flights: dict[tuple[int, str], tuple[asyncio.Future[T | None], Any]] = {}

    def join(self, key: str) -> tuple[asyncio.Future[T | None], bool, bool]:
        """The future for ``key``, whether the caller leads, whether the leader is this task."""
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        found = self._flights.get(slot)
        task = asyncio.current_task()
        if found is None:
            future: asyncio.Future[T | None] = loop.create_future()
            self._flights[slot] = (future, task)
            return future, True, True
        return found[0], False, found[1] is task

    def finish(self, key: str, future: asyncio.Future[T | None], result: T | None = None,
               error: BaseException | None = None) -> None:
        """End the flight (exactly once) and wake its followers; call on its loop."""
        self._retire(id(future.get_loop()), key, future)
        error = _shared(error)
        if not future.done():
            if error is not None:
                future.set_exception(error)
                future.exception()  # mark retrieved: no "never retrieved" warning
            else:
                future.set_result(result)

    def _retire(self, loop_id: int, key: str, future: asyncio.Future[T | None]) -> None:
        slot = (loop_id, key)
        if self._flights.get(slot, (None,))[0] is future:
            del self._flights[slot]

    def abandon(self, key: str, future: asyncio.Future[T | None]) -> None:
        """End the flight with nothing to share, from any thread (a garbage finalizer)."""
        loop = future.get_loop()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(self.finish, key, future)

    async def wait(self, key: str, future: asyncio.Future[T | None],
                   timeout: float) -> T | None:
        """The leader's result (or its error); ``None`` on timeout, which also retires
        the flight so later callers lead a new one."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            self._retire(id(future.get_loop()), key, future)
            return None
        except Exception as error:  # the leader's failure: each follower raises its own
            raise _own_copy(error) from None

    def __len__(self) -> int:
        return len(self._flights)
