"""The Redactor: every detector, no false alarms on ordinary text, nested data, config errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from insightforge.redact import DETECTORS, Redactor, iban_ok, luhn_ok
from insightforge.secrets import Secret
from tests.conftest import TEST_KEYS
from tests.secret_shapes import ANY_SECRET, Shape, filler

R = Redactor()


@pytest.mark.parametrize(("text", "label"), [
    ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123 here", "openai_key"),
    ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "anthropic_key"),
    ("hf_abcdefghijklmnopqrstuvwxyz0123", "hf_token"),
    ("api-key: 0123456789abcdef0123456789abcdef", "azure_key"),
    ("my key is 0123456789abcdef0123456789abcdef", "azure_key"),
    ("password=hunter2hunter2", "credential"),
    ("Authorization: Bearer abc.def-ghi_jkl", "bearer"),
    ("AKIAIOSFODNN7EXAMPLE", "aws_key"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", "jwt"),
    ("write to bob.smith+x@mail.example.co.uk today", "email"),
    ("call (415) 555-2671", "phone"),
    ("call +44 20 7946 0958", "phone"),
    ("card 4111 1111 1111 1111", "card"),
    ("card 4111-1111-1111-1111", "card"),
    ("IBAN GB82 WEST 1234 5698 7654 32", "iban"),
    ("DE89370400440532013000", "iban"),
])
def test_each_detector_leaves_a_typed_placeholder(text: str, label: str) -> None:
    out = R.text(text)
    assert f"[REDACTED:{label}]" in out, out


def test_context_detectors_keep_their_context() -> None:
    assert R.text("Authorization: Bearer abcdefghijkl") == "Authorization: Bearer [REDACTED:bearer]"
    assert R.text("api-key: 0123456789abcdef0123456789abcdef") == "api-key: [REDACTED:azure_key]"


@pytest.mark.parametrize("text", [
    "Released 2024-01-15 at 10:30; version 3.11.2 has 12345 downloads.",
    "card 4111 1111 1111 1112",            # fails Luhn
    "IBAN GB82 WEST 1234 5698 7654 33",     # fails mod-97
    "task-proj-management-tool-for-teams-2024 and risk-assessment-framework-document",
    "a commit 0123456789abcdef0123456789abcdef without a key context",
    "The bearer of bad news arrived.",
    "ISBN 978 0 13 468599 1",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert R.text(text) == text


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 31")
    assert not iban_ok("XX00")


@settings(max_examples=300, deadline=None)
@given(shape=ANY_SECRET, before=filler, after=filler)
def test_no_generated_secret_survives_in_text(shape: Shape, before: str, after: str) -> None:
    _, embed, raw = shape
    out = R.text(f"{before} {embed} {after}")
    assert raw not in out, (embed, out)
    assert "[REDACTED:" in out


@settings(max_examples=200, deadline=None)
@given(shape=ANY_SECRET, before=filler)
def test_no_generated_secret_survives_in_nested_json(shape: Shape, before: str) -> None:
    _, embed, raw = shape
    args = json.dumps({"query": f"{before} {embed}", "nested": [{"v": embed}]})
    # ensure_ascii escapes make the raw text invisible to a plain regex: the walk parses it
    escaped = json.dumps({"q": embed.replace("@", "\u0040")}, ensure_ascii=True)
    value = {"tool_calls": [{"name": "search", "arguments": args}], "raw": escaped,
             "headers": {"Authorization": f"Bearer {raw}", "x-api-key": raw}}
    out = json.dumps(R(value))
    assert raw not in out and raw.replace("/", "\\/") not in out


_line = st.tuples(filler, st.one_of(st.none(), ANY_SECRET), filler, st.sampled_from(
    ["", " ok.", " key", " Bearer", " token:", " api_key =", " +44", " 4111"]))


def _text(line: tuple[str, Shape | None, str, str]) -> str:
    before, shape, after, end = line
    return " ".join(x for x in (before, shape[1] if shape else "", after) if x) + end


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_line, min_size=2, max_size=6))
@example(lines=[("", ("phone", "+10 000 000 0000", "000 000 0000"), "", " 4111"),
                ("", None, "", "")])  # more digits make it no phone: alone keeps it too
def test_lines_redacted_together_are_redacted_as_each_alone(
        lines: list[tuple[str, Shape | None, str, str]]) -> None:
    """``texts`` (one pass over the lines joined) finds everything that redacting each line
    alone finds; lines that end cleanly come out exactly as each alone would; a line
    ending in a keyword may lose a little more of the next line, never less."""
    texts = [_text(line) for line in lines]
    together = R.texts(texts)
    assert len(together) == len(texts)
    for line, text, out in zip(lines, texts, together, strict=True):
        shape, alone = line[1], R(text)
        if shape is not None and shape[2] not in alone:  # (a phone run on by more digits
            assert shape[2] not in out and "[REDACTED:" in out, (text, out)  # is none)
        assert R.text(out) == out  # nothing left that a line alone would redact
    for i, (text, out) in enumerate(zip(texts, together, strict=True)):
        if i == 0 or lines[i - 1][3] == " ok.":
            assert out == R(text), (texts, together)
        else:
            assert out.count("[REDACTED") >= R(text).count("[REDACTED")


def test_lines_that_are_data_or_span_lines_are_redacted_alone() -> None:
    lines = ['{"to": "bob\\u0040example.com"}', "two\nlines bob@example.com", "plain"]
    assert R.texts(lines) == [R(line) for line in lines]
    custom = Redactor(patterns={"start": r"^secret\w+"})
    assert custom.texts(["secretA", "secretB"]) == ["[REDACTED:start]", "[REDACTED:start]"]


def test_json_strings_are_parsed_and_reserialised() -> None:
    out = R({"arguments": '{"to": "bob\\u0040example.com", "n": 1}'})
    assert json.loads(out["arguments"]) == {"to": "[REDACTED:email]", "n": 1}


def test_sensitive_keys_hide_whole_values() -> None:
    out = R({"headers": {"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": "short",
                         "accept": "json"}})
    assert out["headers"] == {"Authorization": "[REDACTED:credential]",
                              "X-Api-Key": "[REDACTED:credential]", "accept": "json"}


def test_live_secrets_are_always_redacted() -> None:
    secret = Secret("internal-token-that-matches-no-pattern")
    assert R.text("t=internal-token-that-matches-no-pattern") == "t=[REDACTED:secret]"
    assert "internal" not in json.dumps(R({"x": ["internal-token-that-matches-no-pattern"]}))
    slashed = Secret("tok/with+plus=and/slash-value")
    assert R.text("u?k=tok%2Fwith%2Bplus%3Dand%2Fslash-value") == "u?k=[REDACTED:secret]"
    del secret, slashed


def test_test_keys_are_caught_by_patterns_alone() -> None:
    plain = Redactor(secrets=False)
    for key in TEST_KEYS:
        assert key not in plain.text(f"api-key: {key}"), key


def test_custom_patterns_and_literals() -> None:
    r = Redactor(patterns={"ticket": r"TCK-\d+"}, literals=["acme-internal.local"])
    assert r.text("see TCK-123 on acme-internal.local") == \
        "see [REDACTED:ticket] on [REDACTED:secret]"
    assert "acme" not in repr(r)


def test_detector_subset() -> None:
    r = Redactor(detectors=["email"])
    assert r.text("a@b.io 4111 1111 1111 1111") == "[REDACTED:email] 4111 1111 1111 1111"
    assert set(DETECTORS) >= {"email", "card", "iban", "openai_key"}


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"detectors": ["emial"]}, "unknown redaction detector"),
    ({"patterns": {"x": "("}}, "not a valid regex"),
    ({"patterns": {"bad label": "x"}}, "must be letters"),
])
def test_bad_configuration_says_what_to_fix(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Redactor(**kwargs)  # type: ignore[arg-type]


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_never_raises_and_is_idempotent(text: str) -> None:
    once = R.text(text)
    assert R.text(once) == once
    assert R(text) is not None


def test_non_string_scalars_pass_through() -> None:
    assert R({"n": 1, "f": 1.5, "b": True, "z": None, "t": (1, "a@b.io")}) == \
        {"n": 1, "f": 1.5, "b": True, "z": None, "t": [1, "[REDACTED:email]"]}
