"""The layers' commands (``cache``, ``budget``) on a store that cannot be reached or opened:
one line naming the store and the fix, exit 1, never a traceback or a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import invoke

DEAD_REDIS = "redis://:hunter2-not-shown@127.0.0.1:9/0"  # port 9: nothing listens


@pytest.mark.parametrize(("command", "flag"), [(["cache", "stats"], "--store"),
                                               (["budget", "status"], "--ledger")])
@pytest.mark.parametrize("where", ["redis", "sqlite"])
def test_unreachable_store_is_one_line(clean_env: Path, command: list[str], flag: str,
                                       where: str) -> None:
    spec = DEAD_REDIS if where == "redis" else str(clean_env / "no" / "such" / "dir" / "x.db")
    code, out, err = invoke([*command, flag, spec])
    assert (code, out) == (1, ""), err
    assert err.startswith("Error: cannot ") and err.count("\n") == 1, err
    assert flag in err and "run with -v" not in err
    assert "hunter2" not in err
    assert ("127.0.0.1:9" if where == "redis" else "x.db") in err
