"""The interactive chat: ``insightforge chat`` with no prompt on a terminal.

A prompt ``> `` reads a line; the answer streams back; every turn goes into the same
conversation (the model sees the earlier turns, and ``chat -c`` can pick it up later).
``exit`` or ``quit`` (or Ctrl-D) leaves; Ctrl-C stops an answer half way and keeps the
chat going, and at the prompt leaves. A failed turn prints its one-line error and the chat
goes on. Line editing comes from ``readline`` where Python has it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import click

from insightforge.cli._errors import EXIT_INTERRUPTED, EXIT_OK
from insightforge.cli._session import Conversation
from insightforge.errors import InsightForgeError
from insightforge.secrets import scrub

__all__ = ["LEAVE", "repl"]

LEAVE = frozenset({"exit", "quit", ":q"})


def repl(conversation: Conversation, *, title: str, streaming: bool = True,
         read: Callable[[str], str] = input) -> int:
    """Chat until the user leaves; the exit code (0, or 130 after Ctrl-C at the prompt)."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - line editing and recall for input()
    turns = len(conversation.earlier) // 2
    more = f", continuing after {turns} turn(s)" if turns else ""
    click.echo(f"Chatting with {title} (conversation {conversation.cid}{more}). Type 'exit' "
               "or press Ctrl-D to leave.", err=True)
    while True:
        try:
            line = read("> ")
        except EOFError:
            click.echo("", err=True)
            return EXIT_OK
        except KeyboardInterrupt:
            click.echo("", err=True)
            return EXIT_INTERRUPTED
        text = line.strip()
        if not text:
            continue
        if text.lower() in LEAVE:
            return EXIT_OK
        try:
            conversation.turn(text, streaming=streaming)
        except KeyboardInterrupt:
            click.echo("(answer interrupted)", err=True)
        except InsightForgeError as exc:
            click.echo(f"Error: {scrub(str(exc))}", err=True)
