"""What a provider can take, and the check that refuses the rest before any network call.

Every provider declares ``capabilities``, a frozenset of the names in :data:`CAPABILITIES`;
:func:`require` finds what a request needs and raises
:class:`~insightforge.errors.Unsupported` naming the part (or setting) and the provider
when the provider lacks it. :class:`~providers._base.BaseProvider` runs it on every chat
request, so no provider — built-in or plugin — sends a request it cannot honour, and none
silently drops an image or a schema.

Prompt-cache marks are hints: they never change the answer, only the bill, so a provider
without ``prompt_caching`` ignores them rather than refusing the request.

What must not: I/O, any vendor's wire shapes.
"""

from __future__ import annotations

from typing import Any

from insightforge.errors import Unsupported
from insightforge.types import AudioPart, ChatRequest, FilePart, ImagePart
from providers._wire import output_format

__all__ = ["CAPABILITIES", "needs", "require", "unsupported"]

CAPABILITIES = frozenset({"images", "audio", "files", "structured_output", "reasoning",
                          "prompt_caching", "parallel_tools"})
"""Every capability name a provider may declare."""

_PART_NEEDS = ((ImagePart, "images", "an image part (ImagePart)"),
               (AudioPart, "audio", "an audio part (AudioPart)"),
               (FilePart, "files", "a file part (FilePart)"))
_FIXES = {
    "images": "send text only, or use a provider with images (openai, azure, anthropic, "
              "ollama with a vision model)",
    "audio": "send text only, or use a provider with audio input (openai, azure)",
    "files": "send the document's text, or use a provider with files (openai, azure, "
             "anthropic)",
    "structured_output": "drop response_format's schema (or use 'json'), or use a provider "
                         "with structured output",
    "reasoning": "drop reasoning=, or use a provider with reasoning models",
    "parallel_tools": "leave parallel_tool_calls unset",
}


def needs(request: ChatRequest) -> dict[str, str]:
    """``{capability: what in the request needs it}``, first occurrence of each."""
    found: dict[str, str] = {}
    for index, message in enumerate(request.messages):
        for part in message.media:
            for kind, capability, what in _PART_NEEDS:
                if isinstance(part, kind) and capability not in found:
                    found[capability] = f"{what} in message {index}"
    fmt = output_format(request.response_format)
    if fmt is not None and fmt.schema is not None:
        found["structured_output"] = "a JSON Schema in response_format"
    if request.reasoning is not None:
        found["reasoning"] = "reasoning="
    if request.parallel_tool_calls:
        found["parallel_tools"] = "parallel_tool_calls=True"
    return found


def unsupported(provider: str, what: str, fix: str) -> Unsupported:
    """The error for something ``provider`` cannot take, naming it and the fix."""
    return Unsupported(f"{provider} cannot take {what}; {fix}.", provider=provider)


def require(provider: Any, request: ChatRequest) -> None:
    """Raise :class:`Unsupported` for the first thing ``request`` needs that ``provider``
    (its ``name`` and ``capabilities``) lacks."""
    have: frozenset[str] = getattr(provider, "capabilities", frozenset())
    for capability, what in needs(request).items():
        if capability not in have:
            raise unsupported(provider.name, f"{what} (capability {capability!r})",
                              _FIXES[capability])
