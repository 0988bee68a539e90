"""``insightforge emulator``: serve the loopback LLM emulator until Ctrl-C."""

from __future__ import annotations

import click

__all__ = ["emulator"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (keep it on loopback).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--api-key", "api_keys", multiple=True,
              help="Accept only this key (repeatable); by default any key is accepted.")
def emulator(host: str, port: int, api_keys: tuple[str, ...]) -> None:
    """Serve the OpenAI, Azure, Anthropic, Ollama and Hugging Face emulator.

    Deterministic replies ("Echo: <your message>"), for offline development and demos.
    """
    from insightforge.cli._errors import listening
    from insightforge.testing.emulator.cli import serve_forever

    with listening(host, port):
        serve_forever(host, port, api_keys or None)
