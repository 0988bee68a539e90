"""The must-show: 1,000 requests through a full stack — retries, fallbacks, cache hits,
budget refusals, streams, abandoned streams — give exactly 1,000 records, ``audit verify``
passes, and after deleting one line it fails and names that line.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from click.testing import CliRunner

import middleware.budget as budget_mod
import middleware.cache as cache_mod
import middleware.fallback as fallback_mod
import middleware.retry as retry_mod
from insightforge import (
    BudgetExceeded,
    ChatRequest,
    InsightForgeError,
    ProviderUnavailable,
    RateLimitError,
    stack,
)
from insightforge.cli.audit import audit as audit_cli
from insightforge.stack import Request
from insightforge.testing.scripted import ScriptedProvider, Step
from middleware.audit import AuditLog, FileSink, flush_all


class Flaky(ScriptedProvider):
    """Primary: every 4th call is throttled (Retry handles it); prompts with "down" fail
    with a retryable outage every time, so Retry gives up and Fallback moves on."""

    def _next(self, request: Request) -> Step:
        step = super()._next(request)
        text = request.messages[-1].content if isinstance(request, ChatRequest) else ""
        if "down" in text:
            return ProviderUnavailable("primary is down", provider=self.name, status=503)
        if len(self.calls) % 4 == 0:
            return RateLimitError("slow down", provider=self.name, status=429, retry_after=0)
        return step


def _stack(path: Path) -> Any:
    def no_sleep(_: float) -> None:
        return None

    async def ano_sleep(_: float) -> None:
        return None

    primary = Flaky(name="primary", model="p-1")
    alternate = ScriptedProvider(name="alternate", model="a-1")
    return stack(
        AuditLog(FileSink(path, fsync="never")),
        cache_mod.Cache(ttl=None, maxsize=10_000),
        budget_mod.Budget(limit_usd="0.006"),
        fallback_mod.Fallback(alternate),
        retry_mod.Retry(attempts=3, sleep=no_sleep, asleep=ano_sleep),
        provider=primary,
    )


def _request(i: int) -> ChatRequest:
    kind = "down" if i % 9 == 0 else "up"
    # 250 distinct prompts -> repeats become cache hits; every 10th request streams
    return ChatRequest(f"question {i % 250} {kind}", max_tokens=64, stream=i % 10 == 5,
                       tags={"tenant": f"t{i % 3}"})


def _run_sync(llm: Any, n: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    for i in range(n):
        try:
            result = llm(_request(i))
            if i % 10 == 5:
                if i % 20 == 5:
                    next(iter(result), None)
                    result.close()  # abandoned half way
                else:
                    list(result)
            seen["answered"] += 1
        except BudgetExceeded:
            seen["refused"] += 1
        except InsightForgeError:
            seen["failed"] += 1
    return seen


def _records(path: Path) -> list[dict[str, Any]]:
    flush_all()
    lines = path.read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("type") != "header"]


def test_thousand_requests_thousand_records_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    llm = _stack(path)
    seen = _run_sync(llm, 1000)
    records = _records(path)
    assert len(records) == 1000
    assert len({r["request_id"] for r in records}) == 1000
    outcomes = Counter(r["outcome"] for r in records)
    assert outcomes["refused"] == seen["refused"] > 0
    assert outcomes["abandoned"] > 0 and outcomes["ok"] > 0
    assert sum(r["cache"] for r in records) > 0
    assert max(r["attempts"] for r in records) >= 2
    assert sum(r["fallbacks"] for r in records) > 0
    assert {r["provider"] for r in records if r["fallbacks"]} == {"alternate"}

    runner = CliRunner()
    ok = runner.invoke(audit_cli, ["verify", str(path)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK: 1000 records")

    lines = path.read_text().splitlines()
    victim = 437  # 1-based line number of the deleted record
    del lines[victim - 1]
    path.write_text("\n".join(lines) + "\n")
    bad = runner.invoke(audit_cli, ["verify", str(path)])
    assert bad.exit_code == 1
    assert f"line {victim}: deleted" in bad.output, bad.output


def test_concurrent_async_requests_one_record_each(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    llm = _stack(path)

    async def one(i: int) -> None:
        try:
            result = await llm.acall(_request(i))
            if i % 10 == 5:
                async for _ in result:
                    break
                await result.aclose()
        except InsightForgeError:
            pass

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(300)))

    asyncio.run(main())
    records = _records(path)
    assert len(records) == 300 and len({r["request_id"] for r in records}) == 300
    assert CliRunner().invoke(audit_cli, ["verify", str(path)]).exit_code == 0
