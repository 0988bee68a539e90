"""Relative paths in a config file start at the file's folder, not the working directory.

What lives here: :func:`anchor`, run once by :func:`insightforge.config.load.prepare` on a
document read from a file, which makes every path-like layer option absolute against that
file's folder — an audit ``sink``, a SQLite ``store`` or ``ledger``
(``sqlite:///budget.db``, ``sqlite:budget.db``, ``budget.db``), in nested fallback stacks
too — and expands ``~``. So ``insightforge budget status`` run from any folder reads the
ledger ``insightforge chat`` writes. Memory stores, Redis URLs and ``${VAR}`` values that
became absolute are left alone; a document from a dict or YAML text keeps the working
directory (there is no file to be relative to). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["PATH_OPTIONS", "STORE_OPTIONS", "anchor", "anchor_path", "anchor_store"]

PATH_OPTIONS = frozenset({"sink"})  # options that name a file
STORE_OPTIONS = frozenset({"store", "ledger"})  # options that take a store spec
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def anchor_path(value: str, base: Path) -> str:
    """``value`` as an absolute path: ``~`` expanded, a relative path joined to ``base``."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base / path)


def anchor_store(spec: str, base: Path) -> str:
    """A store spec whose SQLite file is absolute (``sqlite:////abs/file.db``); any other
    spec (memory, Redis, something malformed the layer will report) as written."""
    text = spec.strip()
    if text.startswith("sqlite:"):
        rest = text[len("sqlite:"):]
        path = rest[3:] if rest.startswith("///") else rest.lstrip("/") if rest.startswith(
            "//") else rest
        if not path or "\0" in path:
            return spec
        return "sqlite:///" + anchor_path(path, base)
    if text.endswith(_SQLITE_SUFFIXES) and "://" not in text and "\0" not in text:
        return anchor_path(text, base)
    return spec


def _options(options: Any, base: Path) -> Any:
    if not isinstance(options, Mapping):
        return options
    out = dict(options)
    for key, value in options.items():
        if not isinstance(value, str) or not value:
            continue
        if key in PATH_OPTIONS:
            out[key] = anchor_path(value, base)
        elif key in STORE_OPTIONS:
            out[key] = anchor_store(value, base)
    return out


def _alternates(value: Any, base: Path) -> Any:
    if isinstance(value, list):
        return [_alternate(item, base) for item in value]
    return _alternate(value, base)


def _alternate(item: Any, base: Path) -> Any:
    if isinstance(item, Mapping) and "stack" in item:
        return {**item, "stack": _layers(item["stack"], base)}
    return item


def _layer(entry: Any, base: Path) -> Any:
    if not isinstance(entry, Mapping) or len(entry) != 1:
        return entry
    ((name, value),) = entry.items()
    if name == "fallback":
        if isinstance(value, Mapping) and "alternates" in value:
            return {name: {**value, "alternates": _alternates(value["alternates"], base)}}
        return {name: _alternates(value, base)}
    return {name: _options(value, base)}


def _layers(layers: Any, base: Path) -> Any:
    return [_layer(entry, base) for entry in layers] if isinstance(layers, list) else layers


def anchor(doc: Any, base: Path) -> Any:
    """A copy of config document ``doc`` with its path-like options absolute against
    ``base`` (the config file's folder). Shapes it does not know are left for the parser
    to report."""
    if not isinstance(doc, Mapping) or "stack" not in doc:
        return doc
    return {**doc, "stack": _layers(doc["stack"], base)}
