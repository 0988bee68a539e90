"""Printing an answer and saying how it ended: the stream on stdout, the ending on stderr.

A streamed answer is written as it arrives; when the stream fails half way, the partial
line is ended first, so the one-line error on stderr starts on a line of its own. An answer
that did not end normally says so on stderr with its own exit code (docs/cli.md):

* ``finish_reason: length`` — cut at the length limit (``--max-tokens`` or the model's):
  the partial answer is printed, then one line, exit code 4;
* ``finish_reason: content_filter`` — stopped by the provider's content filter: what came
  is printed (often nothing), then one line, exit code 5 (a ``ContentFiltered`` error gets
  the same code, :mod:`insightforge.cli._errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

import attrs

from insightforge.cli._errors import EXIT_FILTERED, EXIT_LENGTH

__all__ = ["Ending", "ending", "print_stream"]


@attrs.frozen
class Ending:
    """An answer that did not end normally. Attributes: code: the exit code; message: the
    one line for stderr (after ``Error: ``)."""

    code: int
    message: str


def ending(finish_reason: str | None) -> Ending | None:
    """How an answer that finished for ``finish_reason`` ended, or ``None`` if normally."""
    if finish_reason == "length":
        return Ending(EXIT_LENGTH, "the answer was cut at the length limit (finish_reason: "
                      "length); ask again with a larger --max-tokens for the rest")
    if finish_reason == "content_filter":
        return Ending(EXIT_FILTERED, "the provider's content filter stopped the answer "
                      "(finish_reason: content_filter); rephrase the prompt or use another "
                      "model")
    return None


def print_stream(stream: Any, out: TextIO, *, before: Callable[[], None] | None = None) -> Any:
    """Write ``stream``'s text to ``out`` as it arrives; return its final response.

    ``before`` runs once, before the first text (the status line is erased there). On a
    failure after some text, the line is ended before the error goes on.
    """
    wrote, last = False, "\n"
    with stream:
        try:
            for chunk in stream:
                if not chunk.text:
                    continue
                if not wrote and before is not None:
                    before()
                out.write(chunk.text)
                out.flush()
                wrote, last = True, chunk.text[-1]
        except BaseException:
            if wrote and last != "\n":
                out.write("\n")
                out.flush()
            raise
        if wrote:
            out.write("\n")
            out.flush()
        return stream.response
