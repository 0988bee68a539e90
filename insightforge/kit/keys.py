"""The one vocabulary for "whose bucket is this request in", shared by ``Budget(scope=...)``,
``RateLimit(key=...)`` and anything else that counts per something. Pure.

=============  ======================================  ===============================
spec           meaning                                 bucket key
=============  ======================================  ===============================
``global``     one bucket for every request            ``global``
``route``      one bucket per set of routes below      ``route:openai:gpt-4o@https://...``
``tag:NAME``   one bucket per value of tag ``NAME``    ``NAME=VALUE`` (``NAME=<untagged>``)
a function     ``fn(request) -> str``                  ``key:<what it returned>``
=============  ======================================  ===============================

Requests without the tag share one ``<untagged>`` bucket with the same limit, so leaving a
tag off never escapes a limit. A bare name (``tenant``) is refused with the fix
(``tag:tenant``): one spelling, everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from insightforge.errors import ConfigError
from insightforge.types import Route

__all__ = ["UNTAGGED", "KeySpec", "bucket_key", "check_key_spec"]

UNTAGGED = "<untagged>"
KeySpec = str | Callable[[Any], str]


def check_key_spec(spec: Any, field: str = "key", allowed: Sequence[str] = (
        "global", "route")) -> KeySpec:
    """``spec`` validated: one of ``allowed``, ``tag:NAME``, or a function."""
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    hint = ""
    if isinstance(spec, str):
        text = spec.strip()
        if text in allowed:
            return text
        name = text[4:] if text.startswith("tag:") else text
        valid = bool(name) and name.replace("_", "").replace("-", "").replace(".", "").isalnum()
        if valid and text.startswith("tag:"):
            return text
        if valid:
            hint = f" (did you mean 'tag:{name}'?)"
    raise ConfigError(f"expected {', '.join(repr(a) for a in allowed)}, 'tag:<name>' "
                      f"(e.g. 'tag:tenant') or a function(request) -> str; got {spec!r}{hint}",
                      path=field)


def bucket_key(spec: KeySpec, request: Any, routes: Sequence[Route] = ()) -> str:
    """The bucket ``request`` counts in under ``spec`` (see the module docstring)."""
    if spec == "global":
        return "global"
    if spec == "route":
        return "route:" + "|".join(route.key for route in routes)
    if isinstance(spec, str):
        name = spec[4:]
        return f"{name}={request.tags.get(name) or UNTAGGED}"
    return "key:" + str(spec(request))
