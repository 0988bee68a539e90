"""A lane: one thread that runs blocking calls in order, with a light hop back to asyncio.

A store whose calls must not block the event loop and must not run side by side (one SQLite
file: its calls take the file's lock in turn anyway) gives them one thread. ``run_in_executor``
on a one-thread ``ThreadPoolExecutor`` pays for two chained futures per call — a
``concurrent.futures.Future`` (with its condition variable and lock), a wrapping asyncio
future, a done-callback each way; :meth:`Lane.acall` pays for one asyncio future and one
``call_soon_threadsafe``. :meth:`Lane.submit` is the ``Executor`` interface, for sync callers.

Calls queued when the interpreter exits still run (the lane drains at exit, as
``ThreadPoolExecutor`` does): a settlement queued by the last request is not lost.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

__all__ = ["Lane"]

P = ParamSpec("P")
T = TypeVar("T")
_lanes: weakref.WeakSet[Lane] = weakref.WeakSet()


class Lane(Executor):
    """One daemon thread, named ``name``, started on the first call; calls run in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        _lanes.add(self)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        self._put((fn, args, kwargs, None, future))
        return future

    async def acall(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on the lane's thread, awaited on the running loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put((fn, args, kwargs, loop, future))
        return await future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Run what is queued, then stop the thread (joined when ``wait``)."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)  # after every call queued before it
        if thread is not None and wait and thread is not threading.current_thread():
            thread.join()

    def _put(self, job: tuple[Any, ...]) -> None:
        with self._lock:  # so no call lands behind the stop of a shutdown
            if self._closed:
                raise RuntimeError(f"the lane {self.name!r} is shut down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name,
                                                daemon=True)
                self._thread.start()
            self._queue.put(job)

    def _serve(self) -> None:
        while (job := self._queue.get()) is not None:
            fn, args, kwargs, loop, future = job
            if loop is None:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args, **kwargs))
                    except BaseException as exc:  # the caller's to see
                        future.set_exception(exc)
                continue
            try:
                result, error = fn(*args, **kwargs), None
            except BaseException as exc:  # the awaiting caller's to see
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _forget_threads() -> None:
    """In a forked child (which has no threads): every lane starts afresh on its next call;
    what the parent had queued is the parent's to run."""
    for lane in list(_lanes):
        lane._queue = queue.SimpleQueue()
        lane._lock = threading.Lock()
        lane._thread = None


os.register_at_fork(after_in_child=_forget_threads)


@atexit.register
def _drain() -> None:
    """At exit every lane runs what is queued (daemon threads would be cut off)."""
    for lane in list(_lanes):
        lane.shutdown(wait=True)
