"""Where a prompt comes from: the PROMPT argument, piped stdin, or both.

As ``llm`` does: ``git diff | insightforge chat "review this"`` sends the prompt, a blank
line, then what came on stdin; ``-`` (or no PROMPT) with a pipe sends stdin alone. Stdin is
read only when it is not a terminal.
"""

from __future__ import annotations

from typing import TextIO

from insightforge.cli._errors import CommandError

__all__ = ["compose", "piped"]


def piped(stdin: TextIO) -> str | None:
    """What came on stdin (stripped of trailing blank lines), or ``None`` on a terminal or
    when nothing came."""
    if stdin.isatty():
        return None
    text = str(stdin.read()).rstrip()
    return text if text.strip() else None


def compose(prompt: str | None, extra: str | None) -> str:
    """The prompt to send: PROMPT, a blank line, stdin. Pure."""
    given = None if prompt in (None, "-") else prompt
    parts = [part for part in (given, extra) if part is not None and part.strip()]
    if not parts:
        if prompt == "-" or (prompt is None and extra is None):
            raise CommandError("the prompt is empty: give a PROMPT, or pipe one on stdin "
                                   "(echo hi | insightforge chat)")
        raise CommandError("the prompt is empty")
    return "\n\n".join(parts)
