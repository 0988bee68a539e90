"""Layer options in a config, checked by the layers themselves: no copy of them lives here.

A registered layer that is an attrs class (every built-in one) is structured from its
options with the one config converter and ``cattrs.transform_error``, so its own converters
and validators decide, and every problem gets its ``$.path``. A field is an option when it
takes a value a YAML file can hold: it has a converter, or a plain type (numbers, strings,
booleans, their optional and tuple forms); callables (clocks, estimators) are for Python
only. A layer that is a plain function is checked by calling it. Pure, apart from building
the layer objects (which open nothing).
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from insightforge import registry
from insightforge.config.converter import config_converter
from insightforge.config.problems import Problems, from_cattrs, key_path, unknown_key
from insightforge.errors import ConfigError

__all__ = ["check_layer", "layer_fields", "option_docs"]

_PLAIN = (str, int, float, bool, Decimal, type(None))


def _plain_hint(hint: Any) -> bool:
    if hint in _PLAIN:
        return True
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, __import__("types").UnionType, tuple):
        return bool(args) and all(a is Ellipsis or _plain_hint(a) for a in args)
    return False


@functools.cache
def layer_fields(cls: type) -> dict[str, attrs.Attribute[Any]]:
    """The options of layer class ``cls``, by the name a config writes (the field's alias)."""
    hints = typing.get_type_hints(cls)
    found = {}
    for field in attrs.fields(cls):
        if not field.init or field.metadata.get("config") is False:
            continue
        if field.converter is not None or _plain_hint(hints.get(field.name)) \
                or field.metadata.get("config") is True:
            found[field.alias or field.name] = field
    return found


@functools.cache
def _structure(cls: type) -> Callable[[Any, Any], Any]:
    conv = config_converter()
    skipped: dict[str, Any] = {f.name: override(omit=True) for f in attrs.fields(cls)
                               if f.init and (f.alias or f.name) not in layer_fields(cls)}
    return make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True,
                                  _cattrs_prefer_attrib_converters=True,
                                  _cattrs_detailed_validation=True, _cattrs_use_alias=True,
                                  **skipped)


def check_layer(name: str, raw: dict[str, Any], path: str, problems: Problems,
                skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The options of layer ``name``, checked by building it; problems get their paths.

    Returns the options to build it with (values of plain fields structured, the others as
    written — the layer's converters take them). ``skip`` names options handled elsewhere
    (``fallback``'s alternates).
    """
    try:
        factory = registry.layer_factory(name)
    except ConfigError as exc:
        problems.add(path, exc.message)
        return {}
    if name == "fallback":  # its alternates are positional; its options: on, context, resume
        return _check_fallback(raw, path, problems, skip)
    if not (isinstance(factory, type) and attrs.has(factory)):
        return _check_callable(name, factory, raw, path, problems)
    fields = layer_fields(factory)
    given: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(key, str) and key in fields:
            given[key] = value
        elif key not in skip:
            problems.add(key_path(path, key), unknown_key(key, fields))
    before = len(problems)
    try:
        layer = _structure(factory)(given, factory)
    except (cattrs.ClassValidationError, cattrs.IterableValidationError) as exc:
        problems.extend(from_cattrs(exc, path))
        return {}
    except ConfigError as exc:
        problems.add(path if exc.path == "$" else key_path(path, exc.path.lstrip("$.")),
                     exc.detail)
        return {}
    except (TypeError, ValueError, ArithmeticError) as exc:
        problems.add(path, _sentence(exc))
        return {}
    if len(problems) > before:
        return {}
    hints = typing.get_type_hints(factory)
    return {key: getattr(layer, fields[key].name)
            if fields[key].converter is None and _plain_hint(hints.get(fields[key].name))
            else value for key, value in given.items()}


def _check_fallback(raw: dict[str, Any], path: str, problems: Problems,
                    skip: tuple[str, ...]) -> dict[str, Any]:
    from insightforge.kit.rules import error_rule

    known = ("on", "context", "resume")
    given = {k: v for k, v in raw.items() if k in known}
    for key in raw:
        if key not in known and key not in skip:
            problems.add(key_path(path, key), unknown_key(key, ("alternates", *known)))
    for switch in ("context", "resume"):
        if switch in given and not isinstance(given[switch], bool):
            problems.add(key_path(path, switch), f"{switch} must be true or false, got "
                         f"{given[switch]!r}")
            return {}
    try:
        error_rule(given.get("on"), "on")
    except ConfigError as exc:
        problems.add(key_path(path, "on"), exc.detail)
        return {}
    return given


def _check_callable(name: str, factory: Any, raw: dict[str, Any], path: str,
                    problems: Problems) -> dict[str, Any]:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return dict(raw)
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        names = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        unknown = [k for k in raw if k not in names]
        for key in unknown:
            problems.add(key_path(path, key), unknown_key(key, names))
        if unknown:
            return {}
    try:
        factory(**raw)
    except ConfigError as exc:
        problems.add(path if exc.path == "$" else key_path(path, exc.path.lstrip("$.")),
                     exc.detail)
    except (TypeError, ValueError) as exc:
        problems.add(path, f"bad options for layer {name!r}: {_sentence(exc)}")
    return dict(raw)


def _sentence(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


_ATTRIBUTE = re.compile(r"^ {4}([a-z_][a-z0-9_, /]*):\s+(.*)$")


@functools.cache
def option_docs(cls: type) -> dict[str, str]:
    """Each option's description, read from the class docstring's ``Attributes:`` section."""
    doc = inspect.getdoc(cls) or ""
    _, _, section = doc.partition("Attributes:")
    found: dict[str, str] = {}
    current: list[str] = []
    for line in section.splitlines():
        match = _ATTRIBUTE.match(line)
        if match:
            current = [n.strip() for n in re.split(r"[,/]", match.group(1)) if n.strip()]
            for name in current:
                found[name] = match.group(2).strip()
        elif line.strip() and current:
            for name in current:
                found[name] += " " + line.strip()
    return found
