"""The server libraries load only when a gateway is made: ``import insightforge.gateway``
and the ``insightforge`` command's start stay light."""

from __future__ import annotations

import subprocess
import sys

SERVER = ("starlette", "uvicorn", "uvloop", "httptools", "prometheus_client", "anyio")


def _loaded(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return {line.split(".")[0] for line in out.split()}


def test_importing_the_gateway_package_loads_no_server_library() -> None:
    for statement in ("import insightforge.gateway",
                      "from insightforge.gateway import start, serve, Gateway",
                      "import insightforge.cli"):
        assert not _loaded(statement) & set(SERVER), statement


def test_making_a_gateway_loads_them() -> None:
    loaded = _loaded("from insightforge.gateway import create_app")
    assert "starlette" in loaded  # (prometheus-client waits for the first request)
