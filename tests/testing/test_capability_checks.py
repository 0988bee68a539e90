"""The kit's capability checks catch broken providers: real providers wrapped to misbehave
in one way each (drop an image, hide or overclaim a capability, lose the parsed value or
a thinking signature, ignore cache marks, return one tool call of two, refuse only after
calling the server). The kit must fail exactly the check covering it, saying why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from insightforge.errors import Unsupported
from insightforge.streams import ChatStream
from insightforge.testing.conformance import CheckFailed, run_check, spec_of
from insightforge.types import ChatRequest, ChatResponse, Message, ThinkingPart
from tests import kit_factories

Change = Callable[[Any], Any]


class Wrapped:
    """A real provider with a request change, a response change and claimed capabilities."""

    def __init__(self, inner: Any, *, request: Change | None = None,
                 response: Change | None = None, capabilities: frozenset[str] | None = None,
                 refuse_late: bool = False) -> None:
        self.inner, self.name, self.model = inner, inner.name, inner.model
        self._request, self._response, self._late = request, response, refuse_late
        self.capabilities = inner.capabilities if capabilities is None else capabilities

    def routes(self) -> Any:
        return self.inner.routes()

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def _in(self, request: Any) -> Any:
        return self._request(request) if self._request else request

    def _out(self, result: Any) -> Any:
        if self._late:
            raise Unsupported(f"{self.name} cannot take that (said too late)", provider=self.name)
        if self._response is None:
            return result
        if isinstance(result, ChatStream):
            return result.wrap(on_end=self._response)
        return self._response(result) if isinstance(result, ChatResponse) else result

    def __call__(self, request: Any) -> Any:
        return self._out(self.inner(self._in(request)))

    async def acall(self, request: Any) -> Any:
        result = await self.inner.acall(self._in(request))
        if self._late:
            raise Unsupported(f"{self.name} cannot take that", provider=self.name)
        if self._response is not None and isinstance(result, ChatResponse):
            return self._response(result)
        return result


def _text_only(request: Any) -> Any:
    if not isinstance(request, ChatRequest):
        return request
    return attrs.evolve(request, messages=tuple(attrs.evolve(m, content=m.text)
                                                for m in request.messages))


def _unmarked(request: Any) -> Any:
    if not isinstance(request, ChatRequest):
        return request
    return attrs.evolve(request, messages=tuple(attrs.evolve(m, cache=None)
                                                for m in request.messages))


def _unsigned(response: ChatResponse) -> ChatResponse:
    parts = tuple(ThinkingPart(p.text) if isinstance(p, ThinkingPart) else p
                  for p in response.message.parts)
    return attrs.evolve(response, message=attrs.evolve(response.message, content=parts))


def _first_call(response: ChatResponse) -> ChatResponse:
    message: Message = response.message
    return attrs.evolve(response, message=attrs.evolve(message,
                                                       tool_calls=message.tool_calls[:1]))


CASES = [
    ("drops images", "openai", "images", {"request": _text_only},
     "were they sent intact"),
    ("hides images but answers", "openai", "images",
     {"capabilities": frozenset({"audio"})}, "does not declare 'images' but answered"),
    ("claims audio it cannot map", "ollama", "audio",
     {"capabilities": frozenset({"audio", "images"})}, "declares it in capabilities but"),
    ("loses the parsed value", "openai", "structured_output",
     {"response": lambda r: attrs.evolve(r, parsed=None)}, "parsed None"),
    ("drops thinking signatures", "anthropic", "reasoning", {"response": _unsigned},
     "keep the thinking blocks with their signatures"),
    ("ignores cache marks", "openai", "prompt_caching", {"request": _unmarked},
     "read nothing from the cache"),
    ("returns one call of two", "anthropic", "parallel_tools", {"response": _first_call},
     "parallel tools (plain): calls"),
    ("refuses after calling the server", "openai", "files",
     {"capabilities": frozenset(), "refuse_late": True}, "reached the server"),
    ("names an unknown capability", "openai", "images",
     {"capabilities": frozenset({"telepathy"})}, "unknown names ['telepathy']"),
]


@pytest.mark.parametrize(("why", "base", "check", "how", "says"), CASES,
                         ids=[case[0] for case in CASES])
def test_the_kit_fails_the_check_that_covers_it(why: str, base: str, check: str,
                                                how: dict[str, Any], says: str,
                                                emulator: Any) -> None:
    real = getattr(kit_factories, base)

    def factory(emu: Any, **overrides: Any) -> Wrapped:
        return Wrapped(real(emu, **overrides), **how)

    with pytest.raises(CheckFailed) as caught:
        run_check(check, factory, spec_of(real), emulator=emulator)
    assert says in str(caught.value), str(caught.value)


@pytest.mark.parametrize("check", ["images", "audio", "files", "structured_output",
                                   "reasoning", "prompt_caching", "parallel_tools"])
def test_the_unwrapped_providers_pass_the_same_checks(check: str, emulator: Any) -> None:
    for base in ("openai", "anthropic", "ollama"):
        real = getattr(kit_factories, base)
        run_check(check, lambda emu, real=real, **o: Wrapped(real(emu, **o)), spec_of(real),
                  emulator=emulator)
