"""The least a gateway on InsightForge's server stack can add: a pass-through proxy.

Run: ``python bench/_passthrough.py UPSTREAM_URL PORT [WORKERS]`` (bench/gateway.py starts it).

The same components as ``insightforge serve`` — uvicorn with httptools and uvloop, Starlette,
and an aiohttp client pool to the upstream — and no logic at all: no key check, no layers, no
audit, no parsing; the body goes up as it came and the answer comes back as it went. What it
adds to a direct call is a floor no gateway built on this stack goes below on the machine it
runs on (bench/gateway.py measures it beside the gateway, in the same run).
"""

from __future__ import annotations

import os
import sys
from typing import Any

UPSTREAM = os.environ.get("PASSTHROUGH_UPSTREAM", "")
_session: Any = None


async def _chat(request: Any) -> Any:
    import aiohttp
    from starlette.responses import Response

    global _session
    if _session is None:
        _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    headers = {"Authorization": request.headers.get("authorization", ""),
               "Content-Type": "application/json"}
    async with _session.post(UPSTREAM + "/v1/chat/completions", data=await request.body(),
                             headers=headers) as answer:
        return Response(await answer.read(), answer.status, media_type="application/json")


def _app() -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Route

    return Starlette(routes=[Route("/v1/chat/completions", _chat, methods=["POST"])])


app = _app()


def main() -> None:
    import uvicorn

    upstream, port = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.environ["PASSTHROUGH_UPSTREAM"] = upstream  # the workers import this module again
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    print("listening", flush=True)
    uvicorn.run("_passthrough:app", host="127.0.0.1", port=port, loop="uvloop",
                http="httptools", log_level="warning", access_log=False, backlog=2048,
                workers=workers)


if __name__ == "__main__":
    main()
