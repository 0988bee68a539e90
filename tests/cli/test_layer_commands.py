"""The layers' commands (``cache``, ``budget``) on a store that cannot be reached or opened:
one line naming the store and the fix, exit 1, never a traceback or a password; ``audit`` on
a file that is not there: a usage error, one line, exit 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import EXE, invoke, subprocess_env

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


@pytest.mark.parametrize("command", [["audit", "verify"], ["audit", "tail"],
                                     ["audit", "tail", "-f"]])
@pytest.mark.parametrize("what", ["missing", "directory"])
def test_audit_on_a_missing_file_is_a_usage_error(clean_env: Path, command: list[str],
                                                  what: str) -> None:
    target = clean_env / ("nope.jsonl" if what == "missing" else "")
    code, out, err = invoke([*command, str(target)])
    assert (code, out) == (2, ""), err
    assert ("no such audit file" if what == "missing" else "is a directory") in err
    if what == "missing":  # (a directory is refused by click's own FILE check, with usage)
        assert err.startswith("Error: ") and err.count("\n") == 1, err


def test_console_script_audit_missing_file(clean_env: Path) -> None:
    proc = subprocess.run([EXE, "audit", "verify", "nope.jsonl"], env=subprocess_env(),
                          capture_output=True, text=True, timeout=60, cwd=clean_env)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == ("Error: nope.jsonl: no such audit file; pass the file an AuditLog "
                           "layer writes (its `sink:` in the config's stack)\n")
