"""``insightforge chat``: a prompt through the configured stack, the answer on stdout.

Output rules: the answer on stdout (streamed on a terminal), ``--json`` for the whole
response as JSON (its ``trace`` included), errors as one line on stderr
(:mod:`insightforge.cli._errors`). ``--trace`` and ``--usage`` (both with ``-v``) add lines
on stderr only (:mod:`insightforge.cli._report`), so stdout is the same with or without
them; on a terminal a live status line on stderr shows waits (:mod:`.._status`).
The prompt is PROMPT, piped stdin, or both (prompt, blank line, stdin); with neither on a
terminal the chat is interactive (:mod:`insightforge.cli._repl`). Every exchange goes into
the history (:mod:`insightforge.cli._history`) unless ``--no-log``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import attrs
import click

from insightforge.cli._errors import CommandError
from insightforge.cli._options import option_values, report_options, request_options, tag_values
from insightforge.cli._prompt import compose, piped
from insightforge.cli._report import Extras
from insightforge.cli._setup import build_setup, no_setup_error
from insightforge.errors import CredentialError, ProviderError
from insightforge.secrets import scrub

if TYPE_CHECKING:
    from insightforge.cli._history import History
    from insightforge.types import Message

__all__ = ["chat"]


def _open_history(cont: bool, cid: str | None,
                  no_log: bool) -> tuple[History | None, str, list[Message], str | None]:
    """(the history to write or ``None``, the conversation id, its earlier turns, its last
    system prompt) for ``-c``/``--cid``/``--no-log``."""
    from insightforge.cli._history import (
        History,
        NoHistory,
        earlier_messages,
        history_path,
        new_conversation_id,
    )

    path = history_path()
    earlier: list[Message] = []
    system = None
    if cont or cid:
        try:
            with History(path, create=False) as old:
                found = old.find(cid) if cid else [c for c in [old.latest()] if c]
                if len(found) > 1:
                    raise CommandError(f"--cid {cid} matches {len(found)} conversations "
                                           f"({', '.join(found[:3])}...); give more of it")
                if not found:
                    what = f"no conversation {cid!r}" if cid else "no earlier conversation"
                    raise CommandError(f"{what} in {path}; `insightforge logs` lists "
                                           "them")
                exchanges = old.conversation(found[0])
        except NoHistory:
            raise CommandError(f"no earlier conversation: nothing is logged yet ({path} "
                                   "does not exist); chat without -c/--cid first") from None
        cid = found[0]
        earlier = list(earlier_messages(exchanges))
        system = exchanges[-1].system if exchanges else None
    import sqlite3

    history = None
    if not no_log:
        try:
            history = History(path)
        except (OSError, sqlite3.Error) as exc:  # the answer matters more than its log
            click.echo(f"Warning: cannot keep the history in {path} ({type(exc).__name__}: "
                       f"{scrub(str(exc))}); this exchange is not logged", err=True)
    return history, cid or new_conversation_id(), earlier, system


@click.command()
@click.argument("prompt", required=False)
@click.option("-p", "--provider", help="Provider instance from the config (default: its "
              "`provider:`).")
@click.option("-m", "--model", help="Model to ask: a model of the provider, an alias, or "
              "PROVIDER/MODEL (anthropic/claude-haiku-4-5, local/qwen2.5).")
@click.option("-s", "--system", help="System prompt (default, with -c: the conversation's).")
@click.option("-c", "--continue", "cont", is_flag=True,
              help="Continue the last conversation: the model sees its earlier turns.")
@click.option("--cid", help="Continue conversation ID (or a unique start of it; "
              "`insightforge logs` lists them).")
@request_options
@click.option("--stream/--no-stream", default=None,
              help="Print the answer as it arrives (default: on when stdout is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON "
              "(message, model, provider, usage, cost_usd, cached, trace).")
@click.option("--no-cache", is_flag=True, help="Leave the cache layer out for this call.")
@click.option("--no-log", is_flag=True, help="Do not record this exchange in the history.")
@click.option("-t", "--temperature", type=float, help="Sampling temperature.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Longest answer, in tokens.")
@report_options
@click.pass_context
def chat(ctx: click.Context, prompt: str | None, provider: str | None, model: str | None,
         system: str | None, cont: bool, cid: str | None, options: tuple[str, ...],
         tags: tuple[str, ...], stream: bool | None, as_json: bool, no_cache: bool,
         no_log: bool, temperature: float | None, max_tokens: int | None, show_trace: bool,
         show_usage: bool, verbose: bool, quiet: bool) -> None:
    """Ask PROMPT through the configured stack and print the answer.

    Piped stdin is part of the prompt: PROMPT, a blank line, then stdin (`-` or no PROMPT:
    stdin alone). With neither on a terminal, an interactive chat starts ('exit' or Ctrl-D
    leaves). With no config file, uses OpenAI when OPENAI_API_KEY is set, else a local
    Ollama.

    Only the answer (or the JSON) goes to stdout. --trace, --usage and -v (either
    `insightforge -v chat` or `chat -v`: both extras) print on stderr, after the answer:

    \b
      trace: retry.attempt: attempt 2 after 1.20s: RateLimitError
      usage: provider=openai model=gpt-4o-mini input_tokens=12 output_tokens=40 cost_usd=0.0000258

    On a terminal, waits (retries, fallbacks, rate limits) show as one live status line on
    stderr (-q hides it). An answer cut at the length limit exits 4, one stopped by the
    content filter exits 5, each with one line on stderr. Every exchange is kept in the
    history (`insightforge logs`; --no-log skips it), so -c and --cid can continue it.

    \b
    Examples:
      insightforge chat "Explain CAP in one line"
      git diff | insightforge chat "Review this diff"
      insightforge chat -m anthropic/claude-haiku-4-5 --tag team=search "hi"
      insightforge chat -c "and in one word?"
      insightforge chat --json -p local -o seed=42 "hi"
      insightforge chat --trace --usage "hi" 2> details.txt
    """
    from insightforge.cli._session import Conversation, Template
    from insightforge.cli._status import live_status

    root = ctx.find_root().obj or {}
    report = Extras.from_flags(ctx, trace=show_trace, usage=show_usage, verbose=verbose)
    extra = piped(sys.stdin)
    interactive = prompt is None and extra is None and sys.stdin.isatty()
    text = None if interactive else compose(prompt, extra)
    template = Template(system=system, temperature=temperature, max_tokens=max_tokens,
                        options=option_values(options), tags=tag_values(tags))
    history, conversation_id, earlier, old_system = _open_history(cont, cid, no_log)
    setup = build_setup(ctx, provider=provider, model=model,
                        without=("cache",) if no_cache else ())
    template = attrs.evolve(template, model=setup.model,
                            system=old_system if system is None else system)
    out = sys.stdout
    streaming = out.isatty() if stream is None else stream
    try:
        with live_status(sys.stderr, enabled=not (quiet or root.get("quiet"))) as status, \
                setup.llm:
            talk = Conversation(setup.llm, template, cid=conversation_id, earlier=earlier,
                                history=history, report=report, status=status)
            if text is None:
                from insightforge.cli._repl import repl

                code = repl(talk, title=setup.instance, streaming=streaming)
            else:
                code = talk.turn(text, streaming=streaming, as_json=as_json)
    except (ProviderError, CredentialError) as exc:
        if setup.default and not model:
            raise no_setup_error(exc) from None
        raise
    finally:
        if history is not None:
            history.close()
    if code:
        ctx.exit(code)
