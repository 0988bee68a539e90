"""Messages and tools: what a conversation is made of."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from insightforge.types._convert import check_role, frozen_map

__all__ = ["Message", "Tool", "ToolCall"]


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


@attrs.frozen(slots=True)
class Message:
    """One chat message.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: the text.
        name: optional author name.
        tool_calls: calls requested by an assistant message.
        tool_call_id: for a ``tool`` message, the call it answers.
    """

    role: str = attrs.field(validator=check_role)
    content: str = ""
    name: str | None = attrs.field(default=None, kw_only=True)
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), kw_only=True, converter=_tool_calls)
    tool_call_id: str | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(slots=True)
class Tool:
    """A function the model may call.

    Attributes:
        name: the function name.
        description: what it does, for the model.
        parameters: its JSON Schema.
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(
        factory=lambda: frozen_map({"type": "object", "properties": {}}), converter=frozen_map)
