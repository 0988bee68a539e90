"""Running the conformance checks: the registry of checks, one check, all of them, a report.

What lives here: :data:`CHECKS` (name -> check, in running order), :func:`run_check`,
:func:`run_conformance` and the :class:`Report` it returns (or raises, inside
:class:`ConformanceError`, when a check failed). What must not: the checks themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from insightforge.testing.conformance import (
    chat_checks,
    error_checks,
    feature_checks,
    life_checks,
    media_checks,
)
from insightforge.testing.conformance.spec import (
    CheckFailed,
    Factory,
    Kit,
    ProviderSpec,
    spec_of,
)

__all__ = ["CHECKS", "CheckResult", "ConformanceError", "Report", "run_check",
           "run_conformance"]

Check = Callable[[Kit], None]

CHECKS: dict[str, Check] = {
    "interface": life_checks.check_interface,
    "chat_shape": chat_checks.check_chat_shape,
    "stream_assembly": chat_checks.check_stream_assembly,
    "sync_async_parity": chat_checks.check_sync_async_parity,
    "tools": chat_checks.check_tools,
    "embeddings": chat_checks.check_embeddings,
    "images": media_checks.check_images,
    "audio": media_checks.check_audio,
    "files": media_checks.check_files,
    "structured_output": feature_checks.check_structured_output,
    "reasoning": feature_checks.check_reasoning,
    "prompt_caching": feature_checks.check_prompt_caching,
    "parallel_tools": feature_checks.check_parallel_tools,
    "error_mapping": error_checks.check_error_mapping,
    "error_mapping_async": error_checks.check_error_mapping_async,
    "content_filter": error_checks.check_content_filter,
    "credentials": error_checks.check_credentials,
    "check": life_checks.check_check,
    "close": life_checks.check_close,
    "stream_close_early": life_checks.check_stream_close_early,
}
"""Every check, by name, in the order :func:`run_conformance` runs them."""


@attrs.frozen
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: the check; passed: whether it passed; detail: why it failed ("" if passed);
        seconds: how long it took.
    """

    name: str
    passed: bool
    detail: str = ""
    seconds: float = 0.0


@attrs.frozen
class Report:
    """The outcome of a conformance run.

    Attributes:
        label: the provider under test; results: one per check run, in order.
    """

    label: str
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def __str__(self) -> str:
        head = (f"conformance of {self.label}: "
                f"{len(self.results) - len(self.failures)}/{len(self.results)} checks passed")
        lines = [head]
        for r in self.results:
            mark = "PASS" if r.passed else "FAIL"
            lines.append(f"  {mark} {r.name} ({r.seconds:.2f}s)"
                         + (f"\n       {r.detail}" if r.detail else ""))
        return "\n".join(lines)


class ConformanceError(AssertionError):
    """At least one conformance check failed; ``report`` says which and why."""

    def __init__(self, report: Report) -> None:
        super().__init__(str(report))
        self.report = report


def _describe(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, CheckFailed) else f"unexpected {type(exc).__name__}: {exc}"
    notes = [n for n in getattr(exc, "__notes__", ())
             if n.startswith(("Falsifying", "Failing test case"))]
    return "\n       ".join([text, *notes])  # hypothesis notes name the failing request


def run_check(name: str, factory: Factory, spec: ProviderSpec | None = None, *,
              emulator: Any = None) -> None:
    """Run one check by name; raises :class:`CheckFailed` (or the unexpected error)."""
    if name not in CHECKS:
        raise ValueError(f"unknown conformance check {name!r}; known: {', '.join(CHECKS)}")
    with _emulator(emulator) as emu, Kit(factory, spec or spec_of(factory), emu) as kit:
        CHECKS[name](kit)


def run_conformance(factory: Factory, spec: ProviderSpec | None = None, *,
                    emulator: Any = None, checks: Iterable[str] | None = None,
                    raise_on_failure: bool = True) -> Report:
    """Run the conformance kit against ``factory(emulator, **overrides) -> provider``.

    ``emulator``: a running :class:`~insightforge.testing.emulator.Emulator` (default: one
    started for the run). ``checks``: names from :data:`CHECKS` (default: all). Raises
    :class:`ConformanceError` listing every failed check and why, unless
    ``raise_on_failure=False``; returns the :class:`Report`.
    """
    spec = spec or spec_of(factory)
    names = list(CHECKS) if checks is None else list(checks)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown conformance checks {unknown}; known: {', '.join(CHECKS)}")
    results = []
    with _emulator(emulator) as emu, Kit(factory, spec, emu) as kit:
        for name in names:
            started = time.monotonic()
            try:
                emu.reset()
                CHECKS[name](kit)
            except Exception as exc:
                results.append(CheckResult(name, False, _describe(exc),
                                           time.monotonic() - started))
            else:
                results.append(CheckResult(name, True, "", time.monotonic() - started))
        report = Report(kit.label, tuple(results))
    if raise_on_failure and not report.passed:
        raise ConformanceError(report)
    return report


@contextmanager
def _emulator(given: Any) -> Iterator[Any]:
    """The given emulator, or a fresh one for the duration."""
    if given is not None:
        yield given
        return
    from insightforge.testing.emulator import Emulator

    with Emulator() as own:
        yield own
