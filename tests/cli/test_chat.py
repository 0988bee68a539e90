"""``insightforge chat`` and ``embed`` against the emulator, through the real entry logic."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from insightforge.testing.emulator import Fault
from tests.cli.conftest import EXE, invoke, subprocess_env
from tests.conftest import TEST_OPENAI_KEY


def write_config(tmp: Path, emu: Any, stack: str = "[]") -> Path:
    path = tmp / "insightforge.yaml"
    path.write_text(
        "providers:\n"
        f"  main: {{type: openai, model: gpt-4o-mini, base_url: '{emu.openai_url}',"
        " api_key: '${TEST_OPENAI_KEY}'}\n"
        f"  local: {{type: ollama, model: llama3.1, base_url: '{emu.ollama_url}'}}\n"
        "provider: main\n"
        f"stack: {stack}\n")
    return path


@pytest.fixture
def cfg(clean_env: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEST_OPENAI_KEY", TEST_OPENAI_KEY)
    return write_config(clean_env, emulator)


def test_chat_prompt_argument(cfg: Path, emulator: Any) -> None:
    code, out, err = invoke(["--config", str(cfg), "chat", "hello world"])
    assert (code, out, err) == (0, "Echo: hello world\n", "")
    assert emulator.count(api="openai") == 1


def test_chat_reads_stdin_and_system(cfg: Path, emulator: Any) -> None:
    code, out, _ = invoke(["chat", "-s", "be brief"], input="from stdin\n")
    assert (code, out) == (0, "Echo: from stdin\n")  # ./insightforge.yaml found in cwd
    messages = emulator.requests[-1].body["messages"]
    assert messages[0] == {"role": "system", "content": "be brief"}


def test_chat_json_model_and_provider(cfg: Path, emulator: Any) -> None:
    code, out, _ = invoke(["chat", "--json", "-m", "gpt-4o", "hi"])
    data = json.loads(out)
    assert code == 0 and data["message"]["content"] == "Echo: hi" and data["model"] == "gpt-4o"
    code, out, _ = invoke(["chat", "-p", "local", "hi"])
    assert (code, out) == (0, "Echo: hi\n")
    assert emulator.requests[-1].api == "ollama"


def test_chat_stream(cfg: Path, emulator: Any) -> None:
    code, out, _ = invoke(["chat", "--stream", "one two three"])
    assert (code, out) == (0, "Echo: one two three\n")
    assert emulator.requests[-1].body["stream"] is True


def test_no_cache_leaves_the_cache_out(clean_env: Path, emulator: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", TEST_OPENAI_KEY)
    db = clean_env / "cache.db"
    write_config(clean_env, emulator, f"[{{cache: {{ttl: 60, store: 'sqlite:///{db}'}}}}]")
    for _ in range(2):
        assert invoke(["chat", "--no-stream", "same"])[0] == 0
    assert emulator.count(api="openai") == 1  # the second answer came from the cache
    assert invoke(["chat", "--no-cache", "--no-stream", "same"])[0] == 0
    assert emulator.count(api="openai") == 2


def test_provider_failure_is_one_line_exit_1(cfg: Path, emulator: Any) -> None:
    emulator.script(Fault.status(500), api="openai")
    code, out, err = invoke(["chat", "hi"])
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert TEST_OPENAI_KEY not in err


def test_bad_config_exit_2_and_unknown_provider(cfg: Path) -> None:
    code, _, err = invoke(["chat", "-p", "nope", "hi"])
    assert code == 2 and "no provider named 'nope'" in err


def test_missing_key_exit_3(clean_env: Path, emulator: Any,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTFORGE_NO_KEYRING", "1")
    (clean_env / "insightforge.yaml").write_text(
        f"providers: {{m: {{type: openai, model: gpt-4o, base_url: '{emulator.openai_url}'}}}}\n")
    code, _, err = invoke(["chat", "hi"])
    assert code == 3 and "OPENAI_API_KEY" in err and "keys set" in err


def test_no_config_uses_openai_when_the_key_is_set(clean_env: Path, emulator: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_url)
    assert invoke(["chat", "hi"])[:2] == (0, "Echo: hi\n")


def test_no_config_falls_back_to_ollama(clean_env: Path, emulator: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", emulator.ollama_url)
    assert invoke(["chat", "hi"])[:2] == (0, "Echo: hi\n")
    assert emulator.requests[-1].api == "ollama"


def test_no_config_nothing_answers_one_line(clean_env: Path) -> None:
    env = subprocess_env({"OLLAMA_HOST": "http://127.0.0.1:9"})
    proc = subprocess.run([EXE, "chat", "hi"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=clean_env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "insightforge config init" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_embed_texts_and_file_with_batches(cfg: Path, emulator: Any, tmp_path: Path) -> None:
    # one JSON line per batch since issue 15 (each written as it is answered)
    code, out, _ = invoke(["embed", "first text", "second"])
    (data,) = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(data["vectors"]) == 2 and data["provider"] == "openai"
    lines = tmp_path / "corpus.txt"
    lines.write_text("".join(f"line {i}\n" for i in range(120)))
    code, out, _ = invoke(["embed", "--file", str(lines), "--batch-size", "50"])
    batches = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [len(b["vectors"]) for b in batches] == [50, 50, 20]
    assert [(b["batch"], b["first"], b["count"]) for b in batches] == [
        (1, 0, 50), (2, 50, 50), (3, 100, 20)]
    assert emulator.count(api="openai") == 4  # 1 + three batches
    assert all(b["usage"]["input_tokens"] > 0 for b in batches)


def test_console_script_chat(cfg: Path) -> None:
    proc = subprocess.run([EXE, "--config", str(cfg), "chat", "from a subprocess"],
                          env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "Echo: from a subprocess\n"), proc.stderr


# --- --trace, --usage, -v: extras on stderr only ------------------------------------------

def retry_config(tmp: Path, emu: Any) -> Path:
    return write_config(tmp, emu, "[{retry: {attempts: 2, max_retry_after: 1}}]")


def test_trace_and_usage_go_to_stderr_after_the_answer(cfg: Path, emulator: Any) -> None:
    retry_config(cfg.parent, emulator)
    emulator.script(Fault.status(429, retry_after=0), api="openai")
    code, out, err = invoke(["chat", "--no-stream", "--trace", "--usage", "hi"])
    assert (code, out) == (0, "Echo: hi\n"), err
    lines = err.splitlines()
    assert lines[0].startswith("trace: retry.attempt: attempt 2") and "RateLimitError" in lines[0]
    assert lines[-1].startswith("usage: provider=openai model=gpt-4o-mini input_tokens=4 "
                                "output_tokens=2 cost_usd=0.")
    assert all(ln.startswith("trace: ") for ln in lines[:-1])
    assert invoke(["chat", "--no-stream", "hi"])[1:] == ("Echo: hi\n", "")  # no flags: nothing


@pytest.mark.parametrize("args", [["-v", "chat"], ["chat", "-v"], ["chat", "--verbose"]])
def test_verbose_means_trace_and_usage(cfg: Path, emulator: Any, args: list[str]) -> None:
    retry_config(cfg.parent, emulator)
    emulator.script(Fault.status(429, retry_after=0), api="openai")
    code, out, err = invoke([*args, "--no-stream", "hi"])
    assert (code, out) == (0, "Echo: hi\n"), err
    assert "trace: retry.attempt" in err and "usage: provider=openai" in err


def test_usage_alone_has_no_trace(cfg: Path, emulator: Any) -> None:
    retry_config(cfg.parent, emulator)
    emulator.script(Fault.status(429, retry_after=0), api="openai")
    code, _, err = invoke(["chat", "--no-stream", "--usage", "hi"])
    assert code == 0 and err.count("\n") == 1 and err.startswith("usage: ")


def test_trace_of_a_streamed_answer(cfg: Path, emulator: Any) -> None:
    retry_config(cfg.parent, emulator)
    emulator.script(Fault.status(429, retry_after=0), api="openai")
    code, out, err = invoke(["chat", "--stream", "--trace", "--usage", "one two"])
    assert (code, out) == (0, "Echo: one two\n"), err
    assert "trace: retry.attempt" in err and "output_tokens=3" in err


def test_json_holds_the_trace(cfg: Path, emulator: Any) -> None:
    retry_config(cfg.parent, emulator)
    emulator.script(Fault.status(429, retry_after=0), api="openai")
    code, out, err = invoke(["chat", "--json", "hi"])
    trace = json.loads(out)["trace"]
    assert code == 0 and err == ""
    assert [(e["layer"], e["event"]) for e in trace] == [("retry", "attempt")]
    assert trace[0]["data"]["attempt"] == 2 and trace[0]["data"]["error"] == "RateLimitError"


def test_error_prints_its_trace_before_the_error_line(cfg: Path, emulator: Any) -> None:
    retry_config(cfg.parent, emulator)
    emulator.script(Fault.status(500), Fault.status(500), api="openai")
    code, out, err = invoke(["chat", "--no-stream", "--trace", "--usage", "hi"])
    lines = err.splitlines()
    assert (code, out) == (1, "")
    assert lines[-1].startswith("Error: ") and "usage:" not in err
    assert any(ln.startswith("trace: retry.gave_up") for ln in lines[:-1]), err
    assert TEST_OPENAI_KEY not in err
    emulator.script(Fault.status(500), Fault.status(500), api="openai")
    code, _, err = invoke(["chat", "--no-stream", "hi"])
    assert code == 1 and err.count("\n") == 1  # without --trace: still one line


def test_embed_trace_in_json_and_usage_summed(cfg: Path, emulator: Any) -> None:
    retry_config(cfg.parent, emulator)
    emulator.script(Fault.status(429, retry_after=0), api="openai")
    code, out, err = invoke(["embed", "--batch-size", "2", "--usage", "--trace", "a", "b", "c"])
    first, second = [json.loads(line) for line in out.splitlines()]  # one line per batch
    assert code == 0 and len(first["vectors"]) + len(second["vectors"]) == 3
    assert [e["event"] for e in first["trace"] + second["trace"]] == ["attempt"]
    assert first["usage"] == {"input_tokens": 2, "output_tokens": 0}
    assert second["usage"] == {"input_tokens": 1, "output_tokens": 0}
    usage = next(ln for ln in err.splitlines() if ln.startswith("usage: "))
    assert "input_tokens=3 output_tokens=0" in usage  # summed over the batches
    total = Decimal(first["cost_usd"]) + Decimal(second["cost_usd"])
    assert Decimal(usage.split("cost_usd=")[1].split()[0]) == total
    assert "trace: retry.attempt" in err


def test_console_script_verbose_chat(cfg: Path) -> None:
    proc = subprocess.run([EXE, "--config", str(cfg), "-v", "chat", "--no-stream", "hi"],
                          env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "Echo: hi\n"), proc.stderr
    assert proc.stderr.startswith("usage: provider=openai model=gpt-4o-mini "), proc.stderr
