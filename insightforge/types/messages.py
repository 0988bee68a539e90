"""Messages and tools: what a conversation is made of.

A message's ``content`` is a plain string or a tuple of content parts
(:mod:`insightforge.types.parts`); ``message.text`` is always the text, ``message.parts``
always the parts. Iterate ``message.parts`` to see every part, ``message.media`` for the
byte-carrying ones (images, audio, files), ``message.thinking`` for reasoning blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from insightforge.types._convert import check_role, frozen_map
from insightforge.types.controls import CacheControl, cache_control
from insightforge.types.parts import (
    PART_TYPES,
    AudioPart,
    FilePart,
    ImagePart,
    Part,
    TextPart,
    ThinkingPart,
    to_part,
)

__all__ = ["Message", "Tool", "ToolCall", "assistant_message"]

Content = str | tuple[Part, ...]


@attrs.frozen(slots=True)
class ToolCall:
    """A call the model asks the caller to make.

    Attributes:
        id: the provider's id for the call, echoed back in the tool result message.
        name: the tool's name.
        arguments: the arguments as a JSON text (as the model wrote it).
    """

    id: str
    name: str
    arguments: str = "{}"


def _tool_calls(value: Iterable[ToolCall | Mapping[str, Any]] | None) -> tuple[ToolCall, ...]:
    out = []
    for call in value or ():
        if isinstance(call, ToolCall):
            out.append(call)
        else:  # OpenAI wire shape: {"id", "function": {"name", "arguments"}}
            fn = call.get("function", call)
            out.append(ToolCall(str(call.get("id", "")), str(fn["name"]),
                                str(fn.get("arguments", "{}"))))
    return tuple(out)


def _content(value: Any) -> Content:
    """A string stays a string; a part or a sequence of parts (or their dicts) is a tuple."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (*PART_TYPES, Mapping)):
        return (to_part(value),)
    if isinstance(value, Sequence):
        return tuple(to_part(item) for item in value)
    raise TypeError(f"message content must be a string or a list of parts, got "
                    f"{type(value).__name__}")


@attrs.frozen(slots=True)
class Message:
    """One chat message.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: the text, or a tuple of parts (:class:`~insightforge.TextPart`,
            :class:`~insightforge.ImagePart`, :class:`~insightforge.AudioPart`,
            :class:`~insightforge.FilePart`, :class:`~insightforge.ThinkingPart`); a list
            of parts or of OpenAI-style part dicts is converted.
        name: optional author name.
        tool_calls: calls requested by an assistant message.
        tool_call_id: for a ``tool`` message, the call it answers.
        cache: marks the end of a cacheable prompt prefix (``"5m"``, ``"1h"``, ``True`` or
            a :class:`~insightforge.CacheControl`).
    """

    role: str = attrs.field(validator=check_role)
    content: Content = attrs.field(default="", converter=_content)
    name: str | None = attrs.field(default=None, kw_only=True)
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), kw_only=True, converter=_tool_calls)
    tool_call_id: str | None = attrs.field(default=None, kw_only=True)
    cache: CacheControl | None = attrs.field(default=None, kw_only=True, converter=cache_control)

    @content.validator
    def _check_content(self, _: attrs.Attribute[Content], value: Content) -> None:
        if isinstance(value, tuple) and self.role != "assistant" and any(
                isinstance(p, ThinkingPart) for p in value):
            raise ValueError(f"only assistant messages carry thinking, not {self.role!r} ones")

    @property
    def parts(self) -> tuple[Part, ...]:
        """The content as parts (a string is one :class:`TextPart`; empty text is none)."""
        if isinstance(self.content, str):
            return (TextPart(self.content),) if self.content else ()
        return self.content

    @property
    def text(self) -> str:
        """The text of the message: its text parts joined (reasoning and media left out)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def media(self) -> tuple[ImagePart | AudioPart | FilePart, ...]:
        """The byte- or URL-carrying parts (images, audio, files), in order."""
        if isinstance(self.content, str):
            return ()
        return tuple(p for p in self.content if isinstance(p, (ImagePart, AudioPart, FilePart)))

    @property
    def thinking(self) -> tuple[ThinkingPart, ...]:
        """The reasoning blocks of an assistant message, in order."""
        if isinstance(self.content, str):
            return ()
        return tuple(p for p in self.content if isinstance(p, ThinkingPart))


def assistant_message(text: str, thinking: Sequence[ThinkingPart] = (),
                      tool_calls: Iterable[ToolCall] = ()) -> Message:
    """An answer: plain text content, or thinking parts then the text when it reasoned."""
    if not thinking:
        return Message("assistant", text, tool_calls=tuple(tool_calls))
    parts: list[Part] = list(thinking)
    if text:
        parts.append(TextPart(text))
    return Message("assistant", tuple(parts), tool_calls=tuple(tool_calls))


@attrs.frozen(slots=True)
class Tool:
    """A function the model may call.

    Attributes:
        name: the function name.
        description: what it does, for the model.
        parameters: its JSON Schema.
        cache: marks the tool list up to this tool as a cacheable prefix (see
            :class:`~insightforge.CacheControl`).
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(
        factory=lambda: frozen_map({"type": "object", "properties": {}}), converter=frozen_map)
    cache: CacheControl | None = attrs.field(default=None, kw_only=True, converter=cache_control)
