"""``insightforge chat`` and ``insightforge embed``: one request through the configured stack.

Output rules: the answer on stdout (streamed on a terminal), ``--json`` for the whole
response as JSON (its ``trace`` included), errors as one line on stderr
(:mod:`insightforge.cli._errors`). ``--trace`` and ``--usage`` (both with ``-v``) add lines
on stderr only (:mod:`insightforge.cli._report`), so stdout is the same with or without them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TextIO, TypeVar

import click

from insightforge.cli._report import Extras
from insightforge.cli._setup import build_stack, no_setup_error
from insightforge.errors import CredentialError, ProviderError

__all__ = ["chat", "embed"]

F = TypeVar("F", bound=Callable[..., Any])


def _report_options(fn: F) -> F:
    """``--trace``, ``--usage`` and ``-v``: the stderr extras shared by chat and embed."""
    fn = click.option("-v", "--verbose", is_flag=True,
                      help="Same as --trace --usage, plus tracebacks on errors (as the "
                      "group's -v).")(fn)
    fn = click.option("--usage", "show_usage", is_flag=True,
                      help="After the answer, print one line on stderr: provider, model, "
                      "tokens, cost.")(fn)
    fn = click.option("--trace", "show_trace", is_flag=True,
                      help="After the answer, print what the layers did (retries, "
                      "fallbacks, cache, budget) on stderr, one event per line; on an "
                      "error, the error's trace before the error line.")(fn)
    return fn


def _prompt_text(prompt: str | None) -> str:
    if prompt is not None and prompt != "-":
        return prompt
    stdin = sys.stdin
    if prompt is None and stdin.isatty():
        raise click.UsageError("give a PROMPT, or pipe one on stdin (echo hi | insightforge chat)")
    text = str(stdin.read()).strip()
    if not text:
        raise click.UsageError("the prompt is empty")
    return text


def _print_stream(stream: Any, out: TextIO) -> Any:
    with stream:
        for chunk in stream:
            out.write(chunk.text)
            out.flush()
        out.write("\n")
        out.flush()
        return stream.response


@click.command()
@click.argument("prompt", required=False)
@click.option("-p", "--provider", help="Provider instance from the config (default: its "
              "`provider:`).")
@click.option("-m", "--model", help="Model to ask (default: the provider's).")
@click.option("-s", "--system", help="System prompt.")
@click.option("--stream/--no-stream", default=None,
              help="Print the answer as it arrives (default: on when stdout is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON "
              "(message, model, provider, usage, cost_usd, cached, trace).")
@click.option("--no-cache", is_flag=True, help="Leave the cache layer out for this call.")
@click.option("-t", "--temperature", type=float, help="Sampling temperature.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Longest answer, in tokens.")
@_report_options
@click.pass_context
def chat(ctx: click.Context, prompt: str | None, provider: str | None, model: str | None,
         system: str | None, stream: bool | None, as_json: bool, no_cache: bool,
         temperature: float | None, max_tokens: int | None, show_trace: bool,
         show_usage: bool, verbose: bool) -> None:
    """Ask PROMPT (or stdin, or `-`) through the configured stack and print the answer.

    With no config file, uses OpenAI when OPENAI_API_KEY is set, else a local Ollama.

    Only the answer (or the JSON) goes to stdout. --trace, --usage and -v (either
    `insightforge -v chat` or `chat -v`: both extras) print on stderr, after the answer:

    \b
      trace: retry.attempt: attempt 2 after 1.20s: RateLimitError
      usage: provider=openai model=gpt-4o-mini input_tokens=12 output_tokens=40 cost_usd=0.0000258

    \b
    Examples:
      insightforge chat "Explain CAP in one line"
      git diff | insightforge chat --system "Review this diff"
      insightforge chat --json -p local "hi"
      insightforge chat --trace --usage "hi" 2> details.txt
    """
    from insightforge.serialize import to_dict
    from insightforge.types import ChatRequest, Message

    report = Extras.from_flags(ctx, trace=show_trace, usage=show_usage, verbose=verbose)
    text = _prompt_text(prompt)
    messages = [Message("system", system)] if system else []
    messages.append(Message("user", text))
    out = sys.stdout
    streaming = (out.isatty() and not as_json) if stream is None else (stream and not as_json)
    request = ChatRequest(messages=messages, model=model, temperature=temperature,
                          max_tokens=max_tokens, stream=streaming, tags={"source": "cli"})
    llm, default = build_stack(ctx, provider=provider, without=("cache",) if no_cache else ())
    try:
        with report.errors(), llm:
            result: Any = llm(request)
            if streaming:
                result = _print_stream(result, out)
    except (ProviderError, CredentialError) as exc:
        if default:
            raise no_setup_error(exc) from None
        raise
    if not streaming:
        if as_json:
            click.echo(json.dumps(to_dict(result), indent=2, default=str))
        else:
            click.echo(result.text)
    report.response(result)


def _inputs(texts: tuple[str, ...], file: TextIO | None) -> list[str]:
    items = list(texts)
    if file is not None:
        items += [line.rstrip("\n") for line in file if line.strip()]
    if not items and not sys.stdin.isatty():
        items = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not items:
        raise click.UsageError("give TEXTS, --file FILE, or lines on stdin")
    return items


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _combine(responses: list[Any]) -> Any:
    """One ``EmbedResponse`` for all batches: vectors in order, usage and cost summed (the
    cost unknown if any batch's is), every batch's trace, cached only if all were."""
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


def _embed_json(response: Any) -> str:
    from insightforge.serialize import to_dict

    return json.dumps({
        "model": response.model, "provider": response.provider,
        "vectors": [list(v) for v in response.vectors],
        "usage": {"input_tokens": response.usage.input_tokens,
                  "output_tokens": response.usage.output_tokens},
        "cost_usd": None if response.cost_usd is None else format(response.cost_usd, "f"),
        "trace": [to_dict(event) for event in response.trace]}, default=str)


@click.command()
@click.argument("texts", nargs=-1)
@click.option("-f", "--file", type=click.File("r"), help="Embed each non-empty line of FILE.")
@click.option("-p", "--provider", help="Provider instance from the config.")
@click.option("-m", "--model", help="Embedding model (default: the provider's).")
@click.option("--dimensions", type=click.IntRange(min=1), help="Vector size, if the model "
              "supports it.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Inputs per request; a progress bar shows for more than one batch.")
@_report_options
@click.pass_context
def embed(ctx: click.Context, texts: tuple[str, ...], file: TextIO | None,
          provider: str | None, model: str | None, dimensions: int | None,
          batch_size: int, show_trace: bool, show_usage: bool, verbose: bool) -> None:
    """Embed TEXTS (or --file, or stdin lines) and print JSON: vectors, model, usage, cost.

    The JSON also holds the trace of every batch. --trace, --usage and -v print on stderr
    as for `chat` (usage summed over the batches).

    \b
    Examples:
      insightforge embed "first text" "second text"
      insightforge embed --file corpus.txt > vectors.json
    """
    from insightforge.types import EmbedRequest

    report = Extras.from_flags(ctx, trace=show_trace, usage=show_usage, verbose=verbose)
    items = _inputs(texts, file)
    llm, default = build_stack(ctx, provider=provider)
    responses: list[Any] = []
    batches = list(_batches(items, batch_size))
    try:
        with report.errors(), llm, click.progressbar(
                batches, label="embedding", file=sys.stderr, hidden=len(batches) < 2) as bar:
            for batch in bar:
                responses.append(llm(EmbedRequest(inputs=tuple(batch), model=model,
                                                  dimensions=dimensions,
                                                  tags={"source": "cli"})))
    except (ProviderError, CredentialError) as exc:
        if default:
            raise no_setup_error(exc) from None
        raise
    combined = _combine(responses)
    click.echo(_embed_json(combined))
    report.response(combined)
