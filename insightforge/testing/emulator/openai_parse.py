"""The OpenAI Chat Completions request, read as a strict server reads it.

What lives here: :func:`parse_chat` (a body -> the neutral `ChatInput`) with the checks
OpenAI makes: content parts (``text``; ``image_url`` with an ``http(s)`` or base64 ``data:``
URL of a real image; ``input_audio`` with ``wav``/``mp3`` base64 data; ``file`` with a
``file_data`` data URL) and only user messages carrying media; ``response_format``
(``json_schema`` needs a name and, with ``strict``, a closed schema); reasoning models
(``o1``.., ``gpt-5``..) reason always, take ``reasoning_effort`` and
``max_completion_tokens`` but refuse ``max_tokens`` and a temperature other than 1, which
other models take; ``parallel_tool_calls`` only with tools; ``prompt_cache_retention``.
Also shared by the Azure and TGI wires. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .media import IMAGE_TYPES, check_media, data_url, decode_b64, describe
from .replies import ChatInput, Turn
from .schema_instance import strict_problem
from .wire_common import ApiError, opt_int, req_str, stops_of

__all__ = ["REASONING_MODEL", "parse_chat", "prefix_turns"]

REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
"""Models that reason before answering."""
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
          "tool": "tool", "function": "tool"}
_PART_TYPES = "'text', 'image_url', 'input_audio', 'refusal', and 'file'"
_AUDIO = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_EFFORTS = ("none", "minimal", "low", "medium", "high")


def _image(part: Mapping[str, Any], where: str) -> str:
    inner = part.get("image_url")
    url = inner.get("url") if isinstance(inner, Mapping) else None
    if not isinstance(url, str):
        raise ApiError(400, f"{where}.image_url.url: a string is required")
    detail = inner.get("detail") if isinstance(inner, Mapping) else None
    if detail not in (None, "auto", "low", "high"):
        raise ApiError(400, f"{where}.image_url.detail: must be 'auto', 'low' or 'high'")
    if url.startswith(("http://", "https://")):
        return describe("image", url=url)
    declared, data = data_url(url, f"{where}.image_url.url")
    return describe("image", check_media(declared, data, IMAGE_TYPES, where), data)


def _audio(part: Mapping[str, Any], where: str) -> str:
    inner = part.get("input_audio")
    fmt = inner.get("format") if isinstance(inner, Mapping) else None
    if fmt not in _AUDIO:
        raise ApiError(400, f"{where}.input_audio.format: must be 'wav' or 'mp3'")
    data = decode_b64(inner.get("data") if isinstance(inner, Mapping) else None,
                      f"{where}.input_audio.data")
    return describe("audio", check_media(_AUDIO[fmt], data, tuple(_AUDIO.values()), where), data)


def _file(part: Mapping[str, Any], where: str) -> str:
    inner = part.get("file")
    if not isinstance(inner, Mapping):
        raise ApiError(400, f"{where}.file: an object is required")
    if isinstance(inner.get("file_id"), str):
        return describe("file", url=f"file-id:{inner['file_id']}")
    declared, data = data_url(str(inner.get("file_data") or ""), f"{where}.file.file_data")
    if not isinstance(inner.get("filename"), str):
        raise ApiError(400, f"{where}.file.filename: a filename is required with file_data")
    check_media(declared, data, ("application/pdf",), where)
    return describe("file", declared, data)


def _content(message: Mapping[str, Any], role: str, where: str) -> str:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise ApiError(400, f"{where}.content: must be a string or an array of parts")
    texts, media = [], []
    for index, part in enumerate(content):
        here = f"{where}.content[{index}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise ApiError(400, f"{here}.text: a string is required")
            texts.append(part["text"])
        elif kind in ("image_url", "input_audio", "file"):
            if role != "user":
                raise ApiError(400, f"{here}: {kind} parts are only allowed for messages "
                                    "with role 'user'")
            reader = {"image_url": _image, "input_audio": _audio, "file": _file}[kind]
            media.append(reader(part, here))
        else:
            raise ApiError(400, f"{here}.type: invalid value {kind!r}; supported values are: "
                                f"{_PART_TYPES}")
    return "\n".join(texts + media)


def _turn(message: Any, index: int) -> Turn:
    if not isinstance(message, Mapping):
        raise ApiError(400, "each message must be an object")
    role = _ROLES.get(str(message.get("role")))
    if role is None:
        raise ApiError(400, f"unknown message role {message.get('role')!r}")
    return Turn(role, _content(message, role, f"messages[{index}]"))


def _tools(tools: Any) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    if tools is None:
        return (), ()
    if not isinstance(tools, list):
        raise ApiError(400, "'tools' must be a list")
    names, schemas = [], []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ApiError(400, "each tool needs function.name")
        names.append(function["name"])
        schemas.append(function.get("parameters"))
    return tuple(names), tuple(schemas)


def _forced_tool(choice: Any) -> str | None:
    if isinstance(choice, Mapping):
        function = choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return str(function["name"])
        if isinstance(choice.get("name"), str):
            return str(choice["name"])
    return None


def _format(body: Mapping[str, Any]) -> tuple[bool, Any]:
    """(json mode, schema) of ``response_format``, checked."""
    fmt = body.get("response_format")
    if not isinstance(fmt, Mapping) or fmt.get("type") not in ("json_object", "json_schema"):
        return False, None
    if fmt["type"] == "json_object":
        return True, None
    inner = fmt.get("json_schema")
    if not isinstance(inner, Mapping) or not _NAME.match(str(inner.get("name") or "")):
        raise ApiError(400, "response_format.json_schema.name: required, letters, digits, _ "
                            "and - only (at most 64)")
    schema = inner.get("schema")
    if not isinstance(schema, Mapping):
        raise ApiError(400, "response_format.json_schema.schema: a JSON Schema object is "
                            "required")
    problem = strict_problem(schema) if inner.get("strict") is True else None
    if problem:
        raise ApiError(400, f"Invalid schema for response_format '{inner['name']}': {problem}")
    return True, schema


def _reasoning(body: Mapping[str, Any], model: str) -> bool:
    """Whether the model reasons; refuses what reasoning models (or others) do not take."""
    effort = body.get("reasoning_effort")
    if not REASONING_MODEL.match(model):
        if effort is not None:
            raise ApiError(400, "Unsupported parameter: 'reasoning_effort' is not supported "
                                "with this model.")
        return False
    if effort is not None and effort not in _EFFORTS:
        raise ApiError(400, f"Invalid value for 'reasoning_effort': {effort!r}")
    if body.get("max_tokens") is not None:
        raise ApiError(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                            "model. Use 'max_completion_tokens' instead.")
    if body.get("temperature") not in (None, 1, 1.0):
        raise ApiError(400, f"Unsupported value: 'temperature' does not support "
                            f"{body['temperature']} with this model. Only the default (1) "
                            "value is supported.")
    return effort != "none"


def parse_chat(body: Mapping[str, Any], model: str | None = None) -> ChatInput:
    """A Chat Completions request as a `ChatInput` (`model` overrides the body's)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list")
    model = model or req_str(body, "model")
    limit = opt_int(body, "max_completion_tokens")
    choice = body.get("tool_choice")
    names, schemas = _tools(body.get("tools"))
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not names:
        raise ApiError(400, "Invalid value for 'parallel_tool_calls': only allowed when "
                            "'tools' are specified.")
    if body.get("prompt_cache_retention") not in (None, "in_memory", "24h"):
        raise ApiError(400, "Invalid value for 'prompt_cache_retention': supported values "
                            "are 'in_memory' and '24h'.")
    json_mode, schema = _format(body)
    return ChatInput(
        model=model,
        turns=tuple(_turn(message, i) for i, message in enumerate(messages)),
        max_tokens=limit if limit is not None else opt_int(body, "max_tokens"),
        stop=stops_of(body.get("stop")),
        tools=names,
        tool_choice_none=choice == "none",
        forced_tool=_forced_tool(choice),
        json_mode=json_mode,
        schema=schema,
        tool_schemas=schemas,
        reasoning=_reasoning(body, model),
        parallel=parallel is not False,
    )


def prefix_turns(chat: ChatInput) -> list[tuple[str, str]]:
    """The turns OpenAI's automatic cache may hold: all but the last."""
    return [(turn.role, turn.text) for turn in chat.turns[:-1]]
