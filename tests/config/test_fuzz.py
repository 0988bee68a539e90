"""Fuzzed config documents never raise anything but ``ConfigError`` with ``$.`` paths.

Three generators: arbitrary YAML-like shapes, valid documents with one value replaced by
an arbitrary one (the realistic mistake), and arbitrary YAML text.
"""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightforge.config import load_config
from insightforge.errors import ConfigError

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["openai", "ollama", "azure", "retry", "cache", "budget",
                                     "fallback", "${X}", "${X:-1}", "-1", "1e999", "day"]))
keys = st.one_of(st.text(max_size=10), st.sampled_from(
    ["providers", "stack", "provider", "prices", "type", "model", "timeout", "api_key",
     "api_key_ref", "ttl", "limit_usd", "attempts", "rpm", "llm", "defaults", "options",
     "price", "input", "output", "alternates", "version"]), st.integers(0, 3))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=25)

VALID: dict[str, Any] = {
    "providers": {"main": {"type": "openai", "model": "gpt-4o-mini", "timeout": 30,
                           "api_key_ref": "keyring:main"},
                  "local": {"type": "ollama", "model": "llama3.1",
                            "defaults": {"temperature": 0.3}}},
    "stack": [{"cache": {"ttl": 60}}, {"budget": {"limit_usd": 5, "period": "day"}},
              {"fallback": ["local", {"stack": [{"retry": {"attempts": 2}}],
                                      "provider": "local"}]},
              {"ratelimit": {"rpm": 10}}, "retry"],
    "provider": "main",
    "prices": {"openai": {"x": {"input": 1, "output": 2}}},
}


def check(doc: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            load_config(doc, env={"X": "5"})
        except ConfigError as exc:
            assert exc.path.startswith("$")
            assert exc.problems
            for path, message in exc.problems:
                assert path.startswith("$") and message


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += paths(v, (*prefix, i))
    return found


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {k: replaced(v, rest, value) if k == head else v for k, v in doc.items()}
    return [replaced(v, rest, value) if i == head else v for i, v in enumerate(doc)]


def test_the_valid_document_is_valid() -> None:
    load_config(VALID)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_arbitrary_shapes(doc: Any) -> None:
    check(doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents.map(lambda d: {"providers": d}) | documents.map(lambda d: {"stack": d})
       | documents.map(lambda d: {"llm": d}))
def test_arbitrary_sections(doc: Any) -> None:
    check(doc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(paths(VALID)), documents)
def test_one_value_replaced(path: tuple[Any, ...], value: Any) -> None:
    check(replaced(VALID, path, value))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("providers:stack- {}[]\n\t'\"&*!|>%@`#,?0x$")),
               max_size=80))
def test_arbitrary_yaml_text(text: str) -> None:
    check(text + "\n")


secrets_ = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789", min_size=20,
                   max_size=40).map(lambda s: "sk-" + s)


# too_slow off: on a loaded machine (two suites at once) hypothesis' health check can fail
# the run for no defect (the only failure mode found for the reported flake)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secrets_, st.sampled_from(["api_key", "api_key_ref", "timeout", "options",
                                  "price", "defaults", "base_url", "typo_key"]),
       st.sampled_from(["plain", "list", "mapping"]))
def test_a_secret_never_appears_in_an_error(secret: str, field: str, shape: str) -> None:
    value: Any = {"plain": secret, "list": [secret], "mapping": {"x": secret}}[shape]
    doc = {"providers": {"m": {"type": "openai", "model": "gpt-4o", field: value}},
           "stack": [{"budget": {"limit_usd": secret}}]}
    try:
        load_config(doc)
    except ConfigError as exc:
        assert secret not in str(exc) and secret not in repr(exc.problems)
