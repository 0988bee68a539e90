"""Running the emulator from a terminal: `serve_forever` (used by ``insightforge emulator``).

What lives here: the banner listing each API's base URL, and the blocking loop that
serves until Ctrl-C. ``python -m insightforge.testing.emulator`` calls `main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from .emulator import Emulator

__all__ = ["banner", "main", "serve_forever"]


def banner(emu: Emulator) -> str:
    """The lines printed on start: one base URL per API."""
    return "\n".join([
        f"InsightForge LLM emulator listening on {emu.url}",
        f"  openai     {emu.openai_url}   (POST /chat/completions, /embeddings; GET /models)",
        f"  azure      {emu.azure_url}   "
        "(POST /openai/deployments/{deployment}/chat/completions?api-version=...)",
        f"  anthropic  {emu.anthropic_url}   (POST /v1/messages)",
        f"  ollama     {emu.ollama_url}   (POST /api/chat, /api/embed; GET /api/tags)",
        f"  hf         {emu.hf_url}   (POST /v1/chat/completions, /embed; GET /info)",
        "Press Ctrl-C to stop.",
    ])


def serve_forever(
    host: str = "127.0.0.1", port: int = 8000, api_keys: Iterable[str] | None = None,
    out: TextIO | None = None,
) -> None:
    """Serve on `host`:`port`, print the base URLs, and block until Ctrl-C."""
    stream = out if out is not None else sys.stdout
    with Emulator(api_keys=api_keys, port=port, host=host, log_limit=10_000) as emu:
        print(banner(emu), file=stream, flush=True)
        try:
            while not emu.wait_stopped(0.5):
                pass
        except KeyboardInterrupt:
            print("\nemulator stopped", file=stream, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m insightforge.testing.emulator [--host H] [--port P] [--api-key K ...]``."""
    parser = argparse.ArgumentParser(prog="insightforge emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-key", action="append", dest="api_keys", default=None,
                        help="accept only this key (repeatable); default: any key")
    args = parser.parse_args(argv)
    serve_forever(args.host, args.port, args.api_keys)
    return 0
