"""docs/cli.md is generated from the help text; this fails when it is stale.

The docs are rendered in a fresh interpreter: click caches each command's help option on
first use, so a command another test invoked on its own (without the top-level group's
``-h`` setting) would render differently in this process than for a user.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RENDER = ("import importlib.util, sys; "
          "spec = importlib.util.spec_from_file_location('g', sys.argv[1]); "
          "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
          "sys.stdout.write(m.render())")


def test_docs_cli_md_is_current() -> None:
    expected = subprocess.run([sys.executable, "-c", RENDER,
                               str(ROOT / "scripts" / "gen_cli_docs.py")],
                              capture_output=True, text=True, check=True, timeout=120,
                              cwd=ROOT).stdout
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == expected, ("docs/cli.md is stale: run "
                                 "`.venv/bin/python scripts/gen_cli_docs.py`")
