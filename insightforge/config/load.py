"""Finding and reading config files: ``--config``, ``INSIGHTFORGE_CONFIG``,
``./insightforge.yaml``, then the user config dir.

What lives here: discovery (:func:`find_config`), reading YAML into a document with clear
errors (:func:`read_document`), and :func:`load_document` that turns a path, a YAML string
or a dict into an interpolated, legacy-upgraded document. What must not: structuring or
building (``parse``/``build``).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from insightforge.config.interpolate import interpolate
from insightforge.config.legacy import is_legacy, upgrade
from insightforge.config.problems import Problems
from insightforge.errors import ConfigError

__all__ = ["FILENAME", "candidates", "find_config", "load_document", "prepare",
           "read_document", "source_folder", "user_config_dir", "user_data_dir"]

FILENAME = "insightforge.yaml"
APP = "insightforge"


def user_config_dir() -> Path:
    """The per-user config directory (what ``click.get_app_dir("insightforge")`` gives)."""
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / APP
    if sys.platform == "darwin" and not os.environ.get("XDG_CONFIG_HOME"):
        return Path.home() / "Library" / "Application Support" / APP
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP


def user_data_dir() -> Path:
    """The per-user data folder: the CLI's budget and rate-limit stores and its chat
    history live here. ``$INSIGHTFORGE_DATA_DIR``, else ``$XDG_DATA_HOME/insightforge``
    (``~/.local/share/insightforge``) on Linux, ``~/Library/Application Support/insightforge``
    on macOS, ``%LOCALAPPDATA%\\insightforge`` on Windows."""
    explicit = os.environ.get("INSIGHTFORGE_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / APP
    if sys.platform == "darwin" and not os.environ.get("XDG_DATA_HOME"):
        return Path.home() / "Library" / "Application Support" / APP
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP


def candidates(explicit: str | os.PathLike[str] | None = None) -> list[tuple[Path, str]]:
    """Where a config may be, in order, with why each place is looked at."""
    found: list[tuple[Path, str]] = []
    if explicit:
        found.append((Path(explicit), "--config"))
    env = os.environ.get("INSIGHTFORGE_CONFIG")
    if env:
        found.append((Path(env), "INSIGHTFORGE_CONFIG"))
    found.append((Path.cwd() / FILENAME, "current directory"))
    found.append((user_config_dir() / FILENAME, "user config dir"))
    return found


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use, or ``None``; a named file (flag or env) must exist."""
    for path, why in candidates(explicit):
        if why in ("--config", "INSIGHTFORGE_CONFIG"):
            if not path.is_file():
                raise ConfigError(f"config file {str(path)!r} (from {why}) does not exist; "
                                  "create it with `insightforge config init`")
            return path
        if path.is_file():
            return path
    return None


@functools.cache
def _loader() -> Any:
    """PyYAML's safe loader with YAML 1.2 booleans: only ``true``/``false``. YAML 1.1 also
    reads ``on``/``off``/``yes``/``no`` as booleans, which turned ``fallback: {on: [...]}``
    into a ``True`` key; here they stay the words they are."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    bool_tag = "tag:yaml.org,2002:bool"
    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != bool_tag]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver(bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))
    return Loader


def read_document(text: str, origin: str = "<string>") -> Any:
    """Parse YAML text; a syntax error becomes a ``ConfigError`` with line and column."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{origin}{where}: {problem}", path="$") from None


def source_folder(source: str | os.PathLike[str] | Mapping[str, Any]) -> Path | None:
    """The folder of the config file ``source`` names (absolute), or ``None`` when it is a
    document or YAML text: relative paths in a file start there (:mod:`.paths`)."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = Path(source)
    text_like = isinstance(source, str) and ("\n" in source or (":" in source
                                             and not path.suffix))
    if text_like and not _is_file(path):
        return None
    return Path(os.path.abspath(path.expanduser())).parent


def _raw(source: str | os.PathLike[str] | Mapping[str, Any]) -> Any:
    if not isinstance(source, (str, os.PathLike)):
        return source  # already a document (a dict, or a wrong shape parse will report)
    path = Path(source)
    if source_folder(source) is not None:
        try:
            return read_document(path.read_text(encoding="utf-8"), str(path))
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r} does not exist", path="$") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL byte
            raise ConfigError(f"cannot read {str(path)!r}: {exc}", path="$") from None
    return read_document(str(source))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # YAML text too long (or too odd) to be a file name
        return False


def prepare(source: str | os.PathLike[str] | Mapping[str, Any],
            env: Mapping[str, str] | None = None) -> tuple[Any, Problems]:
    """The document from a path, YAML text or a dict, legacy-upgraded and interpolated,
    with the interpolation problems (reported together with the rest by ``parse``). From a
    file, its relative paths are made absolute against the file's folder (:mod:`.paths`)."""
    from insightforge.config.paths import anchor

    doc = _raw(source)
    if doc is None:
        raise ConfigError("the config is empty; run `insightforge config init`", path="$")
    if is_legacy(doc):
        doc = upgrade(doc)
    problems = Problems()
    doc = interpolate(doc, os.environ if env is None else env, problems)
    folder = source_folder(source)
    if folder is not None:
        doc = anchor(doc, folder)
    return doc, problems


def load_document(source: str | os.PathLike[str] | Mapping[str, Any],
                  env: Mapping[str, str] | None = None) -> Any:
    """Like :func:`prepare`, raising at once on interpolation problems."""
    doc, problems = prepare(source, env)
    problems.raise_if_any()
    return doc
