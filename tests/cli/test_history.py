"""The chat history and ``insightforge logs``: what is kept (redacted), what is not
(``--no-log``), which conversation ``-c``/``--cid`` pick, and that reading creates nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from insightforge.cli._history import Exchange, History, earlier_messages
from tests.cli.conftest import invoke
from tests.cli.test_chat import write_config
from tests.conftest import TEST_OPENAI_KEY


@pytest.fixture
def cfg(clean_env: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEST_OPENAI_KEY", TEST_OPENAI_KEY)
    return write_config(clean_env, emulator)


def history_file(clean_env: Path) -> Path:
    return clean_env / "home" / ".local" / "share" / "insightforge" / "history.db"


def test_logs_before_any_chat_creates_nothing(clean_env: Path) -> None:
    code, out, err = invoke(["logs"])
    assert (code, out) == (0, "") and "No history yet" in err
    assert not history_file(clean_env).parent.exists()
    assert invoke(["logs", "--path"])[1] == f"{history_file(clean_env)}\n"
    code, _, err = invoke(["chat", "-c", "hi"])
    assert code == 2 and "nothing is logged yet" in err and err.count("\n") == 1


# shaped like an Anthropic key (the redactor knows the shape), but not one of the run's test
# keys: the prompt goes through the SDK's debug log, which the leak check watches
PASTED = "sk-ant-api03-PASTEDabcdefghijklmnopqrstuvwxyz0123456789"


def test_exchanges_are_kept_redacted_and_shown(cfg: Path, clean_env: Path) -> None:
    leaked = f"my key is {PASTED}, mail me at ada@example.com"
    assert invoke(["chat", "--tag", "team=search", leaked])[0] == 0
    raw = history_file(clean_env).read_bytes()
    assert PASTED.encode() not in raw and b"ada@example.com" not in raw
    assert stat.S_IMODE(history_file(clean_env).stat().st_mode) == 0o600
    code, out, _ = invoke(["logs", "--json"])
    (row,) = json.loads(out)
    assert code == 0 and "[REDACTED:" in row["prompt"] and PASTED not in out
    assert row["tags"] == {"source": "cli", "team": "search"}
    assert (row["provider"], row["model"]) == ("openai", "gpt-4o-mini")
    assert row["usage"]["input_tokens"] > 0 and row["cost_usd"] is not None
    code, out, _ = invoke(["logs"])
    assert "## Prompt" in out and "## Response" in out and "openai/gpt-4o-mini" in out


def test_no_log_keeps_nothing_and_cid_needs_a_unique_start(cfg: Path, clean_env: Path,
                                                           emulator: Any) -> None:
    assert invoke(["chat", "--no-log", "secret plans"])[0] == 0
    assert not history_file(clean_env).exists()
    for text in ("first", "second"):
        assert invoke(["chat", text])[0] == 0
    rows = json.loads(invoke(["logs", "--json", "-n", "0"])[1])
    assert [r["prompt"] for r in rows] == ["first", "second"]
    code, _, err = invoke(["chat", "--cid", rows[0]["conversation"][:4], "x"])
    assert code == 2 and "matches 2 conversations" in err
    code, _, err = invoke(["chat", "--cid", "nope", "x"])
    assert code == 2 and "no conversation 'nope'" in err
    code, out, _ = invoke(["logs", "--cid", rows[0]["conversation"], "--json"])
    assert [r["prompt"] for r in json.loads(out)] == ["first"]


def test_earlier_exchanges_become_alternating_messages(tmp_path: Path) -> None:
    with History(tmp_path / "h.db") as history:
        for i in range(3):
            history.add(Exchange("c1", "t", "p", "m", None, f"q{i}", f"a{i}"))
        history.add(Exchange("c2", "t", "p", "m", None, "other", "x"))
        assert history.latest() == "c2" and history.find("c") == ["c1", "c2"]
        turns = earlier_messages(history.conversation("c1"))
    assert [(m.role, m.content) for m in turns] == [
        ("user", "q0"), ("assistant", "a0"), ("user", "q1"), ("assistant", "a1"),
        ("user", "q2"), ("assistant", "a2")]
