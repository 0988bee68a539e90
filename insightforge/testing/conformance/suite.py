"""The conformance kit as a pytest test module, one test per check and provider.

The pytest plugin (:mod:`insightforge.testing.pytest_plugin`) adds this module to the
collection when ``--insightforge-provider module:factory`` is given, and parametrizes
``insightforge_kit`` over the providers named. Nothing here runs otherwise.
"""

from __future__ import annotations

import pytest

from insightforge.testing.conformance.runner import CHECKS
from insightforge.testing.conformance.spec import Kit


@pytest.mark.parametrize("check", list(CHECKS))
def test_conformance(insightforge_kit: Kit, check: str) -> None:
    """The provider passes conformance check ``check`` (see the failure for what and why)."""
    insightforge_kit.emulator.reset()
    CHECKS[check](insightforge_kit)
