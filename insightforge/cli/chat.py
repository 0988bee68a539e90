"""``insightforge chat`` and ``insightforge embed``: one request through the configured stack.

Output rules: the answer on stdout (streamed on a terminal), ``--json`` for the whole
response as JSON, errors as one line on stderr (:mod:`insightforge.cli._errors`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TextIO

import click

from insightforge.cli._setup import build_stack, no_setup_error
from insightforge.errors import CredentialError, ProviderError

__all__ = ["chat", "embed"]


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
@click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON.")
@click.option("--no-cache", is_flag=True, help="Leave the cache layer out for this call.")
@click.option("-t", "--temperature", type=float, help="Sampling temperature.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Longest answer, in tokens.")
@click.pass_context
def chat(ctx: click.Context, prompt: str | None, provider: str | None, model: str | None,
         system: str | None, stream: bool | None, as_json: bool, no_cache: bool,
         temperature: float | None, max_tokens: int | None) -> None:
    """Ask PROMPT (or stdin, or `-`) through the configured stack and print the answer.

    With no config file, uses OpenAI when OPENAI_API_KEY is set, else a local Ollama.

    \b
    Examples:
      insightforge chat "Explain CAP in one line"
      git diff | insightforge chat --system "Review this diff"
      insightforge chat --json -p local "hi"
    """
    from insightforge.serialize import to_dict
    from insightforge.types import ChatRequest, Message

    text = _prompt_text(prompt)
    messages = [Message("system", system)] if system else []
    messages.append(Message("user", text))
    out = sys.stdout
    streaming = (out.isatty() and not as_json) if stream is None else (stream and not as_json)
    request = ChatRequest(messages=messages, model=model, temperature=temperature,
                          max_tokens=max_tokens, stream=streaming, tags={"source": "cli"})
    llm, default = build_stack(ctx, provider=provider, without=("cache",) if no_cache else ())
    try:
        with llm:
            result: Any = llm(request)
            if streaming:
                _print_stream(result, out)
                return
    except (ProviderError, CredentialError) as exc:
        if default:
            raise no_setup_error(exc) from None
        raise
    if as_json:
        click.echo(json.dumps(to_dict(result), indent=2, default=str))
    else:
        click.echo(result.text)


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


@click.command()
@click.argument("texts", nargs=-1)
@click.option("-f", "--file", type=click.File("r"), help="Embed each non-empty line of FILE.")
@click.option("-p", "--provider", help="Provider instance from the config.")
@click.option("-m", "--model", help="Embedding model (default: the provider's).")
@click.option("--dimensions", type=click.IntRange(min=1), help="Vector size, if the model "
              "supports it.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Inputs per request; a progress bar shows for more than one batch.")
@click.pass_context
def embed(ctx: click.Context, texts: tuple[str, ...], file: TextIO | None,
          provider: str | None, model: str | None, dimensions: int | None,
          batch_size: int) -> None:
    """Embed TEXTS (or --file, or stdin lines) and print JSON: vectors, model, usage, cost.

    \b
    Examples:
      insightforge embed "first text" "second text"
      insightforge embed --file corpus.txt > vectors.json
    """
    from insightforge.types import EmbedRequest

    items = _inputs(texts, file)
    llm, default = build_stack(ctx, provider=provider)
    vectors: list[list[float]] = []
    usage = {"input_tokens": 0, "output_tokens": 0}
    cost: Decimal | None = Decimal(0)
    meta: dict[str, str] = {}
    batches = list(_batches(items, batch_size))
    try:
        with llm, click.progressbar(batches, label="embedding", file=sys.stderr,
                                    hidden=len(batches) < 2) as bar:
            for batch in bar:
                response: Any = llm(EmbedRequest(inputs=tuple(batch), model=model,
                                                 dimensions=dimensions,
                                                 tags={"source": "cli"}))
                vectors.extend([list(v) for v in response.vectors])
                usage["input_tokens"] += response.usage.input_tokens
                cost = None if cost is None or response.cost_usd is None else (
                    cost + response.cost_usd)
                meta = {"model": response.model, "provider": response.provider}
    except (ProviderError, CredentialError) as exc:
        if default:
            raise no_setup_error(exc) from None
        raise
    click.echo(json.dumps({**meta, "vectors": vectors, "usage": usage,
                           "cost_usd": None if cost is None else str(cost)}))
