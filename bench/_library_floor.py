"""The work the six layers cannot skip, timed alone: bench/layers.py prints it beside them.

Each line is the least one layer's promise costs with the components the project is built
on, with no layer code around it — no flow, no trace event, no response copy:

* **Cache** — a ``cachetools.TTLCache`` lookup and insert in a full cache (an eviction per
  insert, as in a stream of misses), and the key: the canonical request's JSON text and
  its SHA-256;
* **RateLimit** — one pyrate-limiter ``InMemoryBucket`` put;
* **Budget** — the call's cost in ``Decimal`` at a per-token price;
* **AuditLog** — the prompt and the answer through the redactor in one pass, the record
  as JSON, its SHA-256 onto the chain, and an append to a file (one ``write`` per 8
  records, as the writer batches them).

The sum is a floor under the six-layer row of bench/layers.py: whatever the layers add
beyond it is their own code.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
import time
import timeit
from collections.abc import Callable
from decimal import Decimal

import cachetools
from pyrate_limiter import InMemoryBucket, Rate, RateItem

from insightforge.redact import Redactor

PROMPT = "How many layers does onion 12345 have?"
_REQUEST = {"kind": "chat", "max_tokens": 64, "model": "gpt-4o-mini", "messages": [
    {"cache": None, "content": PROMPT, "name": None, "role": "user", "tool_call_id": None,
     "tool_calls": []}]}
_RECORD = {
    "id": "6f1c2a7e-1b2c-4d3e-8f90-123456789abc", "ts": "2026-12-02T19:00:00.000000Z",
    "provider": "scripted", "model": "gpt-4o-mini", "outcome": "ok", "latency_ms": 0.123,
    "prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
    "cost_usd": "0.0000072", "cached": False,
    "messages": [{"role": "user", "content": PROMPT}], "response": f"Echo: {PROMPT}",
    "trace": ["budget.reserved reserved $0.000040 (global, total)",
              "budget.settled settled $0.000007 (response)", "cache.miss stored"],
    "prev": "ab" * 32}


def _cache() -> Callable[[], object]:
    cache: cachetools.TTLCache[str, object] = cachetools.TTLCache(1024, 600)
    keys = (f"if1:{n}" for n in itertools.count())
    encode = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode

    def work() -> object:
        key = hashlib.sha256(("openai:gpt-4o-mini@\0" + encode(_REQUEST)).encode()).hexdigest()
        found = cache.get(key + next(keys))
        cache[key + next(keys)] = ("entry",)
        return found

    for _ in range(1100):  # full: every insert evicts
        work()
    return work


def _ratelimit() -> Callable[[], object]:
    bucket = InMemoryBucket([Rate(10**9, 60_000)])
    return lambda: bucket.put(RateItem("global:requests", int(time.time() * 1000)))


def _budget() -> Callable[[], object]:
    rate_in, rate_out = Decimal("0.15") / 10**6, Decimal("0.6") / 10**6
    return lambda: (rate_in * 12 + rate_out * 64).quantize(Decimal("1e-12"))


def _audit(folder: str) -> Callable[[], object]:
    redactor = Redactor()
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    fd = os.open(os.path.join(folder, "floor.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    pending: list[str] = []

    def work() -> object:
        redactor.texts([PROMPT, f"Echo: {PROMPT}"])
        line = encode(_RECORD)
        digest = hashlib.sha256(line.encode()).hexdigest()
        pending.append(line)
        if len(pending) >= 8:
            os.write(fd, ("\n".join(pending) + "\n").encode())
            pending.clear()
        return digest

    return work


def library_floor(calls: int = 20_000, rounds: int = 5) -> dict[str, float]:
    """Seconds per call of each layer's unskippable work (best of ``rounds``)."""
    with tempfile.TemporaryDirectory() as folder:
        work = {"Cache": _cache(), "RateLimit": _ratelimit(), "Budget": _budget(),
                "AuditLog": _audit(folder)}
        return {name: min(timeit.repeat(fn, number=calls, repeat=rounds)) / calls
                for name, fn in work.items()}
