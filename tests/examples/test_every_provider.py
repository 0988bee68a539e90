"""Issue 7's must-show: one stack definition runs the same prompt through every provider by
changing only the provider object — sync, async and streaming, with usage and cost."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from insightforge.testing.emulator import Emulator

EXAMPLE = Path(__file__).parents[2] / "examples" / "every_provider.py"


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("every_provider", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_stack_definition_every_provider(emulator: Emulator) -> None:
    lines: list[str] = []
    results = _load().run_all(emulator, report=lines.append)
    assert set(results) == {"openai", "azure", "anthropic", "ollama", "huggingface",
                            "compatible"}
    for name, (sync, streamed, asynced) in results.items():
        assert sync.text == "Echo: Hello from one stack definition", name
        assert streamed.text == sync.text and streamed.usage == sync.usage, name
        assert asynced.text == "Echo: And asynchronously?", name
        for response in (sync, streamed, asynced):
            assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0, name
            assert response.cost_usd is not None, name
    assert len(lines) == 18
