"""The conformance kit: every built-in provider passes it, and it catches broken providers.

Each (provider, check) pair is its own test, so a failure names both. Providers whose
module does not exist yet are skipped. The kit itself is tested with "mutants": a real
provider wrapped to misbehave in one way; the kit must fail exactly the check that covers
that behaviour, with a message that says why. Finally the pytest plugin is run in a
subprocess, as a plugin author would run it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from insightforge.errors import ProviderUnavailable, RateLimitError
from insightforge.streams import ChatStream
from insightforge.testing.conformance import (
    CHECKS,
    CheckFailed,
    ConformanceError,
    ProviderSpec,
    load_target,
    run_check,
    run_conformance,
    spec_of,
)
from insightforge.types import ChatResponse, Chunk
from tests import kit_factories
from tests.conftest import TEST_OPENAI_KEY

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin-provider"


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


EXAMPLE_TARGET = "insightforge_echo.kit:factory"  # what its README tells authors to run


def _example_importable() -> bool:
    """The example plugin is importable: pip-installed, or put on sys.path from its folder."""
    if not (EXAMPLE / "insightforge_echo" / "kit.py").exists():
        return False
    if not _available("insightforge_echo"):
        sys.path.insert(0, str(EXAMPLE))  # not installed: use the source tree as it is
        importlib.invalidate_caches()
    return _available("insightforge_echo.kit")


# every built-in provider must be there: a missing module is a failure, not a skip
PROVIDERS = [pytest.param(label, factory, id=label)
             for label, (module, factory) in kit_factories.BUILTIN.items()]


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize(("label", "factory"), PROVIDERS)
def test_builtin_provider_conforms(label: str, factory: Any, check: str,
                                   emulator: Any) -> None:
    run_check(check, factory, spec_of(factory), emulator=emulator)


@pytest.mark.parametrize("check", list(CHECKS))
def test_example_plugin_conforms(check: str, emulator: Any) -> None:
    assert _example_importable(), "examples/plugin-provider is missing (scripts/setup installs it)"
    factory, spec = load_target(EXAMPLE_TARGET)
    run_check(check, factory, spec, emulator=emulator)


# -- the kit catches broken providers -----------------------------------------------------

class Mutant:
    """A real OpenAI provider that misbehaves in one chosen way."""

    def __init__(self, inner: Any, how: str) -> None:
        self.inner = inner
        self.how = how
        self.name = inner.name
        self.model = inner.model

    def routes(self) -> Any:
        return self.inner.routes()

    def check(self) -> None:
        if self.how != "check_ignores_auth":
            self.inner.check()

    def close(self) -> None:
        if self.how == "close_twice_fails" and getattr(self, "_closed", False):
            raise RuntimeError("already closed")
        self._closed = True
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def _fix(self, result: Any) -> Any:
        if isinstance(result, ChatResponse):
            if self.how == "bad_finish":
                return attrs.evolve(result, finish_reason="end_turn")
            if self.how == "no_cost":
                return attrs.evolve(result, cost_usd=None)
        if isinstance(result, ChatStream) and self.how == "stream_drops_usage":
            return result.wrap(on_end=lambda r: attrs.evolve(r, usage=attrs.evolve(
                r.usage, output_tokens=0)))
        if isinstance(result, ChatStream) and self.how == "stream_extra_chunk":
            return ChatStream.from_chunks(iter([Chunk("!"), *result]), model=self.model,
                                          provider=self.name)
        return result

    def _err(self, exc: Exception) -> Exception:
        if self.how == "leaks_secret":
            return type(exc)(f"{exc} key={TEST_OPENAI_KEY}", provider=self.name,  # type: ignore
                             status=exc.status, retryable=exc.retryable,  # type: ignore
                             retry_after=exc.retry_after)  # type: ignore
        if self.how == "429_as_503" and isinstance(exc, RateLimitError):
            return ProviderUnavailable(str(exc), provider=self.name)
        if self.how == "no_retry_after" and isinstance(exc, RateLimitError):
            exc.retry_after = None
        return exc

    def __call__(self, request: Any) -> Any:
        try:
            return self._fix(self.inner(request))
        except Exception as exc:
            raise self._err(exc) from None

    async def acall(self, request: Any) -> Any:
        try:
            result = await self.inner.acall(request)
        except Exception as exc:
            raise self._err(exc) from None
        if self.how == "async_differs" and isinstance(result, ChatResponse):
            return attrs.evolve(result, message=attrs.evolve(result.message, content="x"))
        return result


def _mutant(how: str) -> Any:
    def factory(emulator: Any, **overrides: Any) -> Any:
        return Mutant(kit_factories.openai(emulator, **overrides), how)

    return factory


MUTANTS = [
    ("bad_finish", "chat_shape", "finish_reason 'end_turn'"),
    ("no_cost", "chat_shape", "cost_usd must be a Decimal"),
    ("stream_drops_usage", "stream_assembly", "usage"),
    ("stream_extra_chunk", "stream_assembly", "text"),
    ("async_differs", "sync_async_parity", "sync and async answers differ"),
    ("leaks_secret", "error_mapping", "credential appears"),
    ("429_as_503", "error_mapping", "expected RateLimitError, got ProviderUnavailable"),
    ("no_retry_after", "error_mapping", "retry_after is None, expected 7.0"),
    ("check_ignores_auth", "check", "returned normally though the server answered 401"),
    ("close_twice_fails", "close", "closing a unused provider twice raised"),
]


@pytest.mark.parametrize(("how", "check", "says"), MUTANTS, ids=[m[0] for m in MUTANTS])
def test_kit_catches_a_broken_provider(how: str, check: str, says: str, emulator: Any) -> None:
    spec = spec_of(kit_factories.openai)
    with pytest.raises(CheckFailed) as caught:
        run_check(check, _mutant(how), spec, emulator=emulator)
    assert says in str(caught.value)


def test_run_conformance_reports_every_failed_check(emulator: Any) -> None:
    spec = attrs.evolve(spec_of(kit_factories.openai), label="mutant")
    with pytest.raises(ConformanceError) as caught:
        run_conformance(_mutant("bad_finish"), spec, emulator=emulator,
                        checks=["interface", "chat_shape", "stream_assembly"])
    report = caught.value.report
    assert [r.name for r in report.failures] == ["chat_shape", "stream_assembly"]
    text = str(caught.value)
    assert "conformance of mutant: 1/3 checks passed" in text
    assert "FAIL chat_shape" in text and "end_turn" in text and "PASS interface" in text
    assert "Failing test case" in text and "request=ChatRequest(" in text  # which request


def test_run_conformance_returns_the_report_and_starts_its_own_emulator() -> None:
    report = run_conformance(kit_factories.openai, checks=["interface", "close"])
    assert report.passed and [r.name for r in report.results] == ["interface", "close"]


def test_unknown_checks_and_bad_targets_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown conformance checks"):
        run_conformance(kit_factories.openai, checks=["nope"])
    with pytest.raises(ValueError, match="expects 'module:factory'"):
        load_target("no_colon")
    with pytest.raises(ValueError, match="cannot import"):
        load_target("no_such_module_xyz:factory")
    with pytest.raises(ValueError, match="has no attribute"):
        load_target("tests.kit_factories:nope")
    factory, spec = load_target("tests.kit_factories:anthropic")
    assert factory is kit_factories.anthropic and spec.api == "anthropic"
    with pytest.raises(ValueError, match="api must be one of"):
        ProviderSpec(api="bogus")


def test_a_factory_that_ignores_overrides_is_reported(emulator: Any) -> None:
    def rigid(emu: Any) -> Any:
        return kit_factories.openai(emu)

    with pytest.raises(CheckFailed, match="must accept and pass on"):
        run_check("error_mapping", rigid, spec_of(kit_factories.openai), emulator=emulator)


# -- the pytest plugin, run as a plugin author runs it --------------------------------------

def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(EXAMPLE)])}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_plugin_runs_the_kit_from_the_command_line(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "--insightforge-provider", "tests.kit_factories:openai",
                   "-k", "interface or close")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout  # interface, close, stream_close_early


def test_plugin_names_the_failing_check(tmp_path: Path) -> None:
    (tmp_path / "broken_kit.py").write_text(
        "from tests.test_conformance import _mutant\n"
        "from tests.kit_factories import openai\n"
        "factory = (_mutant('bad_finish'), openai.conformance)\n")
    done = _pytest(tmp_path, "--insightforge-provider", "broken_kit:factory",
                   "-k", "chat_shape or interface")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "test_conformance[broken_kit:factory-chat_shape]" in done.stdout
    assert "end_turn" in done.stdout


def test_the_example_plugin_passes_the_kit_as_its_readme_runs_it(tmp_path: Path) -> None:
    assert _example_importable(), "examples/plugin-provider is missing (scripts/setup installs it)"
    done = _pytest(tmp_path, "--insightforge-provider", EXAMPLE_TARGET)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(CHECKS)} passed" in done.stdout


def test_plugin_refuses_a_bad_target_once_with_the_fix(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "--insightforge-provider", "tests.kit_factories:nope")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert "'tests.kit_factories' has no attribute 'nope'" in done.stderr


def test_plugin_without_the_option_adds_nothing(tmp_path: Path) -> None:
    done = _pytest(tmp_path)
    assert done.returncode == 5 and "no tests ran" in done.stdout  # nothing collected
    helped = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert "--insightforge-provider" in helped.stdout
