"""The InsightForge pytest plugin (entry point ``pytest11: insightforge``).

Adds ``--insightforge-provider module:factory``: runs the provider conformance kit
(:mod:`insightforge.testing.conformance`) against that factory, unchanged.
Imports nothing heavy at load time: pytest loads this in every run.
"""

from __future__ import annotations

from typing import Any


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("insightforge", "InsightForge provider conformance kit")
    group.addoption("--insightforge-provider", action="append", default=[],
                    metavar="MODULE:FACTORY",
                    help="run the InsightForge conformance kit against this provider factory")
