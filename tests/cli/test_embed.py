"""``insightforge embed``: each batch a JSON line as it is answered, a failed batch named with
the ones before it kept, ``--resume`` continuing where an earlier run stopped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge.cli._batches import Done, inputs_hash, plan
from insightforge.testing.emulator import Fault
from tests.cli.conftest import invoke
from tests.cli.test_chat import write_config
from tests.conftest import TEST_OPENAI_KEY


@pytest.fixture
def corpus(clean_env: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEST_OPENAI_KEY", TEST_OPENAI_KEY)
    write_config(clean_env, emulator)
    path = clean_env / "corpus.txt"
    path.write_text("".join(f"text number {i}\n" for i in range(10)))
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_failed_batch_is_named_and_resume_pays_only_for_the_rest(
        corpus: Path, emulator: Any) -> None:
    out = corpus.parent / "vectors.jsonl"
    emulator.script(*[Fault.delay(0)] * 2, Fault.status(400), api="openai",
                    path="/embeddings")  # batches 1 and 2 answer, batch 3 fails
    code, stdout, err = invoke(["embed", "--file", str(corpus), "--batch-size", "3",
                                "--output", str(out)])
    assert (code, stdout) == (1, "")
    assert err.startswith("Error: batch 3 of 4 (inputs 7-9) failed: InvalidRequest")
    assert "batches 1-2 are in" in err and "--resume" in err and err.count("\n") == 1
    assert [b["batch"] for b in lines(out)] == [1, 2]  # paid for, and kept
    paid = emulator.count(api="openai", path="/embeddings")

    code, _, err = invoke(["embed", "--file", str(corpus), "--batch-size", "3",
                           "--output", str(out)])
    assert code == 2 and "exists; add --resume" in err  # never overwritten by accident
    code, _, err = invoke(["embed", "--file", str(corpus), "--batch-size", "3",
                           "--output", str(out), "--resume"])
    assert code == 0, err
    done = lines(out)
    assert [(b["batch"], b["first"], b["count"]) for b in done] == [
        (1, 0, 3), (2, 3, 3), (3, 6, 3), (4, 9, 1)]
    assert emulator.count(api="openai", path="/embeddings") == paid + 2  # only the rest
    texts = corpus.read_text().splitlines()
    assert all(b["sha256"] == inputs_hash(texts[b["first"]:b["first"] + b["count"]])
               for b in done)
    code, _, err = invoke(["embed", "--file", str(corpus), "--output", str(out), "--resume"])
    assert code == 0 and "every batch is in" in err


def test_resume_drops_a_torn_line_and_refuses_other_inputs(corpus: Path) -> None:
    out = corpus.parent / "vectors.jsonl"
    assert invoke(["embed", "--file", str(corpus), "--batch-size", "4",
                   "--output", str(out)])[0] == 0
    whole = out.read_text()
    out.write_text(whole[: whole.index("\n") + 1] + whole[whole.index("\n") + 1:][:50])
    code, _, err = invoke(["embed", "--file", str(corpus), "--batch-size", "4",
                           "--output", str(out), "--resume"])
    assert code == 0, err
    assert [b["batch"] for b in lines(out)] == [1, 2, 3]
    corpus.write_text("something else\n" + corpus.read_text())
    code, _, err = invoke(["embed", "--file", str(corpus), "--output", str(out), "--resume"])
    assert code == 2 and "line 1 does not match the inputs" in err
    code, _, err = invoke(["embed", "--resume", "x"])
    assert code == 2 and "--resume continues an --output FILE" in err


@given(st.integers(0, 50), st.integers(1, 8), st.integers(0, 50))
def test_plan_covers_every_input_once(total: int, size: int, done: int) -> None:
    done = min(done, total)
    batches = plan(total, size, Done(batches=done // size, inputs=done))
    covered = [i for _, first, count in batches for i in range(first, first + count)]
    assert covered == list(range(done, total))
    assert all(1 <= count <= size for _, _, count in batches)
    assert [n for n, _, _ in batches] == list(range(done // size + 1,
                                                    done // size + 1 + len(batches)))
