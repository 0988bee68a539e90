"""Budgets and rate limits the CLI keeps across processes (insightforge.config.persist):
defaults filled in where no store is named, warnings where memory is asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge.config import load_config
from insightforge.config.persist import default_store, persistent, short_lived

DATA = Path("/home/u/.local/share/insightforge")
LAYERS = {"budget": {"limit_usd": 1}, "ratelimit": {"rpm": 5}, "cache": {"ttl": 5},
          "retry": {"attempts": 2}}
STORES = st.sampled_from([None, "memory", "sqlite:////x/s.db"])


def doc(layers: list[tuple[str, str | None]], nested: bool = False) -> dict[str, Any]:
    stack = [{name: {**LAYERS[name], **({} if store is None else {"store": store})}}
             for name, store in layers]
    if nested:
        stack = [{"fallback": [{"stack": stack, "provider": "m"}]}]
    return {"providers": {"m": {"type": "ollama", "model": "x"}, "n": {"type": "ollama",
                                                                    "model": "y"}},
            "provider": "n" if nested else "m", "stack": stack}


@given(st.lists(st.tuples(st.sampled_from(sorted(LAYERS)), STORES), max_size=4),
       st.booleans())
def test_no_store_means_the_data_folder_and_memory_means_a_warning(
        layers: list[tuple[str, str | None]], nested: bool) -> None:
    layers = [(name, store if name != "retry" else None) for name, store in layers]
    cfg = load_config(doc(layers, nested))
    filled = persistent(cfg, DATA)
    inner = filled.stack[0].alternates[0].layers if nested else filled.stack  # type: ignore[union-attr]
    for (name, store), layer in zip(layers, inner, strict=True):
        got = layer.options.get("store")
        if name in ("budget", "ratelimit") and store is None:
            assert got == default_store(name, DATA) == f"sqlite:///{DATA / (name + '.db')}"
        else:
            assert got == store
    warned = [path for path, _ in short_lived(cfg)]
    expected = [i for i, (name, store) in enumerate(layers)
                if name in ("budget", "ratelimit") and store == "memory"]
    assert len(warned) == len(expected)
    assert all(p.endswith(".store") for p in warned)


@pytest.mark.filterwarnings("ignore:Budget\\(ledger=")
def test_the_old_ledger_name_counts_as_a_store() -> None:
    cfg = load_config({"providers": {"m": {"type": "ollama", "model": "x"}},
                       "stack": [{"budget": {"limit_usd": 1, "ledger": "memory"}}]})
    assert persistent(cfg, DATA) == cfg
    ((path, message),) = short_lived(cfg)
    assert path == "$.stack[0].budget.ledger" and "each `insightforge chat`" in message
