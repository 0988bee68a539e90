"""``insightforge logs``: read the chat history ``insightforge chat`` keeps.

The history is a SQLite file in the user data folder (:mod:`insightforge.cli._history`);
this command only reads it — it never creates the file — and shows every text through the
redactor again, so no secret reaches the terminal even from rows written before a key was
known to be one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from insightforge.cli._errors import CommandError

if TYPE_CHECKING:
    from insightforge.cli._history import Exchange

__all__ = ["logs"]


def _shown(exchange: Exchange) -> dict[str, object]:
    from insightforge.cli._history import redact

    return {"id": exchange.id, "conversation": exchange.conversation, "time": exchange.time,
            "provider": exchange.provider, "model": exchange.model,
            "system": None if exchange.system is None else redact(exchange.system),
            "prompt": redact(exchange.prompt), "answer": redact(exchange.answer),
            "finish_reason": exchange.finish_reason,
            "usage": {"input_tokens": exchange.input_tokens,
                      "output_tokens": exchange.output_tokens},
            "cost_usd": exchange.cost_usd, "tags": json.loads(exchange.tags or "{}")}


def _markdown(row: dict[str, object]) -> str:
    usage = row["usage"]
    assert isinstance(usage, dict)
    cost = "" if row["cost_usd"] is None else f", ${row['cost_usd']}"
    lines = [f"# {row['time']}  conversation: {row['conversation']}",
             f"Model: {row['provider']}/{row['model']} ({usage['input_tokens']} in, "
             f"{usage['output_tokens']} out{cost})", ""]
    if row["system"]:
        lines += ["## System", "", str(row["system"]), ""]
    lines += ["## Prompt", "", str(row["prompt"]), "", "## Response", "", str(row["answer"]),
              ""]
    return "\n".join(lines)


@click.command()
@click.option("-n", "--count", type=click.IntRange(min=0), default=3, show_default=True,
              help="How many of the last exchanges (0: all).")
@click.option("-c", "--current", "latest", is_flag=True,
              help="Only the last conversation (the one `chat -c` continues).")
@click.option("--cid", help="Only conversation ID (or a unique start of it).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--path", "show_path", is_flag=True, help="Print where the history is kept.")
def logs(count: int, latest: bool, cid: str | None, as_json: bool, show_path: bool) -> None:
    """Show the chat history: prompts, answers, models, tokens and cost, oldest first.

    Every `insightforge chat` exchange is kept in a SQLite file in the user data folder
    (--path shows it; `chat --no-log` keeps one out). Secrets and personal data are
    redacted before anything is stored or shown.

    \b
    Examples:
      insightforge logs                 # the last three exchanges
      insightforge logs -c -n 0         # all of the last conversation
      insightforge logs --cid 0190ab --json
    """
    from insightforge.cli._history import History, NoHistory, history_path

    path = history_path()
    if show_path:
        click.echo(str(path))
        return
    try:
        history = History(path, create=False)
    except NoHistory:
        click.echo(f"No history yet ({path} does not exist): `insightforge chat` keeps one.",
                   err=True)
        return
    with history:
        conversation = None
        if cid:
            found = history.find(cid)
            if len(found) != 1:
                raise CommandError(f"--cid {cid} matches {len(found)} conversations; "
                                       "`insightforge logs` shows their ids")
            conversation = found[0]
        elif latest:
            conversation = history.latest()
        rows = [_shown(e) for e in history.recent(count or -1, conversation)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(_markdown(row))
