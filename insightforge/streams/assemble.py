"""Adding chunks up to a response: the one place a stream's final answer is assembled.

Pure bookkeeping: text deltas concatenated, tool-call fragments joined by ``index``,
reasoning fragments joined by ``index`` (text appended, signature kept), the last finish
reason and usage kept. Used by provider-level streams and by caches replaying one.
"""

from __future__ import annotations

from insightforge.types import ChatResponse, Chunk, ThinkingPart, ToolCall, Usage
from insightforge.types.messages import assistant_message

__all__ = ["Assembler", "assemble"]


class Assembler:
    """Accumulates chunks into the final message; pure bookkeeping."""

    __slots__ = ("finish_reason", "parts", "thinking", "tools", "usage")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tools: dict[int, list[str]] = {}  # index -> [id, name, arguments...]
        self.thinking: dict[int, list[str | None]] = {}  # index -> [signature, data, text...]
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def add(self, chunk: Chunk) -> None:
        if chunk.text:
            self.parts.append(chunk.text)
        for delta in chunk.tool_calls:
            slot = self.tools.setdefault(delta.index, ["", ""])
            if delta.id:
                slot[0] = delta.id
            if delta.name:
                slot[1] = delta.name
            if delta.arguments:
                slot.append(delta.arguments)
        for piece in chunk.thinking:
            block = self.thinking.setdefault(piece.index, [None, None])
            if piece.signature is not None:
                block[0] = piece.signature
            if piece.data is not None:
                block[1] = piece.data
            if piece.text:
                block.append(piece.text)
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage

    def response(self, *, model: str, provider: str, id: str) -> ChatResponse:
        calls = tuple(ToolCall(s[0], s[1], "".join(s[2:]) or "{}")
                      for _, s in sorted(self.tools.items()))
        thinking = [ThinkingPart("".join(t for t in b[2:] if t), signature=b[0], data=b[1])
                    for _, b in sorted(self.thinking.items())]
        message = assistant_message("".join(self.parts), thinking, calls)
        return ChatResponse(message, model, provider, self.usage or Usage(),
                            self.finish_reason, id)


def assemble(chunks: list[Chunk], *, model: str, provider: str, id: str = "") -> ChatResponse:
    """The response a list of chunks adds up to (used by caches replaying streams)."""
    acc = Assembler()
    for chunk in chunks:
        acc.add(chunk)
    return acc.response(model=model, provider=provider, id=id)
