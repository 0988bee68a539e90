"""The provider conformance kit: checks any provider must pass against the emulator.

Two ways in:

* from any test: ``run_conformance(factory, ProviderSpec(api="openai", ...))`` runs every
  check and raises :class:`ConformanceError` listing each failed check and why;
* from the shell: ``pytest --insightforge-provider mypkg.kit:factory`` (the pytest plugin
  installed with InsightForge) runs the same checks, one pytest test each.

A factory is ``factory(emulator, **overrides) -> provider`` (see :mod:`.spec`); the checks
are listed in :data:`CHECKS`. Modules: ``spec`` (metadata, the kit context), ``chat_checks``,
``error_checks``, ``life_checks``, ``media_checks`` (images, audio, files),
``feature_checks`` (structured output, reasoning, prompt caching, parallel tools),
``capability_support``, ``runner``, ``suite`` (the pytest test module).

Capabilities: the kit reads ``provider.capabilities`` (a frozenset of ``images``,
``audio``, ``files``, ``structured_output``, ``reasoning``, ``prompt_caching``,
``parallel_tools``) and tests each declared one against the emulator and each other one as
``Unsupported`` before any network call (prompt-cache marks, being hints, as ignored).
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
