"""``${VAR}`` / ``${VAR:-default}`` interpolation: values, escapes, and problems with paths."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from insightforge.config.interpolate import interpolate, interpolate_text
from insightforge.config.problems import Problems


def expand(text: str, env: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
    problems = Problems()
    return interpolate_text(text, env, "$.x", problems), problems.items


def test_variables_and_defaults() -> None:
    env = {"HOST": "example.com", "EMPTY": ""}
    assert expand("https://${HOST}/v1", env) == ("https://example.com/v1", [])
    assert expand("${PORT:-8080}", env) == ("8080", [])
    assert expand("${EMPTY:-fallback}", env) == ("fallback", [])
    assert expand("${HOST:-other}", env) == ("example.com", [])
    assert expand("${A:-}", env) == ("", [])


def test_escape_and_plain_dollars() -> None:
    assert expand("$${HOST} costs $5", {"HOST": "h"}) == ("${HOST} costs $5", [])


def test_unset_variable_is_a_problem_naming_it() -> None:
    text, problems = expand("key=${OPENAI_API_KEY}", {})
    assert text == "key="
    assert problems == [("$.x", "environment variable OPENAI_API_KEY is not set; set it, "
                                "or write ${OPENAI_API_KEY:-default}")]


def test_malformed_reference() -> None:
    _, problems = expand("${not valid}", {})
    assert problems and "malformed" in problems[0][1]


def test_documents_keep_keys_and_non_strings() -> None:
    problems = Problems()
    doc = {"${K}": ["${V}", 3, None, {"t": True}]}
    assert interpolate(doc, {"K": "k", "V": "v"}, problems) == {"${K}": ["v", 3, None,
                                                                         {"t": True}]}
    assert not problems


def test_paths_point_into_the_document() -> None:
    problems = Problems()
    interpolate({"providers": {"main": {"api_key": "${NOPE}"}}, "stack": [{"a": "${X}"}]},
                {}, problems)
    assert [p for p, _ in problems.items] == ["$.providers.main.api_key", "$.stack[0].a"]


names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True)
plain = st.text(st.characters(blacklist_characters="$"), max_size=30)


@given(plain)
def test_text_without_dollars_is_unchanged(text: str) -> None:
    assert expand(text, {}) == (text, [])


@given(st.dictionaries(names, st.text(st.characters(blacklist_characters="$"), min_size=1,
                                      max_size=10), min_size=1), st.data())
def test_set_variables_always_substitute(env: dict[str, str], data: Any) -> None:
    name = data.draw(st.sampled_from(sorted(env)))
    prefix, suffix = data.draw(plain), data.draw(plain)
    assert expand(f"{prefix}${{{name}}}{suffix}", env) == (f"{prefix}{env[name]}{suffix}", [])
