"""Request bodies, bounded: size while reading, JSON nesting depth while parsing.

What lives here: :func:`read_body` (an ASGI ``receive`` -> bytes, at most ``limit``),
:func:`parse_json` (bytes -> a JSON value no deeper than ``max_depth``) and
:class:`HTTPRefusal` (an HTTP refusal with its status; each API renders it in its own shape).
A 100,000-deep document is refused at once: the C parser stops at the interpreter's
recursion limit, and a cheap count of brackets skips the depth walk for shallow bodies.
What must not live here: routing, the stack.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["HTTPRefusal", "depth_of", "parse_json", "read_body"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class HTTPRefusal(Exception):
    """An HTTP refusal: status, message (names the problem and the fix), code, headers."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def too_large(limit: int) -> HTTPRefusal:
    return HTTPRefusal(413, f"request body larger than {limit} bytes; send less", "body_too_large",
                       (("Connection", "close"),))  # the rest of the body is never read


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body; a :class:`HTTPRefusal` (413) as soon as it passes ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPRefusal(400, "the client went away while sending the body")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts) if len(parts) != 1 else parts[0]


def depth_of(value: Any, stop: int) -> int:
    """How deeply ``value`` nests (arrays and objects), counting up to ``stop`` at most."""
    deepest = 0
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > stop:
            return deepest
        todo.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(raw: bytes, max_depth: int) -> Any:
    """The JSON value of ``raw``; a :class:`HTTPRefusal` (400) naming what is wrong."""
    try:
        value = json.loads(raw or b"null")
    except RecursionError:
        value = None
        too_deep = True
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPRefusal(400, f"body: not valid JSON ({exc}); send a JSON object") from None
    else:
        too_deep = (raw.count(b"[") + raw.count(b"{") > max_depth
                    and depth_of(value, max_depth) > max_depth)
    if too_deep:
        raise HTTPRefusal(400, f"body: JSON nested deeper than {max_depth} levels; flatten it",
                          "json_too_deep")
    return value
