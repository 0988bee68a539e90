"""The layer kit: state a stateful layer's per-call logic once, as a sans-I/O flow.

A **flow** is a generator (the idea of httpx's ``Auth.auth_flow``): it yields *effects* and
receives their results — reserve, call, settle; lookup, join, call, put; acquire, call,
correct — and returns the answer. Two generic drivers run it, one sync and one async
(:mod:`.drivers`), so a layer has no driver twins of its own and sync/async parity holds by
construction. A bulkhead, whole::

    @attrs.frozen
    class Bulkhead(FlowLayer):
        max_in_flight: int

        def open(self, inner):                  # per-handler state
            return Counter(self.max_in_flight)

        def flow(self, request, handler):
            if not handler.state.take():
                raise BulkheadFull(...)         # before any network call
            try:
                return (yield Call(request))    # the answer; for a stream, at its end
            finally:
                handler.state.give()            # answer, error, end, failure or abandon

The effects (:mod:`.effects`): :class:`Call` asks the inner handler (its failure is thrown
in; :class:`Abandoned` is thrown in when a stream is closed early); :class:`Blocking` runs a
store call (in a worker thread from async code, when the store blocks); :class:`Sleep` waits;
any object with ``run()``/``arun()`` is an effect too. :func:`with_trace` puts events on a
response, a stream or an error alike.
"""

from insightforge.kit.drivers import Flow, adrive, drive
from insightforge.kit.effects import (
    Abandoned,
    Blocking,
    Call,
    Effect,
    Replay,
    Sleep,
    executor_of,
    one_chunk,
    store_call,
)
from insightforge.kit.layer import FlowHandler, FlowLayer
from insightforge.kit.trace import add_trace, with_trace

__all__ = ["Abandoned", "Blocking", "Call", "Effect", "Flow", "FlowHandler", "FlowLayer",
           "Replay", "Sleep", "add_trace", "adrive", "drive", "executor_of", "one_chunk",
           "store_call", "with_trace"]
