"""A lane: one thread, calls in order, results and failures back to sync and async callers,
nothing queued lost at exit, a fresh thread in a forked child, a closed loop survived."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from insightforge.kit.lane import Lane
from tests.forking import in_child


def test_calls_run_in_order_on_the_lanes_one_thread() -> None:
    lane = Lane("test-lane")
    seen: list[tuple[int, str]] = []

    def note(i: int) -> int:
        seen.append((i, threading.current_thread().name))
        return i * i

    async def many() -> list[int]:
        return list(await asyncio.gather(*(lane.acall(note, i) for i in range(50))))

    assert asyncio.run(many()) == [i * i for i in range(50)]
    assert lane.submit(note, 50).result(timeout=10) == 2500
    assert seen == [(i, "test-lane") for i in range(51)]
    lane.shutdown()


def test_a_failure_reaches_the_caller_and_the_lane_goes_on() -> None:
    lane = Lane("test-lane-fail")

    def boom() -> None:
        raise KeyError("gone")

    async def both() -> int:
        with pytest.raises(KeyError, match="gone"):
            await lane.acall(boom)
        return await lane.acall(lambda: 7)

    assert asyncio.run(both()) == 7
    with pytest.raises(KeyError, match="gone"):
        lane.submit(boom).result(timeout=10)
    assert lane.submit(lambda: 8).result(timeout=10) == 8
    lane.shutdown()


def test_a_loop_that_closed_while_its_call_ran_does_not_stop_the_lane() -> None:
    lane = Lane("test-lane-closed")
    started = threading.Event()

    def slow() -> int:
        started.set()
        time.sleep(0.3)
        return 1

    async def abandon() -> None:
        task = asyncio.ensure_future(lane.acall(slow))
        await asyncio.sleep(0)
        started.wait(5)
        task.cancel()

    asyncio.run(abandon())  # the loop is closed before slow() returns
    assert lane.submit(lambda: "still here").result(timeout=10) == "still here"
    lane.shutdown()


def test_a_shut_lane_refuses_new_calls() -> None:
    lane = Lane("test-lane-shut")
    assert lane.submit(lambda: 1).result(timeout=10) == 1
    lane.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        lane.submit(lambda: 2)


def test_calls_queued_at_exit_still_run(tmp_path: Path) -> None:
    done = tmp_path / "done"
    code = (
        "import time\n"
        "from insightforge.kit.lane import Lane\n"
        "lane = Lane('exit-lane')\n"
        "lane.submit(time.sleep, 0.3)\n"
        f"lane.submit(open(r'{done}', 'w').write, 'ran')\n"
        "print('leaving', flush=True)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert done.read_text() == "ran"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_runs_the_lanes_calls_on_a_thread_of_its_own() -> None:
    lane = Lane("test-lane-fork")
    assert lane.submit(lambda: 1).result(timeout=10) == 1
    assert in_child(lambda: asyncio.run(asyncio.wait_for(lane.acall(lambda: "ok"), 10)) == "ok")
    assert lane.submit(lambda: 2).result(timeout=10) == 2
    lane.shutdown()
