"""The sixteen-fault matrix: sixteen ways a primary fails, one healthy alternate, and what
the caller must get — the complete answer, within the deadline, through the Python API (sync
and async) and through the gateway (the real openai SDK as the client).

``tests/test_sixteen_faults.py`` runs it at CI scale (:data:`CI`: every duration a tenth,
the outage two seconds); ``bench/sixteen_faults.py`` at full scale (:data:`FULL`: a first
token after 20 s, a 30 s stall, a 60 s outage) and reports the times. Everything is real:
two emulators on loopback (primary: OpenAI wire through the openai SDK; alternate: the
Anthropic wire through httpx), the real providers, layers and gateway.

The stack is the one docs/middleware/fallback.md recommends::

    stack(Budget(...), Fallback(stack(Retry(...), provider=claude)), Retry(...),
          provider=openai)     # each provider with first_token_timeout and stall_timeout

What must not live here: assertions about the layers' internals (the test module states
those); this module scripts faults, sends requests and reports what came back.
"""

from __future__ import annotations

from insightforge.testing.fault_matrix.cases import CASES, Case, Served, outage
from insightforge.testing.fault_matrix.rig import (
    ALTERNATE_MODEL,
    CI,
    FULL,
    GATEWAY_KEY,
    PRIMARY_MODEL,
    FaultOutcome,
    Mode,
    Rig,
    Scale,
    answer_to,
    long_prompt,
)

__all__ = ["ALTERNATE_MODEL", "CASES", "CI", "FULL", "GATEWAY_KEY", "PRIMARY_MODEL", "Case",
           "Mode", "FaultOutcome", "Rig", "Scale", "Served", "answer_to", "long_prompt", "outage"]
