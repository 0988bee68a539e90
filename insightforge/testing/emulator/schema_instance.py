"""JSON Schemas as the emulated model honours them: a conforming answer, and OpenAI's
strict-mode rules.

What lives here: :func:`instance` (the deterministic value the emulated model answers for
a schema: strings are the prompt, integers its word count, booleans true, every object
property filled, arrays of ``max(minItems, 1)`` items, the first ``enum``/``anyOf``
choice, local ``$ref`` resolved), :func:`tool_arguments` (a tool call's arguments:
``{"input": <prompt>}`` when the tool's schema admits it, else an instance) and
:func:`strict_problem` (why a schema is not valid for OpenAI's ``strict: true``, or None).
Pure functions, no vendor names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["instance", "strict_problem", "tool_arguments"]

_DATES = {"date": "2023-11-14", "date-time": "2023-11-14T22:13:20Z", "time": "22:13:20Z",
          "email": "user@example.com", "uri": "https://example.com/"}


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for key in ref[2:].split("/"):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema else "string"


def _string(schema: Mapping[str, Any], text: str) -> str:
    value = _DATES.get(str(schema.get("format")), text)
    most, least = schema.get("maxLength"), schema.get("minLength")
    if isinstance(most, int):
        value = value[:most]
    if isinstance(least, int) and len(value) < least:
        value = value.ljust(least, "x")
    return value


def _number(schema: Mapping[str, Any], text: str) -> int:
    value = len(text.split())
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(low, (int, float)) and value < low:
        value = int(low) if low == int(low) else int(low) + 1
    if isinstance(high, (int, float)) and value > high:
        value = int(high)
    return value


def instance(schema: Any, text: str, root: Any = None) -> Any:
    """The value the emulated model answers for `schema`, given the prompt `text`."""
    if not isinstance(schema, Mapping):
        return text
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return instance(options[0], text, root)
    kind = _type(schema)
    if kind == "object":
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        return {name: instance(sub, text, root) for name, sub in props.items()}
    if kind == "array":
        least = schema.get("minItems")
        count = max(least if isinstance(least, int) else 0, 1)
        if schema.get("maxItems") == 0:
            count = 0
        return [instance(schema.get("items", {}), text, root) for _ in range(count)]
    if kind == "integer":
        return _number(schema, text)
    if kind == "number":
        return float(_number(schema, text))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, text)


def tool_arguments(schema: Any, text: str) -> dict[str, Any]:
    """``{"input": text}`` when `schema` admits it, else a conforming instance."""
    if not isinstance(schema, Mapping):
        return {"input": text}
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    required = schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    closed = schema.get("additionalProperties") is False
    if required <= {"input"} and ("input" in props or not (props or closed)):
        return {"input": text}
    value = instance(schema, text)
    return value if isinstance(value, dict) else {"input": text}


def strict_problem(schema: Any, path: str = "") -> str | None:
    """Why `schema` breaks OpenAI's strict-mode rules (every object closed with
    ``additionalProperties: false`` and every property required), or None."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            found = strict_problem(item, f"{path}/{index}")
            if found:
                return found
        return None
    if not isinstance(schema, Mapping):
        return None
    if _type(schema) == "object" and "$ref" not in schema and not any(
            k in schema for k in ("anyOf", "oneOf", "allOf")):
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        where = path or "(root)"
        if schema.get("additionalProperties") is not False:
            return (f"In context={where}, 'additionalProperties' is required to be supplied "
                    "and to be false.")
        required = schema.get("required")
        missing = sorted(set(props) - set(required if isinstance(required, list) else []))
        if missing:
            return (f"In context={where}, 'required' is required to be supplied and to be an "
                    f"array including every key in properties. Missing '{missing[0]}'.")
    for key, value in schema.items():
        if isinstance(value, (Mapping, list)) and key not in ("enum", "const", "required"):
            found = strict_problem(value, f"{path}/{key}")
            if found:
                return found
    return None
