"""Property: a message of text and images, sent through any provider that takes images,
crosses the real wire intact — the emulated model describes exactly the bytes and text
sent, sync and streamed — and a provider without images refuses it before any network
call. Each example is real HTTP, so examples are few."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, ChatStream, ImagePart, Message, TextPart
from insightforge.errors import Unsupported
from insightforge.testing.emulator import Emulator
from insightforge.testing.strategies import PNG, words
from tests import kit_factories

TAKES_IMAGES = ("openai", "azure", "anthropic", "ollama", "huggingface", "compatible")

parts = st.lists(st.one_of(words(1, 4).map(TextPart),
                           st.binary(max_size=16).map(lambda tail: ImagePart(data=PNG + tail))),
                 min_size=1, max_size=4).filter(
    lambda ps: any(isinstance(p, TextPart) for p in ps))


@pytest.fixture(scope="module")
def built() -> Iterator[dict[str, Any]]:
    with Emulator() as emulator:
        providers = {name: kit_factories.BUILTIN[name][1](emulator) for name in TAKES_IMAGES}
        providers["template"] = _template(emulator)
        yield {"emulator": emulator, **providers}
        for provider in providers.values():
            provider.close()


def _template(emulator: Emulator) -> Any:
    from providers._template import TemplateProvider

    return TemplateProvider(base_url=emulator.ollama_url)


def _seen(content: list[Any]) -> str:
    texts = [p.text for p in content if isinstance(p, TextPart)]
    media = [f"<image/png {len(p.data)} bytes sha256:{hashlib.sha256(p.data).hexdigest()[:12]}>"
             for p in content if isinstance(p, ImagePart)]
    return "\n".join(texts + media)


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(TAKES_IMAGES), content=parts, stream=st.booleans())
def test_parts_cross_every_wire_intact(built: dict[str, Any], name: str,
                                       content: list[Any], stream: bool) -> None:
    request = ChatRequest([Message("user", content)], stream=stream)
    result = built[name](request)
    if isinstance(result, ChatStream):
        with result:
            joined = "".join(chunk.text for chunk in result)
        assert joined == result.response.text
        result = result.response
    assert result.text == "Echo: " + _seen(content), name


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=parts.filter(lambda ps: any(isinstance(p, ImagePart) for p in ps)))
def test_a_provider_without_images_refuses_them_unsent(built: dict[str, Any],
                                                       content: list[Any]) -> None:
    emulator: Emulator = built["emulator"]
    before = emulator.count()
    request = ChatRequest([Message("user", content)])
    for variant in (request, attrs.evolve(request, stream=True)):
        with pytest.raises(Unsupported, match="template cannot take an image part"):
            built["template"](variant)
    assert emulator.count() == before
