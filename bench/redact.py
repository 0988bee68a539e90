"""Benchmark: Redactor throughput (MB/s) and the cost of one audit record per request.

Run: ``.venv/bin/python bench/redact.py [--mb 20]``. Prints:

* redactor MB/s on realistic prompt text: mostly clean prose with numbers, code, and JSON,
  with an occasional email, phone, card or API key (about 1 prompt in 20), redacted one
  prompt (1-4 KB) at a time, as the audit layer does;
* the same on clean text only, and on a text-dense-with-secrets worst case;
* audit record write cost per request through a ``stack(AuditLog(...), provider=...)``
  with a file sink, ``fsync="never"`` vs ``"always"`` (and the redactor on/off).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from insightforge import ChatRequest, stack
from insightforge.redact import Redactor
from insightforge.testing.scripted import ScriptedProvider
from middleware.audit import AuditLog, FileSink

PROSE = (  # noqa: SIM905 - readable as prose
    "Please summarise the attached quarterly report for the board. Revenue grew 12% to "
    "$4.2M in Q3 2024, while churn fell from 3.1% to 2.4%. The team shipped version 2.7.1 "
    "on 2024-09-15 and closed 148 tickets. Highlight the three key risks, keep it under 200 "
    "words, and use a neutral tone. Here is the function that fails: def total(xs): return "
    "sum(x.price for x in xs) # TypeError at line 42. Translate into French: 'The meeting is "
    "moved to Tuesday at 10:30.' Context: the customer asked about order 7731 and the "
    "refund policy (30 days). Return JSON like {\"answer\": \"...\", \"confidence\": 0.8}."
).split(" ")
SECRETS = [
    "contact me at alice.smith@example.com", "call +44 20 7946 0958",
    "card 4111 1111 1111 1111", "key sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "IBAN GB82 WEST 1234 5698 7654 32", "Authorization: Bearer abcdef123456.xyz",
]


def prompts(total_bytes: int, secret_rate: float, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out, size = [], 0
    while size < total_bytes:
        words = [rng.choice(PROSE) for _ in range(rng.randint(150, 650))]
        if rng.random() < secret_rate:
            words.insert(rng.randrange(len(words)), rng.choice(SECRETS))
        text = " ".join(words)
        out.append(text)
        size += len(text.encode())
    return out


def throughput(redactor: Redactor, texts: list[str], repeat: int = 5) -> str:
    """Best-of-``repeat`` MB/s, by CPU time (stable on a busy machine) and by wall time."""
    size = sum(len(t.encode()) for t in texts)
    cpu = wall = float("inf")
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        for text in texts:
            redactor.text(text)
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return f"{size / cpu / 1e6:6.1f} MB/s CPU, {size / wall / 1e6:6.1f} MB/s wall"


def write_cost(fsync: str, n: int, redact: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sink = FileSink(Path(tmp) / "audit.jsonl", fsync=fsync)
        llm = stack(AuditLog(sink, redact=redact), provider=ScriptedProvider())
        bare = ScriptedProvider()
        req = ChatRequest("Summarise the report in three bullet points.", tags={"t": "acme"})
        samples, base = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            llm(req)
            t1 = time.perf_counter()
            bare(req)
            t2 = time.perf_counter()
            samples.append(t1 - t0)
            base.append(t2 - t1)
        sink.close()
    extra = [(a - b) * 1e6 for a, b in zip(samples, base, strict=True)]
    return statistics.median(extra), sorted(extra)[int(len(extra) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="MB of prompt text per run")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    r = Redactor()
    size = int(args.mb * 1e6)
    print(f"redactor, realistic prompts (1 in 20 with a secret): "
          f"{throughput(r, prompts(size, 0.05))}")
    print(f"redactor, clean prompts:                              "
          f"{throughput(r, prompts(size, 0.0))}")
    print(f"redactor, every prompt has a secret:                  "
          f"{throughput(r, prompts(size // 4, 1.0))}")
    for fsync in ("never", "always"):
        n = args.requests if fsync == "never" else max(200, args.requests // 10)
        for redact in (True, False):
            med, p99 = write_cost(fsync, n, redact)
            print(f"audit record, fsync={fsync:6} redact={redact!s:5}: median {med:7.1f} µs, "
                  f"p99 {p99:7.1f} µs per request (n={n})")


if __name__ == "__main__":
    main()
