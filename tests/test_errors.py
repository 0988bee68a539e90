"""The error hierarchy: attributes, retryable defaults, messages that say the fix, no secret."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given

from insightforge import errors as E
from insightforge.secrets import Secret, scrub
from insightforge.testing.strategies import secrets
from insightforge.types import TraceEvent

PROVIDER_ERRORS = [E.AuthenticationError, E.RateLimitError, E.ProviderUnavailable, E.Timeout,
                   E.ContextLengthExceeded, E.ContentFiltered, E.MalformedResponse,
                   E.Unsupported]
RETRYABLE = {E.RateLimitError, E.ProviderUnavailable, E.Timeout, E.MalformedResponse}


def test_hierarchy_matches_the_design() -> None:
    for cls in PROVIDER_ERRORS:
        assert issubclass(cls, E.ProviderError)
    for ours in (E.ConfigError, E.CredentialError, E.InvalidRequest, E.ProviderError,
                 E.BudgetExceeded, E.RateLimited, E.AllProvidersFailed):
        assert issubclass(ours, E.InsightForgeError) and issubclass(ours, Exception)
    assert not issubclass(E.RateLimited, E.ProviderError)  # ours, not the provider's


@pytest.mark.parametrize("cls", PROVIDER_ERRORS)
def test_provider_errors_carry_provider_status_retryable_retry_after(
        cls: type[E.ProviderError]) -> None:
    err = cls("it broke; do this", provider="openai", status=503, retry_after=1.5)
    assert (err.provider, err.status, err.retry_after) == ("openai", 503, 1.5)
    assert err.retryable is (cls in RETRYABLE)
    assert str(err) == err.message == "it broke; do this"
    assert repr(err) == (f"{cls.__name__}('it broke; do this', provider='openai', "
                         f"status=503, retryable={cls in RETRYABLE!r})")
    assert cls("x", provider="p", retryable=not err.retryable).retryable is not err.retryable


def test_config_error_names_the_path_and_every_problem() -> None:
    one = E.ConfigError("must be positive", path="$.stack[0].retry.attempts")
    assert str(one) == "$.stack[0].retry.attempts: must be positive"
    assert one.problems == (("$.stack[0].retry.attempts", "must be positive"),)
    root = E.ConfigError("no file")
    assert str(root) == "no file" and root.path == "$"
    many = E.ConfigError("bad", problems=[("$.a", "missing"), ("$.b", "not a number")])
    assert str(many) == "$.a: missing\n$.b: not a number" and len(many.problems) == 2


def test_credential_error_says_where_to_put_the_key() -> None:
    err = E.CredentialError("openai", env_var="OPENAI_API_KEY", keyring_entry="openai")
    text = str(err)
    assert "OPENAI_API_KEY" in text and "insightforge keys set openai" in text
    assert "api_key=" in text and err.env_var == "OPENAI_API_KEY"
    bare = E.CredentialError("x", env_var=None, keyring_entry=None, detail="Hosted endpoint.")
    assert str(bare).endswith("or pass api_key=... explicitly. Hosted endpoint.")


def test_budget_rate_limited_and_all_failed_messages() -> None:
    budget = E.BudgetExceeded(scope="tenant=acme", limit=Decimal("5"), spent=Decimal("4.9"),
                              needed=Decimal("0.2"), period="day")
    assert (budget.scope, budget.limit, budget.spent, budget.needed) == (
        "tenant=acme", Decimal(5), Decimal("4.9"), Decimal("0.2"))
    assert "$4.900000 of $5.000000" in str(budget) and "raise limit_usd" in str(budget)
    limited = E.RateLimited("openai:gpt-4o", wait=3.0, max_wait=1.0)
    assert limited.wait == 3.0 and "max_wait=1.0s" in str(limited)
    a = E.RateLimitError("slow down", provider="openai")
    b = E.Timeout("too slow", provider="ollama")
    failed = E.AllProvidersFailed([a, b, ValueError("plain")])
    assert failed.errors == (a, b, failed.errors[2])
    assert str(failed) == ("All 3 providers failed — openai: RateLimitError: slow down; "
                           "ollama: Timeout: too slow; ?: ValueError: plain")


def test_trace_is_added_before_or_after() -> None:
    err = E.ProviderUnavailable("down", provider="p")
    first, second, third = (TraceEvent("retry", f"attempt {i}", at=0.0) for i in (1, 2, 3))
    err.add_trace(second)
    err.add_trace(first)  # earlier events go before
    err.add_trace(third, before=False)
    assert err.trace == (first, second, third)


@given(secrets)
def test_an_error_built_from_scrubbed_text_never_shows_the_secret(value: str) -> None:
    key = Secret(value)
    body = f'{{"error": "bad key {key.reveal()}"}} url=https://x/?key={value}'
    err = E.AuthenticationError(scrub(body), provider="openai", status=401)
    group = E.AllProvidersFailed([err])
    for text in (str(err), repr(err), str(group), repr(group), repr(err.args)):
        assert value not in text
