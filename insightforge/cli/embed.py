"""``insightforge embed``: texts through the configured stack, vectors out as JSON lines.

Each batch is written as one JSON line the moment it is answered (:mod:`._batches`), to
stdout or ``--output FILE``; a failing batch is named (its number and input lines) with the
batches before it kept, and ``--resume`` continues an ``--output`` file where it stopped.
``--trace``/``--usage``/``-v`` print on stderr as for ``chat`` (usage summed over batches).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import click

from insightforge.cli._errors import CommandError, exit_code
from insightforge.cli._options import option_values, report_options, request_options, tag_values
from insightforge.cli._report import Extras
from insightforge.cli._setup import build_setup, no_setup_error
from insightforge.errors import CredentialError, InsightForgeError, ProviderError
from insightforge.secrets import scrub

__all__ = ["embed"]


class BatchFailed(InsightForgeError):
    """A batch failed: one line naming it, what was kept, and how to continue; the exit
    code and trace are those of the failure."""

    def __init__(self, message: str, cause: InsightForgeError) -> None:
        super().__init__(message)
        self.exit_code = exit_code(cause)
        self.trace = cause.trace


def _inputs(texts: tuple[str, ...], file: TextIO | None) -> list[str]:
    items = list(texts)
    if file is not None:
        items += [line.rstrip("\n") for line in file if line.strip()]
    if not items and not sys.stdin.isatty():
        items = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not items:
        raise CommandError("give TEXTS, --file FILE, or lines on stdin")
    return items


def _combine(responses: list[Any]) -> Any:
    """One ``EmbedResponse`` for this run's batches (for --usage and --trace): usage and
    cost summed (the cost unknown if any batch's is), every batch's trace."""
    from insightforge.types import EmbedResponse, Usage

    cost: Decimal | None = Decimal(0)
    for response in responses:
        cost = None if cost is None or response.cost_usd is None else cost + response.cost_usd
    last = responses[-1]
    return EmbedResponse(
        vectors=tuple(v for r in responses for v in r.vectors), model=last.model,
        provider=last.provider,
        usage=Usage(sum(r.usage.input_tokens for r in responses),
                    sum(r.usage.output_tokens for r in responses)),
        cost_usd=cost, cached=all(r.cached for r in responses),
        trace=tuple(e for r in responses for e in r.trace))


def _open_output(output: Path | None, resume: bool, items: list[str]) -> tuple[TextIO, Any]:
    """The stream to write lines to, and what an earlier run did (``--resume``)."""
    from insightforge.cli._batches import Done, read_done

    if output is None:
        if resume:
            raise CommandError("--resume continues an --output FILE; name the file the "
                                   "earlier run wrote")
        return sys.stdout, Done()
    if output.exists() and not resume:
        raise CommandError(f"{output} exists; add --resume to continue it, or remove it")
    try:
        done = read_done(output, items) if output.exists() else Done()
        fh = output.open("r+" if output.exists() else "w", encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise CommandError(f"cannot write {output} ({why}); check the folder exists and is "
                           "writable, or name another --output") from None
    fh.truncate(done.keep)  # a last line a crash cut short goes
    fh.seek(done.keep)
    return fh, done


def _failed(number: int, total: int, first: int, count: int, kept: int, where: str,
            exc: InsightForgeError) -> BatchFailed:
    done = (f"batches 1-{kept} are in {where}" if kept > 1 else
            f"batch 1 is in {where}" if kept == 1 else "nothing was written")
    resume = "; run the same command with --resume to continue" if kept and \
        where != "stdout" else ""
    return BatchFailed(f"batch {number} of {total} (inputs {first + 1}-{first + count}) "
                       f"failed: {type(exc).__name__}: {scrub(str(exc))}; {done}{resume}",
                       exc)


@click.command()
@click.argument("texts", nargs=-1)
@click.option("-f", "--file", type=click.File("r"), help="Embed each non-empty line of FILE.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON lines to FILE (default: stdout), each batch as it is "
              "answered.")
@click.option("--resume", is_flag=True, help="Continue an --output FILE an earlier run "
              "stopped writing: its batches are checked against the inputs and skipped.")
@click.option("-p", "--provider", help="Provider instance from the config.")
@click.option("-m", "--model", help="Embedding model: a model of the provider, an alias, "
              "or PROVIDER/MODEL.")
@click.option("--dimensions", type=click.IntRange(min=1), help="Vector size, if the model "
              "supports it.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Inputs per request; on a terminal a progress bar shows for more than one "
              "batch.")
@request_options
@report_options
@click.pass_context
def embed(ctx: click.Context, texts: tuple[str, ...], file: TextIO | None,
          output: Path | None, resume: bool, provider: str | None, model: str | None,
          dimensions: int | None, batch_size: int, options: tuple[str, ...],
          tags: tuple[str, ...], show_trace: bool, show_usage: bool, verbose: bool,
          quiet: bool) -> None:
    """Embed TEXTS (or --file, or stdin lines); print one JSON line per batch.

    Each line: batch, first (index of its first input), count, sha256 (of its inputs),
    model, provider, vectors, usage, cost_usd, trace. A batch is written as soon as it is
    answered, so when one fails the ones before it are kept; the error names the failed
    batch. With --output FILE, --resume continues where an earlier run stopped.

    \b
    Examples:
      insightforge embed "first text" "second text"
      insightforge embed --file corpus.txt --output vectors.jsonl
      insightforge embed --file corpus.txt --output vectors.jsonl --resume
    """
    from insightforge.cli._batches import batch_line, plan
    from insightforge.cli._status import live_status
    from insightforge.types import EmbedRequest

    root = ctx.find_root().obj or {}
    report = Extras.from_flags(ctx, trace=show_trace, usage=show_usage, verbose=verbose)
    items = _inputs(texts, file)
    request_options_ = option_values(options)
    request_tags = tag_values(tags)
    setup = build_setup(ctx, provider=provider, model=model)
    out, done = _open_output(output, resume, items)
    todo = plan(len(items), batch_size, done)
    total = done.batches + len(todo)
    where = "stdout" if output is None else str(output)
    responses: list[Any] = []
    write: Callable[[str], Any] = out.write
    try:
        with report.errors(), setup.llm, \
                live_status(sys.stderr, enabled=not (quiet or root.get("quiet"))), \
                click.progressbar(todo, label="embedding", file=sys.stderr,
                                  hidden=len(todo) < 2 or not sys.stderr.isatty()) as bar:
            for number, first, count in bar:
                batch = items[first:first + count]
                try:
                    response = setup.llm(EmbedRequest(
                        inputs=tuple(batch), model=setup.model, dimensions=dimensions,
                        options=request_options_, tags=request_tags))
                except InsightForgeError as exc:
                    if setup.default and isinstance(exc, (ProviderError, CredentialError)) \
                            and not model:
                        raise no_setup_error(exc) from None
                    raise _failed(number, total, first, count, number - 1, where,
                                  exc) from exc
                write(batch_line(number, first, batch, response) + "\n")
                out.flush()
                responses.append(response)
    finally:
        if out is not sys.stdout:
            out.close()
    if responses:
        report.response(_combine(responses))
    elif output is not None:
        click.echo(f"Nothing to do: every batch is in {output} already.", err=True)
