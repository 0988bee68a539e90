"""``import insightforge`` stays light: no SDK, no HTTP client, no heavy helpers, < 100 ms.

Each check runs a fresh interpreter, so nothing imported by the test session counts.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

HEAVY = ("openai", "httpx", "httpcore", "cattrs", "structlog", "yaml", "keyring", "hypothesis",
         "anthropic", "redis", "click")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return {line.split(".")[0] for line in out.split()}


@pytest.mark.parametrize("statement", [
    "import insightforge",
    "import insightforge, providers, middleware",  # the wings are lazy too
    "from insightforge import stack, ChatRequest, Message, Secret, create_provider",
    "import insightforge.testing",
    "from insightforge.registry import list_providers; list_providers()",
])
def test_heavy_modules_are_not_imported(statement: str) -> None:
    loaded = _modules_after(statement)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_one_provider_never_pulls_in_another_providers_sdk() -> None:
    loaded = _modules_after("import providers; providers.Ollama(base_url='http://127.0.0.1:9')")
    assert "openai" not in loaded


def _import_ms() -> float:
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import insightforge"],
                         capture_output=True, text=True, check=True, timeout=60).stderr
    for line in err.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| insightforge$", line)
        if match:
            return int(match.group(1)) / 1000
    raise AssertionError("no import time line for insightforge:\n" + err[-2000:])


def test_import_takes_under_100_ms() -> None:
    best = min(_import_ms() for _ in range(3))  # the best of three shrugs off a busy machine
    assert best < 100, f"import insightforge took {best:.1f} ms"
