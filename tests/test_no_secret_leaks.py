"""No test key ever appears in a log line, exception, repr, audit record, cache entry or
config dump — across a representative tour of the whole code base.

Every provider is built with the TEST keys of ``tests/conftest.py`` and driven against an
emulator that checks those keys, through a full stack (AuditLog with content, SQLite cache,
Retry), with successes, streams, embeddings and scripted faults (401 with the key echoed back
by the server, 429, 503, malformed bodies, mid-stream errors, stalls). Everything observable is
collected and grepped. The session-wide net over the whole run is ``tests/leakcheck.py``.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, EmbedRequest, InsightForgeError, Message, stack
from insightforge.testing.emulator import Emulator, Fault
from middleware.audit import AuditLog, FileSink, flush_all
from tests.conftest import TEST_AZURE_KEY, TEST_HF_TOKEN, TEST_KEYS, TEST_OPENAI_KEY
from tests.secret_shapes import anthropic, hf, openai

WRONG_KEY = "sk-proj-WRONGKEYabcdefghijklmnopqrstuvwxyz0123456789"
NEEDLES = (*TEST_KEYS, WRONG_KEY)


def forms(value: str) -> set[str]:
    """The value and the encodings it could hide behind in text."""
    return {value, urllib.parse.quote(value, safe=""), repr(value)[1:-1]}


def leaks(text: str, needles: tuple[str, ...] = NEEDLES) -> list[str]:
    return [n for n in needles for f in forms(n) if f in text]


class Collector(logging.Handler):
    """Every log record of the test, formatted, at every level."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception as exc:  # a log call whose args do not format still counts
            self.lines.append(f"{record.msg!r} {record.args!r} {exc!r}")


@pytest.fixture
def logs() -> Iterator[Collector]:
    handler = Collector()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(1)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(api_keys=TEST_KEYS) as e:
        yield e


def _providers(emu: Emulator, key: str | None = None) -> dict[str, Callable[[], Any]]:
    from providers.anthropic import Anthropic
    from providers.azure import AzureOpenAI
    from providers.huggingface import HuggingFace
    from providers.openai import OpenAI

    return {
        "openai": lambda: OpenAI(model="gpt-4o-mini", base_url=emu.openai_url, timeout=2,
                                 api_key=key or TEST_OPENAI_KEY),
        "azure": lambda: AzureOpenAI("prod-4o", endpoint=emu.azure_url, api_version="2024-10-21",
                                     api_key=key or TEST_AZURE_KEY, timeout=2),
        "anthropic": lambda: Anthropic(base_url=emu.anthropic_url, timeout=2,
                                       api_key=key or TEST_KEYS[1]),
        "huggingface": lambda: HuggingFace("m", base_url=emu.hf_url, token=key or TEST_HF_TOKEN,
                                           timeout=2),
    }


API = {"openai": "openai", "azure": "azure", "anthropic": "anthropic", "huggingface": "hf"}
FAULTS = [Fault.status(429, retry_after=0), Fault.status(503), Fault.malformed(),
          Fault.status(401), Fault.stream_error(1)]


def _seen(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc),
                      *(repr(e) for e in getattr(exc, "errors", ()))])


def _tour(name: str, make: Callable[[], Any], emu: Emulator, tmp: Path) -> list[str]:
    """Drive one provider through a full stack; return everything it showed."""
    from middleware.cache import Cache
    from middleware.retry import Retry

    out: list[str] = []
    provider = make()
    audit = tmp / f"{name}.jsonl"
    llm: Any = stack(AuditLog(FileSink(audit), log_content=True),
                Cache(store=f"sqlite:///{tmp / (name + '.db')}"),
                Retry(attempts=2, sleep=lambda _: None), provider=provider)
    out += [repr(provider), str(provider), repr(llm), repr(provider.routes())]
    req = ChatRequest([Message("user", "hello there")], max_tokens=20)
    out.append(repr(llm(req)))
    out.append(repr(llm(req)))  # a cache hit
    stream = llm(ChatRequest("stream this please", stream=True))
    out.append(repr(stream))
    out += [repr(c) for c in stream]
    try:
        out.append(repr(llm(EmbedRequest(["embed me"]))))
    except InsightForgeError as exc:
        out.append(_seen(exc))
    for i, fault in enumerate(FAULTS):
        emu.script(fault, fault, api=API[name])
        try:
            r = llm(ChatRequest(f"fault {i}", stream=i == len(FAULTS) - 1))
            out += [repr(c) for c in r] if i == len(FAULTS) - 1 else [repr(r)]
        except InsightForgeError as exc:
            out.append(_seen(exc))
        emu.reset()
    out.append(asyncio.run(_atour(llm)))
    llm.close()
    flush_all()
    out.append(audit.read_text())
    out.append((tmp / (name + ".db")).read_bytes().decode("latin-1"))
    return out


