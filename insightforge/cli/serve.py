"""``insightforge serve``: the configured models behind the gateway (OpenAI and Anthropic APIs).

The gateway comes from the config (``--config``, ``INSIGHTFORGE_CONFIG``, discovery; the
same no-config default as ``chat``): its ``models:`` section, or its one stack; or with
``--emulator`` from a demo config against a background emulator, so it works offline.
``--workers N`` runs N processes on one socket, each building the gateway from the same
config. Docs: docs/gateway.md.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sys
from typing import Any

import click

__all__ = ["emulator_config", "serve"]

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


def _source(ctx: click.Context, emulator: Any) -> str | dict[str, Any]:
    from insightforge.cli._setup import config_file, default_document

    if emulator is not None:
        return emulator_config(emulator)
    path = config_file(ctx)
    return str(path) if path is not None else default_document()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for every interface: use keys).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one; the URL is printed).")
@click.option("--api-key", "api_keys", multiple=True, envvar="INSIGHTFORGE_GATEWAY_KEYS",
              help="A static key: require `Authorization: Bearer KEY` (repeatable; or the "
              "space-separated env var INSIGHTFORGE_GATEWAY_KEYS, which keeps keys out of "
              "`ps`). Virtual keys with tenants: `insightforge gateway keys`.")
@click.option("--store", envvar="INSIGHTFORGE_GATEWAY_STORE",
              help="Virtual-key store (sqlite:///keys.db, redis://...); default: the "
              "config's gateway.keys.")
@click.option("-w", "--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes on one socket (budgets, limits and caches shared "
              "through SQLite or Redis stores).")
@click.option("-p", "--provider", help="Provider instance from the config (default: its "
              "`provider:`); for a config without `models:`.")
@click.option("--emulator", "use_emulator", is_flag=True,
              help="Serve a demo stack against a background emulator (offline; no keys).")
@click.option("--graceful-timeout", default=30, show_default=True, type=click.IntRange(0),
              help="Seconds in-flight requests and streams get to finish on Ctrl-C/SIGTERM.")
@click.option("-q", "--quiet", is_flag=True, help="No access log on stderr.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, api_keys: tuple[str, ...],
          store: str | None, workers: int, provider: str | None, use_emulator: bool,
          graceful_timeout: int, quiet: bool) -> None:
    """Serve the configured models as OpenAI- and Anthropic-compatible APIs
    (/v1/chat/completions, /v1/embeddings, /v1/messages, /v1/models), so any client goes
    through your middleware; /healthz, /readyz and /metrics for operators.

    \b
    Examples:
      insightforge serve --emulator --port 8080
      insightforge serve --host 0.0.0.0 --workers 4 --store redis://localhost:6379/0
      insightforge gateway keys create --tenant acme --budget 50/month
      curl localhost:8080/v1/chat/completions -H 'Authorization: Bearer ifk_...' \\
           -H 'Content-Type: application/json' \\
           -d '{"model": "default", "messages": [{"role": "user", "content": "hi"}]}'
    """
    from insightforge.cli._errors import listening
    from insightforge.gateway.server import KEYS_ENV, listen, run

    keys = [k for spec in api_keys for k in spec.split()]
    with contextlib.ExitStack() as resources:
        emu = None
        if use_emulator:
            from insightforge.testing.emulator import Emulator

            emu = resources.enter_context(Emulator())
        source = _source(ctx, emu)
        settings = _check(source, provider, store, workers)
        with listening(host, port):
            sock = resources.enter_context(listen(host, port))
        if not keys and settings.keys is None and store is None and not _is_loopback(host):
            click.secho(f"Warning: serving on {host} without keys: anyone who can reach this "
                        "port can spend your provider credit.", fg="yellow", err=True)
        os.environ[KEYS_ENV] = " ".join(keys)  # the workers read keys from here, not argv
        spec = {"config": source, "provider": provider, "store": store,
                "access_log": not quiet}
        address = sock.getsockname()
        shown = f"[{address[0]}]" if ":" in address[0] else address[0]

        def started() -> None:
            click.echo(f"InsightForge gateway on http://{shown}:{address[1]}/v1 "
                       f"(OpenAI and Anthropic base URL); {workers} worker(s)")
            sys.stdout.flush()
            click.echo(f"  keys required: {'yes' if keys or settings.keys or store else 'no'}"
                       "; Ctrl-C to stop", err=True)

        with contextlib.suppress(KeyboardInterrupt):
            run(sock, spec=spec, workers=workers, graceful_seconds=graceful_timeout,
                on_start=started)


def _check(source: str | dict[str, Any], provider: str | None, store: str | None,
           workers: int) -> Any:
    """Read the config once in this process, so its problems are reported before serving."""
    from insightforge.config.load import prepare
    from insightforge.config.models import parse_gateway
    from insightforge.config.parse import parse_config
    from insightforge.config.problems import Problems

    doc, problems = prepare(source)
    config = parse_config(doc, problems)
    if provider is not None and provider not in config.providers:
        raise click.UsageError(f"--provider {provider}: no such provider in the config")
    settings = parse_gateway(doc.get("gateway"), Problems())
    if workers > 1 and settings.store == "memory" and (store or settings.keys):
        raise click.UsageError("--workers > 1 with virtual keys needs a shared store for "
                               "their budgets and rate limits: set gateway.store to "
                               "sqlite:///gateway.db or redis://...")
    return settings
