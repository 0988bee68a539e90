"""The sixteen faults of the matrix, in the benchmark's order: what each scripts on the rig's
emulators and who must answer; :func:`outage` drives the one that lasts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import attrs

from insightforge.testing.emulator import Fault
from insightforge.testing.fault_matrix.rig import FaultOutcome, Mode, Rig, long_prompt

__all__ = ["CASES", "Case", "Served", "outage"]


Served = Literal["primary", "alternate", "filtered"]


@attrs.frozen
class Case:
    """One fault on the primary and who must answer.

    Attributes:
        name: the fault, as the benchmark names it.
        script: queues the fault on the rig's emulators before one request.
        served: ``primary`` (it recovers), ``alternate``, or ``filtered``
            (``ContentFiltered``, without a retry).
        streams: the request kinds the fault applies to (stream faults: streams only).
        prompt: what is asked (a 60-token answer by default).
    """

    name: str
    script: Callable[[Rig], None]
    served: Served
    streams: tuple[bool, ...] = (False, True)
    prompt: str = attrs.field(factory=long_prompt)


def _on_primary(*faults: Fault) -> Callable[[Rig], None]:
    def script(rig: Rig) -> None:
        rig.primary.script(*faults)
    return script


def _reject_prefill_after_cut(rig: Rig) -> None:
    rig.primary.script(Fault.truncate(40).times(3))    # every try on the primary is cut
    rig.alternate.script(Fault.reject_prefill())        # the alternate refuses the prefill


def _slow(rig: Rig) -> None:
    rig.primary.script(Fault.slow_first_token(rig.scale.slow_first_token))


def _stalled(rig: Rig) -> None:
    rig.primary.script(Fault.stall_stream(20, rig.scale.stall))


def _throttled(rig: Rig) -> None:
    rig.primary.script(Fault.status(429, retry_after=rig.scale.retry_after))


CASES: tuple[Case, ...] = (
    Case("429 with Retry-After", _throttled, "primary"),
    Case("429 without Retry-After, persistent", _on_primary(Fault.status(429).times(3)),
         "alternate"),
    Case("500 once", _on_primary(Fault.status(500)), "primary"),
    Case("503 persistent", _on_primary(Fault.status(503).times(3)), "alternate"),
    Case("TCP reset before headers", _on_primary(Fault.drop()), "primary"),
    Case("no response at all", _on_primary(Fault.stall().times(3)), "alternate"),
    Case("first token after 20 s", _slow, "alternate", streams=(True,)),
    Case("stream cut after 40 of 60 tokens", _on_primary(Fault.truncate(40)), "primary",
         streams=(True,)),
    Case("stream stalled 30 s after 20 tokens", _stalled, "alternate", streams=(True,)),
    Case("one malformed event", _on_primary(Fault.malformed()), "primary", streams=(True,)),
    Case("no [DONE]", _on_primary(Fault.no_done()), "primary", streams=(True,)),
    Case("context length exceeded", _on_primary(Fault.context_length()), "alternate"),
    Case("content policy violation", _on_primary(Fault.content_policy()), "filtered"),
    Case("alternate rejects prefill after a cut", _reject_prefill_after_cut, "alternate",
         streams=(True,)),
    Case("down for a while, then recovers", _on_primary(), "alternate"),  # see outage()
    Case("fallback accounting", _on_primary(Fault.status(503).times(3)), "alternate"),
)
"""The matrix, in the benchmark's order. The outage case is driven by :func:`outage`."""


def outage(rig: Rig, mode: Mode, *, client: Any = None,
           stream: bool = False) -> tuple[list[FaultOutcome], float]:
    """The primary down for ``scale.outage`` seconds (HTTP 503), asked every tenth of it
    until it serves again: every answer during the outage, and seconds from the end of the
    outage to the first answer the primary gave (``inf`` when it never did)."""
    rig.primary.script(Fault.down(rig.scale.outage))
    ends = time.monotonic() + rig.scale.outage
    outcomes: list[FaultOutcome] = []
    give_up = ends + rig.scale.recovery + rig.scale.deadline
    while time.monotonic() < give_up:
        got = rig.ask(mode, long_prompt(), stream=stream, client=client)
        outcomes.append(got)
        if got.provider == "openai" and time.monotonic() >= ends:
            return outcomes, time.monotonic() - ends
        time.sleep(rig.scale.outage / 10)
    return outcomes, float("inf")
