"""What the gateway tests share: a two-model config against the emulator, keys, clients."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from insightforge.gateway import start
from insightforge.gateway.core import Gateway
from insightforge.gateway.keystore import KeyRecord, keystore_from, ops
from insightforge.gateway.server import GatewayServer
from insightforge.testing.emulator import Emulator
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY


def two_models(emu: Emulator, tmp: Path, *, store: str = "memory",
               keys: str | None = None, cache: bool = True,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """gpt-4o-mini (OpenAI) and claude-sonnet (Anthropic) behind audit, cache and retry."""
    stack: list[Any] = [{"audit": {"sink": str(tmp / "audit.jsonl")}}]
    if cache:
        stack.append({"cache": {"ttl": 600}})
    stack.append({"retry": {"attempts": 2}})
    return {
        "providers": {
            "openai": {"type": "openai", "model": "gpt-4o-mini", "base_url": emu.openai_url,
                       "api_key": TEST_OPENAI_KEY, "timeout": 10},
            "claude": {"type": "anthropic", "model": "claude-sonnet-4-5",
                       "base_url": emu.anthropic_url, "api_key": TEST_ANTHROPIC_KEY,
                       "timeout": 10},
        },
        "stack": stack,
        "models": {"gpt-4o-mini": {"provider": "openai", "aliases": ["mini"]},
                   "claude-sonnet": {"provider": "claude", "aliases": ["claude"]}},
        "gateway": {"store": store, "keys": keys or f"sqlite:///{tmp / 'keys.db'}",
                    **(extra or {})},
    }


@contextlib.contextmanager
def serving(config: dict[str, Any], **kw: Any) -> Iterator[tuple[GatewayServer, Gateway]]:
    """The gateway ``config`` describes, on a loopback port (closed at the end)."""
    gateway = Gateway.from_config(config)
    with start(gateway, **kw) as server:
        yield server, gateway


def make_key(config: dict[str, Any], tenant: str, *, budget: str | None = None,
             rpm: int | None = None, models: tuple[str, ...] = ()) -> tuple[str, KeyRecord]:
    from insightforge.gateway.keystore import parse_budget

    store = keystore_from(config["gateway"]["keys"])
    try:
        return ops.create(store, tenant, budget=parse_budget(budget) if budget else None,
                          rpm=rpm, models=models)
    finally:
        store.close()


def ask(text: str = "hello gateway", model: str = "gpt-4o-mini", **kw: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **kw}


def post(server: GatewayServer, key: str | None, body: Any, path: str = "/v1/chat/completions",
         headers: dict[str, str] | None = None) -> httpx.Response:
    sent = {**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
    if isinstance(body, bytes):
        return httpx.post(server.base_url + path, content=body, headers=sent, timeout=10)
    return httpx.post(server.base_url + path, json=body, headers=sent, timeout=10)


def spent(ledger_entries: list[Any], key_id: str) -> Decimal:
    """Dollars spent under ``key_id`` in a ledger's entries."""
    from middleware.budget.policy import from_units

    return sum((from_units(e.spent) for e in ledger_entries
                if e.key.startswith(f"key_id={key_id}|")), Decimal(0))
