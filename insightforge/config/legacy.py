"""The old single-provider form, ``llm: {provider, model, base_url, temperature,
api_key_env}``: recognised, upgraded with a ``DeprecationWarning``, and migrated.

:func:`migrate` is pure (document in, new document out) and is what ``insightforge config
migrate`` prints; :func:`upgrade` is the same plus the warning, used when loading. Unknown
legacy keys are reported with the nearest valid name, like everywhere else.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from insightforge.config.problems import Problems, key_path, unknown_key
from insightforge.errors import ConfigError

__all__ = ["LEGACY_KEYS", "is_legacy", "migrate", "migrate_text", "upgrade"]

LEGACY_KEYS = ("provider", "model", "base_url", "temperature", "api_key_env", "api_key",
               "timeout", "max_tokens")
_DEFAULT_KEYS = ("temperature", "max_tokens")


def is_legacy(doc: Any) -> bool:
    """Whether ``doc`` is in the old ``llm:`` form."""
    return isinstance(doc, Mapping) and "llm" in doc and "providers" not in doc


def migrate(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The new form of a legacy document (``${VAR}`` references are kept as written)."""
    llm = doc.get("llm")
    if not isinstance(llm, Mapping):
        raise ConfigError("expected a mapping like {provider: ollama, model: llama3.1}",
                          path="$.llm")
    problems = Problems()
    for key in llm:
        if key not in LEGACY_KEYS:
            problems.add(key_path("$.llm", key), unknown_key(key, LEGACY_KEYS))
    ptype = llm.get("provider")
    if not isinstance(ptype, str) or not ptype:
        problems.add("$.llm.provider", "required field missing (e.g. provider: ollama)")
    problems.raise_if_any()
    assert isinstance(ptype, str)
    spec: dict[str, Any] = {"type": ptype}
    for key in ("model", "base_url", "timeout", "api_key"):
        if key in llm:
            spec[key] = llm[key]
    if llm.get("api_key_env"):
        spec["api_key_ref"] = f"env:{llm['api_key_env']}"
    defaults = {k: llm[k] for k in _DEFAULT_KEYS if k in llm}
    if defaults:
        spec["defaults"] = defaults
    new: dict[str, Any] = {k: v for k, v in doc.items() if k != "llm"}
    new["providers"] = {ptype: spec}
    new["provider"] = ptype
    new.setdefault("stack", [])
    return {k: new[k] for k in ("providers", "provider", "stack", *new) if k in new}


def upgrade(doc: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`migrate` plus a ``DeprecationWarning`` saying how to rewrite the file."""
    warnings.warn("the `llm:` config form is deprecated; run `insightforge config migrate` "
                  "to rewrite it with providers: and stack:", DeprecationWarning, stacklevel=3)
    return migrate(doc)


def migrate_text(text: str, origin: str = "<string>") -> str:
    """Migrate YAML text; a document already in the new form comes back unchanged.
    ``origin`` (the file name) is what a YAML syntax error names."""
    import yaml

    from insightforge.config.load import read_document

    doc = read_document(text, origin)
    if not is_legacy(doc):
        return text
    return str(yaml.safe_dump(migrate(doc), sort_keys=False, default_flow_style=False))
