"""``embed``'s output: one JSON line per finished batch, written as it goes, and resuming.

Each line is one batch: ``{"batch": 3, "first": 128, "count": 64, "sha256": ..., "model",
"provider", "vectors", "usage", "cost_usd", "trace"}`` — ``first`` is the index of its first
input, ``sha256`` the hash of its inputs. A batch is written (and flushed) the moment it is
answered, so a failure later never loses what was paid for. ``--resume`` reads the lines an
earlier run wrote to ``--output``, checks each against the inputs (same texts, in order),
drops a last line a crash cut short, and continues after them. Pure, apart from
:func:`read_done` and :func:`trim` (file reads and one truncate).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from insightforge.errors import ConfigError

__all__ = ["Done", "batch_line", "inputs_hash", "plan", "read_done"]


def inputs_hash(texts: Sequence[str]) -> str:
    """The hash a batch line keeps of its inputs (so a resume checks they are the same)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(len(text.encode()).to_bytes(8, "big"))
        digest.update(text.encode())
    return digest.hexdigest()


@attrs.frozen
class Done:
    """What an earlier run wrote. Attributes: batches: complete lines; inputs: how many
    inputs they cover; keep: the byte length of the file up to the last complete line."""

    batches: int = 0
    inputs: int = 0
    keep: int = 0


def read_done(path: Path, items: Sequence[str]) -> Done:
    """Check the lines of ``path`` against ``items``; a ``ConfigError`` (a usage error)
    when a line was written for other inputs."""
    data = path.read_bytes()
    done = Done()
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        end = offset + len(raw) + 1
        if end > len(data):  # no newline after it: cut short by a crash, or the empty tail
            break
        try:
            line = json.loads(raw)
            first, count = int(line["first"]), int(line["count"])
            ok = (line["batch"] == done.batches + 1 and first == done.inputs and count > 0
                  and line["sha256"] == inputs_hash(items[first:first + count]))
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise ConfigError(f"{path} line {number} does not match the inputs (changed, "
                              "reordered, or another file's output); remove it or write to "
                              "another --output", path="--output")
        done = Done(done.batches + 1, first + count, end)
        offset = end
    return done


def plan(total: int, size: int, done: Done) -> list[tuple[int, int, int]]:
    """``(batch number, first, count)`` for every batch still to embed. Pure."""
    out = []
    number, first = done.batches, done.inputs
    while first < total:
        count = min(size, total - first)
        number += 1
        out.append((number, first, count))
        first += count
    return out


def batch_line(number: int, first: int, texts: Sequence[str], response: Any) -> str:
    """The JSON line for one answered batch."""
    from insightforge.serialize import to_dict

    cost: Decimal | None = response.cost_usd
    return json.dumps({
        "batch": number, "first": first, "count": len(texts), "sha256": inputs_hash(texts),
        "model": response.model, "provider": response.provider,
        "vectors": [list(v) for v in response.vectors],
        "usage": {"input_tokens": response.usage.input_tokens,
                  "output_tokens": response.usage.output_tokens},
        "cost_usd": None if cost is None else format(cost, "f"),
        "trace": [to_dict(event) for event in response.trace]}, default=str)
