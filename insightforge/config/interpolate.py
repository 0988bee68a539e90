"""``${VAR}`` and ``${VAR:-default}`` in config strings, from the environment.

Rules: only string values are interpolated (never keys); ``$${`` writes a literal ``${``;
an unset variable without a default is a problem at that value's path, naming the
variable. Pure: the environment is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from insightforge.config.problems import Problems, index_path, key_path

__all__ = ["interpolate", "interpolate_text"]

_PATTERN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{([^}]*)\}?")


def interpolate_text(text: str, env: Mapping[str, str], path: str, problems: Problems) -> str:
    """``text`` with every ``${...}`` replaced; problems for unset or malformed ones."""

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        name, default, bad = match.group(1), match.group(2), match.group(3)
        if name is None:
            problems.add(path, f"malformed reference {whole!r}; write ${{VAR}} or "
                         "${VAR:-default}")
            return whole
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        del bad
        problems.add(path, f"environment variable {name} is not set; set it, or write "
                     f"${{{name}:-default}}")
        return ""

    return _PATTERN.sub(replace, text) if "$" in text else text


def interpolate(doc: Any, env: Mapping[str, str], problems: Problems, path: str = "$") -> Any:
    """A copy of ``doc`` with every string value interpolated."""
    if isinstance(doc, str):
        return interpolate_text(doc, env, path, problems)
    if isinstance(doc, Mapping):
        return {k: interpolate(v, env, problems, key_path(path, k)) for k, v in doc.items()}
    if isinstance(doc, list):
        return [interpolate(v, env, problems, index_path(path, i)) for i, v in enumerate(doc)]
    return doc