async def _atour(llm: Any) -> str:
    try:
        return repr(await llm.acall(ChatRequest("async hello")))
    finally:
        await llm.aclose()


@pytest.mark.parametrize("name", ["openai", "azure", "anthropic", "huggingface"])
def test_provider_tour_leaks_nothing(name: str, emu: Emulator, tmp_path: Path,
                                     logs: Collector) -> None:
    seen = _tour(name, _providers(emu)[name], emu, tmp_path)
    seen += logs.lines
    assert any("Error" in s for s in seen)  # the faults really happened
    found = [(n, s[:200]) for s in seen for n in leaks(s)]
    assert not found, found


def test_wrong_key_echoed_by_the_server_is_scrubbed(emu: Emulator, logs: Collector) -> None:
    """The emulator (like OpenAI) echoes a rejected key in its 401 body."""
    from insightforge.errors import AuthenticationError

    provider = _providers(emu, WRONG_KEY)["openai"]()
    with pytest.raises(AuthenticationError) as info:
        provider(ChatRequest("hi"))
    seen = [_seen(info.value), repr(provider), *logs.lines]
    assert not [s for s in seen if leaks(s)]
    provider.close()


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.one_of(openai, anthropic, hf))
def test_generated_keys_never_leak_from_a_failing_call(shape: tuple[str, str, str],
                                                       emu: Emulator) -> None:
    from providers.openai import OpenAI

    _, _, key = shape
    handler = Collector()
    logging.getLogger().addHandler(handler)
    try:
        provider = OpenAI(model="gpt-4o-mini", base_url=emu.openai_url, timeout=2, api_key=key)
        try:
            provider(ChatRequest("hi"))
        except InsightForgeError as exc:
            seen = [_seen(exc), repr(provider), *handler.lines]
        else:
            pytest.fail("a key the emulator does not know was accepted")
        provider.close()
    finally:
        logging.getLogger().removeHandler(handler)
    assert not [s for s in seen if leaks(s, (key,))]


def test_config_dump_masks_keys() -> None:
    import yaml

    import insightforge.config as config_mod
    import insightforge.config.show as show

    config = config_mod.load_config({
        "providers": {"main": {"type": "openai", "model": "gpt-4o-mini",
                               "api_key": TEST_OPENAI_KEY},
                      "az": {"type": "azure", "deployment": "d", "api_key": "${AZ}",
                             "base_url": "https://x.openai.azure.com",
                             "api_version": "2024-10-21"}},
        "provider": "main", "stack": [{"retry": {"attempts": 2}}]}, env={"AZ": TEST_AZURE_KEY})
    dump = yaml.safe_dump(show.to_document(config))
    assert not leaks(dump + repr(config) + str(config)), dump


def test_audit_records_of_secret_prompts(tmp_path: Path) -> None:
    """A user pasting a key into a prompt: the audit record holds a placeholder."""
    from insightforge.testing.scripted import ScriptedProvider

    path = tmp_path / "a.jsonl"
    llm = stack(AuditLog(path, log_content=True), provider=ScriptedProvider())
    for key in TEST_KEYS:
        llm(ChatRequest(f"my key is {key}", tags={"note": f"api-key: {key}"}))
    flush_all()
    text = path.read_text()
    assert text.count("\n") == len(TEST_KEYS) + 1  # the header and one record per key
    assert not leaks(text)
