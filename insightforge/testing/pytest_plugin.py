"""The InsightForge pytest plugin (entry point ``pytest11: insightforge``).

``pytest --insightforge-provider mypkg.kit:factory`` runs the provider conformance kit
(:mod:`insightforge.testing.conformance`), unchanged, against that factory: one test per
check, named ``test_conformance[mypkg.kit:factory-<check>]``. The option may be repeated.

Fixtures, for plugin authors who prefer their own test module:

* ``insightforge_emulator`` — a loopback emulator for the session (reset per use);
* ``insightforge_kit`` — a :class:`~insightforge.testing.conformance.Kit` for the provider
  named by ``--insightforge-provider`` (parametrized over every one given).

Rules of this module: pytest loads it in every run of every project that has InsightForge
installed, so at import time it imports nothing but the standard library.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

OPTION = "--insightforge-provider"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("insightforge", "InsightForge provider conformance kit")
    group.addoption(OPTION, action="append", default=[], metavar="MODULE:FACTORY",
                    dest="insightforge_provider",
                    help="run the InsightForge conformance kit against this provider "
                         "factory, factory(emulator, **overrides) -> provider (repeatable)")


def _targets(config: pytest.Config) -> list[str]:
    return list(config.getoption("insightforge_provider") or [])


def pytest_configure(config: pytest.Config) -> None:
    targets = _targets(config)
    if not targets:
        return
    from insightforge.testing.conformance import load_target, suite

    for target in targets:  # a typo stops the run once, with the fix, not in every test
        try:
            load_target(target)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None

    path = str(suite.__file__)
    if path not in config.args:
        config.args.append(path)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "insightforge_target" in metafunc.fixturenames:
        targets = _targets(metafunc.config)
        if not targets:
            metafunc.parametrize("insightforge_target", [pytest.param(
                None, marks=pytest.mark.skip(reason=f"pass {OPTION} module:factory"))])
        else:
            metafunc.parametrize("insightforge_target", targets, scope="session")


@pytest.fixture(scope="session")
def insightforge_emulator() -> Iterator[Any]:
    """A loopback emulator for the session; reset it (``.reset()``) before scripting."""
    from insightforge.testing.emulator import Emulator

    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def insightforge_kit(insightforge_target: str, insightforge_emulator: Any) -> Iterator[Any]:
    """The conformance kit for the provider named by ``--insightforge-provider``."""
    from insightforge.testing.conformance import Kit, load_target

    try:
        factory, spec = load_target(insightforge_target)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    insightforge_emulator.reset()
    with Kit(factory, spec, insightforge_emulator) as kit:
        yield kit
