"""First use under concurrency: fresh processes whose first calls all go out at once.

Each process builds ``stack(Fallback(Ollama), provider=OpenAI)`` and starts 16 threads
(half sync, half async) whose first requests go out together while the primary answers
503, so every call falls back and the Ollama side opens its first client under load — the
moment a lazily imported HTTP stack used to be seen half-initialised by the openai SDK on
another thread (issue 12: ``AttributeError: partially initialized module 'httpx'``).

Run: ``.venv/bin/python bench/first_use.py [--processes 50] [--parallel 2]``. It reports
how many processes saw an untyped exception and exits 1 if any did.
``tests/providers/test_first_use.py`` runs a shorter form in CI.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from insightforge.testing.emulator import Emulator
from insightforge.testing.emulator.faults import Fault

ROOT = Path(__file__).resolve().parents[1]


def one_process(openai_url: str, ollama_url: str, threads: int = 16) -> dict[str, Any]:
    """One fresh interpreter's tally (see ``tests/providers/_first_use_worker.py``)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.providers._first_use_worker", openai_url, ollama_url,
         str(threads)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        return {"ok": 0, "typed": 0, "untyped": threads,
                "examples": [f"exit {done.returncode}: {done.stderr[-500:]}"]}
    tally: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return tally


def first_use(processes: int = 50, parallel: int = 2, threads: int = 16,
              report: Callable[[str], Any] = print) -> dict[str, Any]:
    """Run ``processes`` fresh processes, ``parallel`` at a time; returns the figures."""
    started = time.perf_counter()
    with Emulator(log_limit=100) as emu:
        emu.script(Fault.status(503, api="openai").times(processes * threads * 4))
        with ThreadPoolExecutor(parallel) as pool:
            tallies = list(pool.map(lambda _: one_process(emu.openai_url, emu.ollama_url,
                                                          threads), range(processes)))
    figures: dict[str, Any] = {
        "processes": processes, "threads": threads,
        "calls": sum(t["ok"] + t["typed"] + t["untyped"] for t in tallies),
        "ok": sum(t["ok"] for t in tallies),
        "typed": sum(t["typed"] for t in tallies),
        "untyped": sum(t["untyped"] for t in tallies),
        "processes_with_untyped": sum(1 for t in tallies if t["untyped"]),
        "examples": sorted({e for t in tallies for e in t["examples"]})[:5],
        "seconds": round(time.perf_counter() - started, 1),
    }
    for name, value in figures.items():
        report(f"{name:24} {value}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    figures = first_use(args.processes, args.parallel, args.threads)
    sys.exit(1 if figures["untyped"] else 0)


if __name__ == "__main__":
    main()
