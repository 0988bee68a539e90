"""examples/custom_store.py: ``JsonFileLedger``, loaded by path as a user would run it.

It must behave exactly like the built-in ``MemoryLedger`` (a model-based hypothesis test),
keep the never-overspend invariant under threads and processes (and the race test is shown
to catch a ledger whose reserve is not atomic), and fail with clear errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import multiprocessing
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, stack
from insightforge.errors import BudgetExceeded, ConfigError
from insightforge.testing.scripted import ScriptedProvider
from middleware.budget import Budget, Ledger, MemoryLedger
from middleware.budget.policy import to_units

EXAMPLE = Path(__file__).parents[2] / "examples" / "custom_store.py"


def _load() -> Any:
    if "custom_store" in sys.modules:
        return sys.modules["custom_store"]
    spec = importlib.util.spec_from_file_location("custom_store", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_store"] = module
    spec.loader.exec_module(module)
    return module


ex = _load()


def test_demo_keeps_the_budget_under_concurrent_callers(tmp_path: Path) -> None:
    lines: list[str] = []
    facts = ex.main(tmp_path, report=lines.append)
    assert facts["answers"] and facts["refused"]  # the limit is reached, and holds
    assert facts["upstream_calls"] == len(facts["answers"])  # refusals cost no call
    assert facts["spent"] <= Decimal("0.0003")
    assert facts["entry"].spent == to_units(facts["spent"]) and facts["entry"].reserved == 0
    assert len(lines) == 3


def test_it_is_a_ledger_and_budget_takes_it_as_it_is(tmp_path: Path) -> None:
    ledger = ex.JsonFileLedger(tmp_path / "b.json")
    assert isinstance(ledger, Ledger)
    assert Budget(limit_usd=1, store=ledger).ledger is ledger
    assert repr(ledger) == f"JsonFileLedger({str(tmp_path / 'b.json')!r})"


def test_async_calls_go_through_it_too(tmp_path: Path) -> None:
    ledger = ex.JsonFileLedger(tmp_path / "b.json")
    llm = stack(Budget(limit_usd="0.0002", store=ledger), provider=ScriptedProvider())

    async def run() -> list[str]:
        outcomes = []
        for _ in range(30):
            try:
                await llm.acall(ChatRequest("hello there", max_tokens=20))
                outcomes.append("ok")
            except BudgetExceeded:
                outcomes.append("refused")
        return outcomes

    outcomes = asyncio.run(run())
    (entry,) = ledger.entries()
    assert "ok" in outcomes and "refused" in outcomes
    assert entry.spent <= entry.limit == to_units(Decimal("0.0002")) and entry.reserved == 0


# -- the same answers as the built-in MemoryLedger, for any sequence of operations -----------
ops = st.lists(st.one_of(
    st.tuples(st.just("reserve"), st.sampled_from(["a", "b"]), st.integers(0, 50),
              st.integers(1, 30), st.integers(1, 30)),
    st.tuples(st.just("settle"), st.sampled_from(["a", "b", "c"]), st.integers(0, 40),
              st.integers(0, 40))), max_size=25)


@settings(max_examples=60, deadline=None)
@given(script=ops)
def test_behaves_exactly_like_the_memory_ledger(script: list[tuple[Any, ...]]) -> None:
    memory = MemoryLedger()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = ex.JsonFileLedger(Path(tmp) / "ledger.json")
        for op, key, *args in script:
            if op == "reserve":
                limit, want, least = args
                least = min(least, max(want, 1))
                assert ledger.reserve(key, limit, want, least) == \
                    memory.reserve(key, limit, want, least)
            else:
                ledger.settle(key, *args)
                memory.settle(key, *args)
            assert ledger.entries() == memory.entries()


# -- atomicity: the race test, and proof that it catches a non-atomic reserve ---------------
class _Racy(ex.JsonFileLedger):  # type: ignore[misc,name-defined]
    """The example with its lock removed: read-decide-write races between callers."""

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        yield

    def _read(self) -> Any:
        rows = super()._read()
        time.sleep(0.001)  # widen the window between reading and writing
        return rows


class _Slow(ex.JsonFileLedger):  # type: ignore[misc,name-defined]
    """The example with the same widened window, but its lock in place."""

    def _read(self) -> Any:
        rows = super()._read()
        time.sleep(0.001)
        return rows


LIMIT, WANT = 100, 7


def _reserve_all(ledger: Any, times: int = 6) -> int:
    granted = 0
    for _ in range(times):
        granted += ledger.reserve("k", LIMIT, WANT, WANT).granted
    return granted


def _race(ledger: Any, threads: int = 8) -> int:
    totals: list[int] = []
    workers = [threading.Thread(target=lambda: totals.append(_reserve_all(ledger)))
               for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    return sum(totals)


def test_threads_never_reserve_past_the_limit(tmp_path: Path) -> None:
    ledger = _Slow(tmp_path / "ledger.json")
    granted = _race(ledger)
    (entry,) = ledger.entries()
    assert granted == entry.reserved == LIMIT - LIMIT % WANT  # every grant recorded, none extra


def test_the_race_test_catches_a_reserve_that_is_not_atomic(tmp_path: Path) -> None:
    ledger = _Racy(tmp_path / "ledger.json")
    granted = _race(ledger)
    (entry,) = ledger.entries()
    assert granted > LIMIT or entry.reserved != granted  # over-granted, or updates lost


def _process(path: str, out: Any) -> None:
    out.put(_reserve_all(_load().JsonFileLedger(path), times=10))


def test_processes_never_reserve_past_the_limit(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    path = str(tmp_path / "ledger.json")
    procs = [ctx.Process(target=_process, args=(path, out)) for _ in range(3)]
    for p in procs:
        p.start()
    granted = sum(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    (entry,) = ex.JsonFileLedger(path).entries()
    assert granted == entry.reserved == LIMIT - LIMIT % WANT


# -- clear errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"k": [1, 2]}', '{"k": "abc"}'])
def test_a_damaged_file_is_a_config_error_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "ledger.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match="is not a budget ledger") as info:
        ex.JsonFileLedger(path).reserve("k", 10, 1, 1)
    assert str(path) in str(info.value) and "delete it" in str(info.value)


def test_a_lock_held_too_long_is_a_config_error_not_a_hang(tmp_path: Path) -> None:
    ledger = ex.JsonFileLedger(tmp_path / "ledger.json", timeout=0.05)
    with open(tmp_path / "ledger.json.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(ConfigError, match="stayed locked"):
            ledger.settle("k", 0, 1)
        assert time.monotonic() - started < 2
    ledger.settle("k", 0, 1)  # released: works again
    assert ledger.entries()[0].spent == 1
