"""A pytest plugin that fails the session if a test key appears in any output of the run.

Enable it with one line in ``tests/conftest.py``::

    pytest_plugins = ["tests.leakcheck"]

What it watches, for the whole session: every log record at every level (a handler on the
root logger, which is lowered to level 1 for the run), every test report's failure text
(``longrepr``) and captured stdout/stderr/log sections, and every warning message. A value
counts as leaked in plain form, URL-encoded, or ``repr``-escaped. At the end it prints where
each leak was seen and turns the exit status into "tests failed".

Tests that must handle a key in the open (feeding it to a provider) are fine: only *output*
is watched. A test that deliberately prints or logs a key can opt out with
``@pytest.mark.leaks_allowed`` (its report sections are then skipped).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable
from typing import Any

import pytest

from tests.conftest import TEST_KEYS

__all__ = ["LeakWatch", "pytest_configure"]


def _forms(values: Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        for form in {value, urllib.parse.quote(value, safe=""), repr(value)[1:-1]}:
            out.append((value, form))
    return out


class LeakWatch(logging.Handler):
    """The plugin object: a logging handler plus pytest hooks (see the module docstring)."""

    def __init__(self, values: Iterable[str] = TEST_KEYS) -> None:
        super().__init__(level=1)
        self.forms = _forms(values)
        self.found: list[tuple[str, str]] = []  # (where, masked key)
        self._old_level = logging.WARNING
        self._current = "<collection>"
        self._allowed = False

    # -- scanning -------------------------------------------------------------------------
    def scan(self, text: str, where: str) -> None:
        if not text:
            return
        for value, form in self.forms:
            if form in text:
                self.found.append((where, f"{value[:6]}…({len(value)} chars)"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg!r} {record.args!r}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f"\n{record.exc_info[1]!r}"
        self.scan(text, f"log record {record.name} during {self._current}")

    # -- pytest hooks ---------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        root = logging.getLogger()
        self._old_level = root.level
        root.addHandler(self)
        root.setLevel(1)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._current = item.nodeid
        self._allowed = item.get_closest_marker("leaks_allowed") is not None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self._allowed:
            return
        where = f"{report.nodeid} ({report.when})"
        if report.longrepr is not None:
            self.scan(str(report.longreprtext), f"failure report of {where}")
        for title, content in report.sections:
            self.scan(content, f"{title} of {where}")

    def pytest_warning_recorded(self, warning_message: Any, when: str, nodeid: str,
                                location: Any) -> None:
        self.scan(str(warning_message.message), f"warning in {nodeid or when}")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._old_level)
        if self.found:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.found:
            return
        terminalreporter.section("test keys leaked", sep="=", red=True, bold=True)
        for where, key in sorted(set(self.found)):
            terminalreporter.write_line(f"{key} appeared in {where}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "leaks_allowed: this test prints a test key on purpose")
    if not config.pluginmanager.has_plugin("insightforge-leakcheck"):
        config.pluginmanager.register(LeakWatch(), "insightforge-leakcheck")
