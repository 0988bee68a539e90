"""How a prompt is made (PROMPT and stdin joined) and how an answer ends: cut at the length
limit (exit 4), stopped by the content filter (exit 5), a stream failing half way (the error
on a line of its own) — through the real entry logic and the emulator."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge.cli._prompt import compose
from insightforge.testing.emulator import Fault
from tests.cli.conftest import EXE, invoke, subprocess_env
from tests.cli.test_chat import write_config
from tests.conftest import TEST_OPENAI_KEY


@pytest.fixture
def cfg(clean_env: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEST_OPENAI_KEY", TEST_OPENAI_KEY)
    return write_config(clean_env, emulator)


@given(st.text(min_size=1).filter(lambda t: t.strip() and t != "-"),
       st.text(min_size=1).filter(str.strip))
def test_prompt_then_a_blank_line_then_stdin(prompt: str, piped: str) -> None:
    assert compose(prompt, piped) == f"{prompt}\n\n{piped}"
    assert compose(prompt, None) == prompt
    assert compose(None, piped) == compose("-", piped) == piped


def test_an_empty_prompt_is_a_usage_error() -> None:
    for prompt, piped in [(None, None), ("-", None), ("  ", None)]:
        with pytest.raises(click.ClickException, match="the prompt is empty"):
            compose(prompt, piped)


def test_stdin_and_prompt_in_process(cfg: Path, emulator: Any) -> None:
    code, _, _ = invoke(["chat", "summarise"], input="line one\nline two\n")
    assert code == 0
    assert emulator.requests[-1].body["messages"][-1]["content"] == (
        "summarise\n\nline one\nline two")


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_an_answer_cut_at_the_length_limit_exits_4(cfg: Path, emulator: Any,
                                                   stream: str) -> None:
    code, out, err = invoke(["chat", stream, "--max-tokens", "2", "one two three four"])
    assert code == 4 and out == "Echo: one\n"
    assert err.startswith("Error: the answer was cut at the length limit") and \
        err.count("\n") == 1 and "--max-tokens" in err


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_a_filtered_answer_exits_5_and_prints_no_empty_line(cfg: Path, emulator: Any,
                                                            stream: str) -> None:
    emulator.script(Fault.content_filter(), api="openai")
    code, out, err = invoke(["chat", stream, "hi"])
    assert (code, out) == (5, "")
    assert "content filter" in err and err.count("\n") == 1


def test_a_stream_failing_half_way_ends_its_line_first(cfg: Path, emulator: Any) -> None:
    emulator.script(Fault.truncate(after_chunks=2), api="openai")
    proc = subprocess.run([EXE, "chat", "--stream", "one two three four five"],
                          env=subprocess_env(), cwd=cfg.parent, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1
    assert proc.stdout.endswith("\n") and proc.stdout.strip()  # the partial answer, ended
    assert proc.stderr.startswith("Error: ") and proc.stderr.count("\n") == 1


def test_tags_and_options_reach_the_request(cfg: Path, emulator: Any) -> None:
    code, _, err = invoke(["chat", "-o", "seed=42", "-o", "user=ada", "--tag", "team=search",
                           "--json", "hi"])
    assert code == 0, err
    body = emulator.requests[-1].body
    assert body["seed"] == 42 and body["user"] == "ada"
    assert "team" not in str(body)  # tags are never sent upstream
    code, _, err = invoke(["chat", "-o", "seed", "hi"])
    assert code == 2 and "-o 'seed': expected KEY=VALUE" in err
