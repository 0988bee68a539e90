"""The provider kit's template and the example plugin both work and pass the kit.

The example plugin (examples/plugin-provider) is imported from its source folder here;
installing it with pip and finding it through the entry point is CI's job.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from insightforge.errors import MalformedResponse, ProviderUnavailable, RateLimitError
from insightforge.testing.conformance import ProviderSpec, run_conformance
from insightforge.testing.emulator import Fault
from insightforge.types import ChatRequest, EmbedRequest
from providers._template import TemplateProvider

PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "plugin-provider"


@pytest.fixture(scope="module")
def echo_module() -> Any:
    sys.path.insert(0, str(PLUGIN))
    try:
        import insightforge_echo
        import insightforge_echo.kit

        yield insightforge_echo
    finally:
        sys.path.remove(str(PLUGIN))


def template_factory(emulator: Any, **overrides: Any) -> TemplateProvider:
    return TemplateProvider(**{"base_url": emulator.ollama_url, "timeout": 10, **overrides})


def test_template_chats_streams_and_embeds(emulator: Any) -> None:
    with template_factory(emulator) as provider:
        reply = provider(ChatRequest("hi there"))
        assert reply.text == "Echo: hi there" and reply.provider == "template"
        assert reply.cost_usd == 0
        assert provider(ChatRequest("hi there", stream=True)).collect() == reply
        assert asyncio.run(provider.acall(ChatRequest("hi there"))) == reply
        assert len(provider(EmbedRequest(["a", "b"])).vectors) == 2


def test_template_maps_faults(emulator: Any) -> None:
    with template_factory(emulator) as provider:
        emulator.script(Fault.status(429, retry_after=1))
        with pytest.raises(RateLimitError):
            provider(ChatRequest("x"))
        emulator.script(Fault.truncate(1))
        with pytest.raises(ProviderUnavailable):
            provider(ChatRequest("a b c", stream=True)).collect()
        emulator.script(Fault.wrong_shape(path="/api/embed"))
        with pytest.raises(MalformedResponse):
            provider(EmbedRequest("x"))


def test_template_passes_the_kit(emulator: Any) -> None:
    run_conformance(template_factory, ProviderSpec(api="ollama", examples=3),
                    emulator=emulator)


def test_plugin_declares_its_entry_point() -> None:
    import tomllib
    meta = tomllib.loads((PLUGIN / "pyproject.toml").read_text())
    points = meta["project"]["entry-points"]["insightforge.providers"]
    assert points == {"echo": "insightforge_echo:EchoProvider"}


def test_plugin_provider_works_against_the_emulator(echo_module: Any, emulator: Any) -> None:
    provider = echo_module.EchoProvider(base_url=emulator.ollama_url, timeout=5)
    with provider:
        reply = provider(ChatRequest("ping"))
        assert reply.text == "Echo: ping" and reply.provider == "echo"
        emulator.script(Fault.malformed())
        with pytest.raises(MalformedResponse) as caught:
            provider(ChatRequest("ping"))
        assert caught.value.provider == "echo"


def test_plugin_passes_the_kit(echo_module: Any, emulator: Any) -> None:
    factory = echo_module.kit.factory
    run_conformance(factory, ProviderSpec(api="ollama", examples=3), emulator=emulator)
