"""The sixteen-fault matrix at full scale: issue 13's benchmark, timed.

Run: ``.venv/bin/python bench/sixteen_faults.py [--scale 1.0] [--outage 60] [--modes ...]``.

For each of the sixteen faults on the primary (``insightforge.testing.fault_matrix.CASES``:
429 with and without Retry-After, 500 once, 503 persistent, a TCP reset, no response at all,
a first token after 20 s, a stream cut after 40 of 60 tokens, a 30 s stall after 20 tokens,
one malformed event, no ``[DONE]``, a context-length overflow, a content-policy refusal, an
alternate refusing the prefill after a cut, a 60 s outage, fallback accounting) it sends the
request through the Python API (sync, async) and the gateway (the openai SDK as the client),
plain and streamed where the fault applies, and reports whether the caller got the complete
answer from the right route (or ``ContentFiltered``, for the refusal) and how long it took
against the deadline. The outage case reports how long after the recovery the primary served
again. Full scale: the providers' read timeout 10 s, ``first_token_timeout`` and
``stall_timeout`` 3 s, Retry-After 2 s, the caller's deadline 20 s (``Scale``).

Numbers go to docs/performance.md ("Faults").
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from insightforge.errors import ContentFiltered
from insightforge.testing.emulator import Emulator
from insightforge.testing.fault_matrix import (
    ALTERNATE_MODEL,
    CASES,
    PRIMARY_MODEL,
    Case,
    FaultOutcome,
    Rig,
    Scale,
    answer_to,
    outage,
)


def _verdict(case: Case, out: FaultOutcome, scale: Scale) -> str:
    if case.served == "filtered":
        ok = isinstance(out.error, ContentFiltered) or getattr(out.error, "code",
                                                               None) == "content_filter"
        return "ContentFiltered" if ok else f"FAIL {out.error!r:.60}"
    if out.error is not None:
        return f"FAIL {type(out.error).__name__}"
    want = (PRIMARY_MODEL if case.served == "primary" else ALTERNATE_MODEL)
    if out.text != answer_to(case.prompt):
        return "FAIL incomplete"
    if out.model != want:
        return f"FAIL served by {out.model}"
    return "complete" if out.seconds < scale.deadline else "FAIL late"


def _one(rig: Rig, case: Case, mode: str, client: Any) -> list[str]:
    cells = []
    for stream in case.streams:
        rig.ask(mode, "warm up", stream=stream, client=client)  # type: ignore[arg-type]
        rig.reset()
        case.script(rig)
        out = rig.ask(mode, case.prompt, stream=stream, client=client)  # type: ignore[arg-type]
        kind = "stream" if stream else "plain"
        cells.append(f"{kind} {out.seconds:6.2f}s {_verdict(case, out, rig.scale)}")
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every duration (1.0: the benchmark's)")
    parser.add_argument("--outage", type=float, default=60.0, help="outage seconds")
    parser.add_argument("--modes", nargs="+", default=["sync", "async", "gateway"])
    args = parser.parse_args(argv)
    scale = Scale(args.scale, outage=args.outage)
    print(f"scale {scale.factor}: timeout {scale.timeout:g}s, first_token_timeout "
          f"{scale.first_token_limit:g}s, stall_timeout {scale.stall_limit:g}s, deadline "
          f"{scale.deadline:g}s, outage {scale.outage:g}s")
    failures = 0
    with Emulator() as primary, Emulator() as alternate:
        for mode in args.modes:
            rig = Rig(scale, primary, alternate)
            rig.build()
            started = time.monotonic()
            print(f"\n== {mode} ==")
            context = rig.serving() if mode == "gateway" else None
            client = context.__enter__() if context is not None else None
            try:
                for number, case in enumerate(CASES, 1):
                    if case.name.startswith("down"):
                        rig.reset()
                        outcomes, back = outage(rig, mode, client=client)  # type: ignore[arg-type]
                        worst = max(o.seconds for o in outcomes)
                        bad = [o for o in outcomes if o.error is not None
                               or o.text != answer_to(case.prompt)]
                        ok = not bad and back <= scale.recovery and worst < scale.deadline
                        line = (f"{len(outcomes)} requests, slowest {worst:.2f}s, primary "
                                f"back {back:.2f}s after recovery "
                                f"{'complete' if ok else 'FAIL'}")
                    else:
                        cells = _one(rig, case, mode, client)
                        ok = not any("FAIL" in c for c in cells)
                        line = " | ".join(cells)
                    failures += not ok
                    print(f"{number:2}. {case.name:<40} {line}", flush=True)
            finally:
                if context is not None:
                    context.__exit__(None, None, None)
                rig.close()
            print(f"({mode}: {time.monotonic() - started:.1f}s)")
    print(f"\n{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
