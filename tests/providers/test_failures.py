"""The pure rules of ``providers._failures`` and the refusal test of ``providers._errors``:
where typing stops and bugs surface, what an unexpected failure chains (and what it never
does), and which error bodies are content-policy refusals."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge.errors import ContentFiltered, InvalidRequest, ProviderUnavailable, Timeout
from insightforge.secrets import Secret
from insightforge.testing.emulator.refusals import REFUSAL_VARIANTS, refusal_body
from insightforge.testing.strategies import json_values
from providers._errors import error_from_status, filtered
from providers._failures import BUGS, detach, is_bug, mid_stream, unexpected

RACE = ("partially initialized module 'httpx' has no attribute 'Timeout' (most likely due "
        "to a circular import)")


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    """``exc`` as Python leaves it once raised (with a traceback; ``cause`` as context)."""
    try:
        try:
            if cause is not None:
                raise cause
        finally:
            raise exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize("bug", [TypeError("x"), AttributeError("'NoneType' has no 'y'"),
                                 NameError("z"), AssertionError(), NotImplementedError(),
                                 RecursionError(), ModuleNotFoundError("No module named 'w'"),
                                 MemoryError()])
def test_programming_errors_raise_themselves(bug: BaseException) -> None:
    assert is_bug(bug)
    with pytest.raises(type(bug)) as caught:
        unexpected("ollama", bug)
    assert caught.value is bug


@pytest.mark.parametrize("race", [AttributeError(RACE),
                                  ImportError("cannot import name 'Timeout' from partially "
                                              "initialized module 'httpx'")])
def test_an_import_race_is_not_a_bug_but_a_typed_failure(race: BaseException) -> None:
    assert not is_bug(race)
    error = unexpected("openai", race)
    assert isinstance(error, ProviderUnavailable) and error.retryable
    assert detach(error).__cause__ is race


def test_an_unexpected_failure_chains_its_cause_without_the_http_stack_behind_it() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat",
                            headers={"authorization": "Bearer sk-secret-in-a-request"})
    below = httpx.ConnectError("refused", request=request)
    failure = _raised(RuntimeError("event loop closed under the client"), below)
    assert failure.__context__ is below
    error = detach(unexpected("ollama", failure))
    assert error.__cause__ is failure and error.__context__ is None
    assert failure.__context__ is None and failure.__cause__ is None  # the request is gone
    assert "RuntimeError: event loop closed under the client" in str(error)


def test_a_cause_that_names_a_live_secret_is_not_chained() -> None:
    key = Secret("sk-live-0123456789abcdefghijklmnop")
    error = detach(unexpected("ollama", RuntimeError(f"bad key {key.reveal()}")))
    assert error.__cause__ is None
    assert key.reveal() not in str(error)


def test_detach_drops_every_http_stack_exception() -> None:
    below = httpx.ReadError("reset")
    error = error_from_status("openai", 503)
    error.__cause__ = below
    assert detach(error).__cause__ is None


@pytest.mark.parametrize(("exc", "kind", "words"), [
    (httpx.ReadTimeout("timed out"), Timeout, "stalled mid-stream"),
    (httpx.RemoteProtocolError("peer closed"), ProviderUnavailable, "cut the stream"),
    (ConnectionResetError(104, "reset"), ProviderUnavailable, "cut the stream"),
    (httpx.DecodingError("bad gzip"), Exception, "could not read"),
])
def test_mid_stream_names_the_failure_and_the_chunks(exc: BaseException, kind: type,
                                                     words: str) -> None:
    error = mid_stream("anthropic", exc, 7)
    assert isinstance(error, kind) and words in str(error)
    if "stream" in words:
        assert "after 7 chunks" in str(error)
    assert "after 1 chunk " in str(mid_stream("x", httpx.ReadTimeout("t"), 1))


def test_the_bug_list_is_what_the_docs_say() -> None:
    assert set(BUGS) == {TypeError, AttributeError, NameError, AssertionError,
                         NotImplementedError, RecursionError, ImportError, MemoryError}


# -- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize(("api", "variant"), [(api, v) for api, variants in
                                              REFUSAL_VARIANTS.items() for v in variants])
def test_every_vendors_refusal_is_content_filtered(api: str, variant: str) -> None:
    body = json.dumps(refusal_body(api, variant))
    assert filtered(body)
    error = error_from_status(api, 400, body)
    assert isinstance(error, ContentFiltered) and not error.retryable


@pytest.mark.parametrize("body", [
    {"error": {"message": "Invalid 'content': expected a string.", "type":
               "invalid_request_error", "code": None}},
    {"error": {"message": "Unsupported content type image/tiff", "code": "invalid_value"}},
    {"error": {"message": "Invalid prompt: the prompt is empty", "code": "invalid_prompt"}},
    {"type": "error", "error": {"type": "invalid_request_error",
                                "message": "messages: text content blocks must be non-empty"}},
])
def test_other_bad_requests_are_not_refusals(body: dict[str, Any]) -> None:
    assert not filtered(body)
    error = error_from_status("openai", 400, json.dumps(body))
    assert isinstance(error, InvalidRequest) and not isinstance(error, ContentFiltered)


@given(st.one_of(json_values(), st.binary(max_size=64), st.text(max_size=64)))
def test_filtered_reads_any_body_without_raising(body: Any) -> None:
    assert isinstance(filtered(body if isinstance(body, (str, bytes)) else json.dumps(body)),
                      bool)
