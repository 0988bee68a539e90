"""``insightforge serve``: the configured stack behind an OpenAI-compatible HTTP gateway.

The stack comes from the config (``--config``, ``INSIGHTFORGE_CONFIG``, discovery; the same
no-config default as ``chat``), or with ``--emulator`` from a demo config against a
background emulator, so the gateway works offline. Docs: docs/gateway.md.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import sys
from typing import Any

import click

__all__ = ["serve"]

EMULATOR_KEY = "sk-emulator-not-a-real-key-000000000000"


def emulator_config(emu: Any) -> dict[str, Any]:
    """The ``--emulator`` stack: OpenAI with an Ollama fallback, cache and retry."""
    return {
        "providers": {
            "primary": {"type": "openai", "model": "gpt-4o-mini", "base_url": emu.openai_url,
                        "api_key": EMULATOR_KEY, "timeout": 10},
            "local": {"type": "ollama", "model": "llama3.1", "base_url": emu.ollama_url,
                      "timeout": 10},
        },
        "stack": [{"cache": {"ttl": 600}}, {"fallback": ["local"]},
                  {"retry": {"attempts": 3, "backoff": {"base": 0.05, "cap": 0.5}}}],
        "provider": "primary",
    }


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _access_log() -> None:
    logger = logging.getLogger("insightforge.gateway")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for every interface: set --api-key).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one; the URL is printed).")
@click.option("--api-key", "api_keys", multiple=True, envvar="INSIGHTFORGE_GATEWAY_KEYS",
              help="Require `Authorization: Bearer KEY` (repeatable; or the space-separated "
              "env var INSIGHTFORGE_GATEWAY_KEYS, which keeps keys out of `ps`).")
@click.option("-p", "--provider", help="Provider instance from the config (default: its "
              "`provider:`).")
@click.option("--emulator", "use_emulator", is_flag=True,
              help="Serve a demo stack against a background emulator (offline; no keys).")
@click.option("-q", "--quiet", is_flag=True, help="No access log on stderr.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, api_keys: tuple[str, ...],
          provider: str | None, use_emulator: bool, quiet: bool) -> None:
    """Serve the stack as an OpenAI-compatible API (/v1/chat/completions, /v1/embeddings,
    /v1/models), so any OpenAI client goes through your middleware.

    \b
    Examples:
      insightforge serve --emulator --port 8080
      INSIGHTFORGE_GATEWAY_KEYS=gw-secret insightforge serve --host 0.0.0.0
      curl localhost:8080/v1/chat/completions -H 'Content-Type: application/json' \\
           -d '{"model": "default", "messages": [{"role": "user", "content": "hi"}]}'
    """
    from insightforge.cli._errors import listening
    from insightforge.cli._setup import build_stack
    from insightforge.config import from_config
    from insightforge.gateway import Gateway, GatewayServer

    with contextlib.ExitStack() as resources:
        if use_emulator:
            from insightforge.testing.emulator import Emulator

            emu = resources.enter_context(Emulator())
            llm = from_config(emulator_config(emu))
        else:
            llm, _ = build_stack(ctx, provider=provider)
        resources.enter_context(llm)
        if not api_keys and not _is_loopback(host):
            click.secho(f"Warning: serving on {host} without --api-key: anyone who can reach "
                        "this port can spend your provider credit.", fg="yellow", err=True)
        gateway = Gateway(llm, api_keys=api_keys)
        with listening(host, port):
            server = resources.enter_context(GatewayServer(gateway, host, port,
                                                           access_log=not quiet))
        if not quiet:
            _access_log()
        routes = ", ".join(f"{r.provider}:{r.model}" for r in gateway.routes)
        click.echo(f"InsightForge gateway on {server.url} (OpenAI base_url) -> {routes}")
        click.echo(f"  keys required: {'yes' if api_keys else 'no'}; Ctrl-C to stop",
                   err=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
