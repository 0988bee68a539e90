"""Audit record ids: random version-4 UUIDs cut from a pooled ``os.urandom`` read — valid,
unique across pool refills and threads, and never repeated by a forked child."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from typing import Any

from middleware.audit.layer import _RandomIds, _uuid4


def _valid(text: str) -> bool:
    parsed = uuid.UUID(text)
    return parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_ids_are_version_4_and_unique_across_refills() -> None:
    ids = _RandomIds()
    many = [ids() for _ in range(3 * _RandomIds.POOL // 16 + 7)]  # three refills and more
    assert all(_valid(i) for i in many)
    assert len(set(many)) == len(many)


def test_ids_taken_by_threads_at_once_are_unique() -> None:
    ids = _RandomIds()
    found: list[list[str]] = [[] for _ in range(4)]

    def take(out: list[str]) -> None:
        out.extend(ids() for _ in range(2000))

    threads = [threading.Thread(target=take, args=(out,)) for out in found]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in found for i in out]
    assert len(set(every)) == len(every) == 8000


def _child_ids(conn: Any) -> None:
    conn.send([_uuid4() for _ in range(8)])
    conn.close()


def test_a_forked_child_never_repeats_its_parents_ids() -> None:
    _uuid4()  # the pool is read and partly used: a child that kept it would repeat it
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    child = ctx.Process(target=_child_ids, args=(child_end,))
    child.start()
    theirs = parent_end.recv()
    child.join(timeout=30)
    ours = [_uuid4() for _ in range(8)]
    assert all(_valid(i) for i in theirs)
    assert not set(theirs) & set(ours)
