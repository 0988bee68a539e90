"""``insightforge demo``: the whole onion, offline, in a few seconds.

Starts the loopback emulator, builds a stack from a config dict (through the registry, as a
user's YAML would), and sends requests that exercise each layer: a plain answer, a 429 the
retry layer waits out as told, an outage the fallback routes around, a cache hit, a stream,
embeddings, a budget that refuses before any network call, and an audit log whose hash
chain verifies. Each step prints what happened and the trace the layers recorded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

__all__ = ["demo"]

DEMO_KEY = "sk-demo-not-a-real-key-0000000000000000"


def _config(emu: Any, audit_path: Path) -> dict[str, Any]:
    return {
        "providers": {
            "primary": {"type": "openai", "model": "gpt-4o-mini", "base_url": emu.openai_url,
                        "api_key": DEMO_KEY, "timeout": 5},
            "local": {"type": "ollama", "model": "llama3.1", "base_url": emu.ollama_url,
                      "timeout": 5},
        },
        "stack": [
            {"audit": {"sink": str(audit_path)}},
            {"cache": {"ttl": 600}},
            {"budget": {"limit_usd": 1, "period": "day"}},
            {"fallback": ["local"]},
            {"retry": {"attempts": 3, "backoff": {"base": 0.05, "cap": 0.2}}},
        ],
        "provider": "primary",
    }


def _show(step: str, response: Any, calls: int) -> None:
    click.secho(f"\n{step}", bold=True)
    cost = "n/a" if response.cost_usd is None else f"${response.cost_usd:.8f}"
    text = getattr(response, "text", None)
    if text is not None:
        click.echo(f"  answer   : {text!r}")
    click.echo(f"  provider : {response.provider} ({response.model}), cached={response.cached}")
    click.echo(f"  usage    : {response.usage.input_tokens} in / "
               f"{response.usage.output_tokens} out, cost {cost}")
    for event in response.trace:
        click.echo(f"  trace    : {event}")
    click.echo(f"  emulator : {calls} upstream request(s) for this step")


def _chat(text: str, **kw: Any) -> Any:
    from insightforge.types import ChatRequest, Message

    return ChatRequest([Message("user", text)], **kw)


@click.command()
def demo() -> None:
    """Run an offline tour of InsightForge against the built-in emulator."""
    from insightforge.config import from_config
    from insightforge.errors import BudgetExceeded
    from insightforge.testing.emulator import Emulator, Fault
    from insightforge.types import EmbedRequest

    with Emulator() as emu, tempfile.TemporaryDirectory() as tmp:
        audit_path = Path(tmp) / "audit.jsonl"
        click.secho(f"InsightForge demo: everything below runs offline against the emulator "
                    f"at {emu.url}", fg="cyan")
        llm = from_config(_config(emu, audit_path))
        click.echo("\nThe stack, built from a config dict (first layer sees the request "
                   f"first):\n{llm!r}")

        def step(title: str, request: Any) -> Any:
            before = len(emu.requests)
            response = llm(request)
            _show(title, response, len(emu.requests) - before)
            return response

        step("1. A plain question, OpenAI wire format through the real openai SDK",
             _chat("What is InsightForge?"))
        emu.script(Fault.status(429, retry_after_ms=200), api="openai")
        step("2. OpenAI answers 429 (retry-after-ms: 200), then 200: Retry waits as told",
             _chat("Tell me about rate limits"))
        emu.script(Fault.status(503), api="openai", times=3)
        step("3. OpenAI fails with 503 three times: Fallback answers from Ollama",
             _chat("Are you there?"))
        step("4. The first question again: a cache hit costs nothing and makes no call",
             _chat("What is InsightForge?"))

        click.secho("\n5. Streaming through every layer", bold=True)
        stream = llm(_chat("Stream this answer word by word", stream=True))
        click.echo("  chunks   : ", nl=False)
        for chunk in stream:
            if chunk.text:
                click.echo(f"[{chunk.text}]", nl=False)
        click.echo(f"\n  assembled: {stream.response.text!r}, usage {stream.response.usage}")

        step("6. Embeddings through the same stack", EmbedRequest(["first text", "second"]))

        click.secho("\n7. A budget refuses before any network call", bold=True)
        tight = from_config({"providers": _config(emu, audit_path)["providers"],
                             "stack": [{"budget": {"limit_usd": "0.00003"}}],
                             "provider": "primary"})
        before, sent = len(emu.requests), 0
        try:
            while True:
                tight(_chat("Spend a little money", max_tokens=20))
                sent += 1
        except BudgetExceeded as exc:
            click.echo(f"  {sent} request(s) admitted, then: {exc}")
        click.echo(f"  emulator : {len(emu.requests) - before} upstream request(s) "
                   f"(= the admitted ones)")

        llm.close()
        _verify(audit_path)
        click.secho(f"\nDone: the emulator served {len(emu.requests)} requests in all.",
                    fg="green")


def _verify(audit_path: Path) -> None:
    """Check the audit log's hash chain with the same command a user runs."""
    import json

    from insightforge.cli import cli

    records = [json.loads(line) for line in audit_path.read_text().splitlines()]
    records = [r for r in records if "outcome" in r]  # the first line is the chain header
    click.secho(f"\n8. The audit log: {len(records)} records, one per request of the main "
                "stack", bold=True)
    for r in records:
        click.echo(f"  {r.get('ts', '')[11:23]} {r.get('outcome', ''):9} "
                   f"{r.get('provider') or '-':7} cache={r.get('cache')!s:5} "
                   f"attempts={r.get('attempts')} cost={r.get('cost_usd')} "
                   f"hash={str(r.get('hash', ''))[:12]}")
    click.echo(f"  $ insightforge audit verify {audit_path.name}\n  ", nl=False)
    cli.main(["audit", "verify", str(audit_path)], standalone_mode=False)
