"""One stack definition, every provider: only the provider object changes.

Runs offline against the built-in emulator: the same prompt goes through the same layers
to OpenAI, Azure OpenAI, Anthropic, Ollama, Hugging Face and an OpenAI-compatible server —
sync, async and streaming — and prints each one's answer, usage and cost.

    .venv/bin/python examples/every_provider.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from insightforge import ChatRequest, ChatResponse, Stack, stack
from insightforge.testing.emulator import Emulator
from middleware import Cache, Retry
from providers import Anthropic, AzureOpenAI, HuggingFace, Ollama, OpenAI, OpenAICompatible

KEY = "sk-example-not-a-real-key-000000000000"


def providers_for(emu: Emulator) -> dict[str, Any]:
    """Each provider, pointed at the emulator's wire format for it."""
    return {
        "openai": OpenAI(model="gpt-4o-mini", base_url=emu.openai_url, api_key=KEY),
        "azure": AzureOpenAI("gpt-4o-mini", endpoint=emu.azure_url, api_version="2024-10-21",
                             api_key=KEY),
        "anthropic": Anthropic(model="claude-haiku-4-5", base_url=emu.anthropic_url,
                               api_key=KEY),
        "ollama": Ollama(model="llama3.1", base_url=emu.ollama_url),
        # A dedicated endpoint bills by the hour: give it a per-token price to see costs.
        "huggingface": HuggingFace(model="tgi", base_url=emu.hf_url, token="hf_example",
                                   price={"input": "0.10", "output": "0.10"}),
        "compatible": OpenAICompatible("llama-3.1-8b", base_url=emu.openai_url,
                                       price={"input": "0.05", "output": "0.08"}),
    }


def make_stack(provider: Any) -> Stack:
    """The one stack definition."""
    return stack(Cache(ttl=60), Retry(attempts=3), provider=provider)


def run_all(emu: Emulator, report: Callable[[str], None] = print) -> dict[str, list[ChatResponse]]:
    """Send one prompt each way through every provider; returns the responses per provider."""
    request = ChatRequest("Hello from one stack definition", max_tokens=50)
    results: dict[str, list[ChatResponse]] = {}
    for name, provider in providers_for(emu).items():
        llm = make_stack(provider)
        sync = llm(request)
        assert isinstance(sync, ChatResponse)
        stream_response = llm.stream(ChatRequest(request.messages, max_tokens=50)).collect()
        async_response = asyncio.run(_acall(llm, ChatRequest("And asynchronously?")))
        results[name] = [sync, stream_response, async_response]
        for how, r in zip(("sync", "stream", "async"), results[name], strict=True):
            report(f"{name:12} {how:6} {r.text!r:42} {r.usage.input_tokens:>3} in "
                   f"{r.usage.output_tokens:>3} out  cost={r.cost_usd}")
        llm.close()
    return results


async def _acall(llm: Stack, request: ChatRequest) -> ChatResponse:
    response = await llm.acall(request)
    assert isinstance(response, ChatResponse)
    await llm.aclose()
    return response


if __name__ == "__main__":
    with Emulator() as emulator:
        run_all(emulator)
