"""The provider conformance kit: checks any provider must pass against the emulator.

Two ways in:

* from any test: ``run_conformance(factory, ProviderSpec(api="openai", ...))`` runs every
  check and raises :class:`ConformanceError` listing each failed check and why;
* from the shell: ``pytest --insightforge-provider mypkg.kit:factory`` (the pytest plugin
  installed with InsightForge) runs the same checks, one pytest test each.

A factory is ``factory(emulator, **overrides) -> provider`` (see :mod:`.spec`); the checks
are listed in :data:`CHECKS`. Modules: ``spec`` (metadata, the kit context), ``chat_checks``,
``error_checks``, ``life_checks``, ``runner``, ``suite`` (the pytest test module).
"""

from insightforge.testing.conformance.runner import (
    CHECKS,
    CheckResult,
    ConformanceError,
    Report,
    run_check,
    run_conformance,
)
from insightforge.testing.conformance.spec import (
    CheckFailed,
    Factory,
    Kit,
    ProviderSpec,
    conformance_factory,
    load_target,
    spec_of,
)

__all__ = [
    "CHECKS",
    "CheckFailed",
    "CheckResult",
    "ConformanceError",
    "Factory",
    "Kit",
    "ProviderSpec",
    "Report",
    "conformance_factory",
    "load_target",
    "run_check",
    "run_conformance",
    "spec_of",
]
