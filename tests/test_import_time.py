"""``import insightforge`` stays light: no SDK, no HTTP client, no heavy helpers, and little
more than the modules it needs (a ratio to them; the absolute time is in bench/overhead.py).

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


def _import_ms(module: str, statement: str) -> float:
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                         capture_output=True, text=True, check=True, timeout=60).stderr
    total = 0.0
    for line in err.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$", line)
        if match and match.group(2) in module.split(","):
            total += int(match.group(1)) / 1000
    if total:
        return total
    raise AssertionError(f"no import time line for {module}:\n" + err[-2000:])


def test_import_costs_little_more_than_its_own_dependencies() -> None:
    """``import insightforge`` against a floor measured in the same run: the modules it
    cannot do without (asyncio, attrs, decimal). A ratio, so a busy machine does not fail
    it; importing an SDK or an HTTP client would (each costs several floors)."""
    ratios = []
    for _ in range(3):
        floor = _import_ms("asyncio,attrs,decimal", "import asyncio, attrs, decimal")
        ours = _import_ms("insightforge", "import insightforge")
        ratios.append(ours / floor)
    assert min(ratios) < 2.5, f"import insightforge cost {min(ratios):.2f}x its dependencies"
