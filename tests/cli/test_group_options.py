"""The group's options after any subcommand: ``chat --config f.yaml hi`` (issue 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from insightforge.testing.emulator import Fault
from tests.cli.conftest import invoke
from tests.conftest import TEST_OPENAI_KEY


@pytest.fixture
def elsewhere(clean_env: Path, emulator: Any) -> Path:
    """A config that is not found on its own (not in the working folder)."""
    path = clean_env / "conf" / "f.yaml"
    path.parent.mkdir()
    path.write_text(f"providers: {{main: {{type: openai, model: gpt-4o-mini, base_url: "
                    f"'{emulator.openai_url}', api_key: '{TEST_OPENAI_KEY}'}}}}\n"
                    "stack: [{retry: {attempts: 2, max_retry_after: 1}}]\n")
    return path


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_before_or_after_the_command(elsewhere: Path, where: str) -> None:
    head = ["--config", str(elsewhere)]
    for command in (["chat", "hi"], ["config", "validate"], ["models", "main"]):
        args = [*head, *command] if where == "before" else [*command[:1], *head, *command[1:]]
        code, _, err = invoke(args)
        assert code == 0, (args, err)
    assert invoke(["chat", "--config", str(elsewhere), "hi"])[1] == "Echo: hi\n"
    assert invoke(["config", "validate", "--config", str(elsewhere)])[1].startswith(
        f"{elsewhere}: OK")


def test_a_missing_config_after_the_command_is_the_same_error(clean_env: Path) -> None:
    code, _, err = invoke(["chat", "--config", "missing.yaml", "hi"])
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


@pytest.mark.parametrize("args", [["-v", "chat"], ["chat", "-v"]])
def test_verbose_either_side(elsewhere: Path, emulator: Any, args: list[str]) -> None:
    emulator.script(Fault.status(429, retry_after=0), api="openai")
    code, _, err = invoke([*args, "--config", str(elsewhere), "hi"])
    assert code == 0 and "trace: retry.attempt" in err


def test_a_command_keeps_its_own_meaning_of_a_name(clean_env: Path) -> None:
    """serve has its own -q (no access log); the group's copy is not added there."""
    import click

    from insightforge.cli import cli

    serve = cli.get_command(click.Context(cli), "serve")
    assert serve is not None
    quiet = [p for p in serve.params if "-q" in getattr(p, "opts", ())]
    assert len(quiet) == 1 and not getattr(quiet[0], "hidden", False)
