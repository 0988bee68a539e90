"""Conformance checks of a provider's failures: the error mapping and secret hygiene.

Every emulator fault kind must map to its documented error type, sync and async, plain and
streamed, with ``provider`` set, the documented ``retryable``/``retry_after``, exactly one
request on the wire (no hidden SDK retries: retrying is the ``Retry`` layer's job), no
secret anywhere in the error, and a provider that still answers afterwards.

What must not: checks of successful answers (``chat_checks``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import attrs

from insightforge.errors import (
    AuthenticationError,
    ContentFiltered,
    CredentialError,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimitError,
    Timeout,
)
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.testing.conformance.spec import CheckFailed, Kit, expect
from insightforge.testing.emulator import Fault
from insightforge.types import ChatRequest, ChatResponse, Message

__all__ = ["FAULT_CASES", "FaultCase", "assert_no_secret", "check_credentials",
           "check_error_mapping", "check_error_mapping_async"]

_ASK = ChatRequest([Message("user", "one two three four five six seven eight")])


@attrs.frozen
class FaultCase:
    """One fault and what a provider must raise for it.

    Attributes:
        name: what the case is called in reports.
        fault: builds the emulator fault.
        expected: the acceptable error types.
        stream: send the request with ``stream=True`` and read the whole stream.
        status, retryable, retry_after: required values on the error (``None``: any).
        slow: the provider is built with the spec's small timeout.
        skippable: the provider may instead skip the bad event and answer — then the answer
            must be the complete, clean text (garbage never reaches it).
    """

    name: str
    fault: Callable[[], Fault]
    expected: tuple[type[BaseException], ...]
    stream: bool = False
    status: int | None = None
    retryable: bool | None = None
    retry_after: float | None = None
    slow: bool = False
    skippable: bool = False


FAULT_CASES = (
    FaultCase("401", lambda: Fault.status(401), (AuthenticationError,), status=401,
              retryable=False),
    FaultCase("429 + Retry-After", lambda: Fault.status(429, retry_after=7), (RateLimitError,),
              status=429, retryable=True, retry_after=7.0),
    FaultCase("503", lambda: Fault.status(503), (ProviderUnavailable,), status=503,
              retryable=True),
    FaultCase("stall", Fault.stall, (Timeout,), retryable=True, slow=True),
    FaultCase("drop", Fault.drop, (ProviderUnavailable,), retryable=True),
    FaultCase("malformed", Fault.malformed, (MalformedResponse,)),
    FaultCase("wrong_shape", Fault.wrong_shape, (MalformedResponse,)),
    FaultCase("truncated body", lambda: Fault.truncate(), (ProviderUnavailable,
                                                           MalformedResponse)),
    FaultCase("stream: 429 + Retry-After", lambda: Fault.status(429, retry_after=7),
              (RateLimitError,), stream=True, status=429, retry_after=7.0),
    FaultCase("stream: stall", Fault.stall, (Timeout,), stream=True, slow=True),
    FaultCase("stream: drop", Fault.drop, (ProviderUnavailable,), stream=True),
    FaultCase("stream: truncated", lambda: Fault.truncate(2),
              (ProviderUnavailable, MalformedResponse), stream=True),
    FaultCase("stream: malformed line", Fault.malformed, (MalformedResponse,), stream=True,
              skippable=True),
    FaultCase("stream: mid-stream error", lambda: Fault.stream_error(2), (ProviderError,),
              stream=True),
)


def _texts(exc: BaseException) -> list[str]:
    """Every text an error shows: str, repr, args, notes, its causes and contexts."""
    out: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out += [str(current), repr(current), *map(repr, current.args),
                *getattr(current, "__notes__", ())]
        out += [str(v) for k, v in vars(current).items() if k != "trace"] \
            if hasattr(current, "__dict__") else []
        current = current.__cause__ or current.__context__
    return out


def assert_no_secret(secret: str | None, exc: BaseException, where: str) -> None:
    """``secret`` appears nowhere in ``exc`` (nor in its cause chain)."""
    if not secret:
        return
    for text in _texts(exc):
        if secret in text:
            raise CheckFailed(f"{where}: the credential appears in the error "
                              f"{type(exc).__name__} (or its cause); scrub it")


def _drain_sync(result: Any) -> Any:
    if isinstance(result, ChatStream):
        with result:
            for _ in result:
                pass
        return result.response
    return result


async def _drain_async(result: Any) -> Any:
    if isinstance(result, AsyncChatStream):
        async with result:
            async for _ in result:
                pass
        return result.response
    return result


_CLEAN = "Echo: " + _ASK.messages[-1].text  # the emulator's answer to _ASK


def _judge(kit: Kit, provider: Any, case: FaultCase, outcome: Any, where: str,
           seconds: float) -> None:
    if case.skippable and isinstance(outcome, ChatResponse):
        expect(outcome.text == _CLEAN, f"{where}: the bad event was skipped, but the answer "
               f"is {outcome.text!r}, not the clean {_CLEAN!r}")
        return
    if not isinstance(outcome, BaseException):
        raise CheckFailed(f"{where}: expected {_names(case.expected)}, but the call succeeded "
                          f"with {outcome!r:.200}")
    if not isinstance(outcome, case.expected):
        raise CheckFailed(f"{where}: expected {_names(case.expected)}, got "
                          f"{type(outcome).__name__}: {outcome}") from outcome
    assert isinstance(outcome, ProviderError)
    expect(outcome.provider == provider.name,
           f"{where}: error.provider {outcome.provider!r}, expected {provider.name!r}")
    for field in ("status", "retryable", "retry_after"):
        want = getattr(case, field)
        if want is not None and getattr(outcome, field) != want:
            raise CheckFailed(f"{where}: error.{field} is {getattr(outcome, field)!r}, "
                              f"expected {want!r}")
    assert_no_secret(kit.spec.secret, outcome, where)
    sent = kit.emulator.count(api=kit.spec.api)
    expect(sent == 1, f"{where}: {sent} requests reached the server, expected exactly 1 "
           "(turn the SDK's own retries off: retrying is the Retry layer's job)")
    if case.slow:
        limit = kit.spec.timeout * 4 + 2
        expect(seconds < limit, f"{where}: took {seconds:.1f}s with timeout="
               f"{kit.spec.timeout}s (is the timeout applied to every read?)")


def _names(types: tuple[type[BaseException], ...]) -> str:
    return " or ".join(t.__name__ for t in types)


def _request(case: FaultCase) -> ChatRequest:
    return attrs.evolve(_ASK, stream=case.stream)


def _recovers(kit: Kit, provider: Any, where: str, use_async: bool) -> None:
    kit.emulator.reset()
    try:
        answer = kit.arun(provider.acall(_ASK)) if use_async else provider(_ASK)
    except Exception as exc:
        raise CheckFailed(f"{where}: the provider did not recover: the next plain call "
                          f"raised {exc!r}") from exc
    expect(isinstance(answer, ChatResponse), f"{where}: the next call gave {answer!r}")


def check_error_mapping(kit: Kit) -> None:
    """Each fault maps to its error type (sync); then the provider answers again."""
    providers = {False: kit.build(), True: kit.build(timeout=kit.spec.timeout)}
    for case in FAULT_CASES:
        provider = providers[case.slow]
        where = f"sync, fault {case.name}"
        kit.fault(case.fault())
        started = time.monotonic()
        try:
            outcome: Any = _drain_sync(provider(_request(case)))
        except Exception as exc:
            outcome = exc
        _judge(kit, provider, case, outcome, where, time.monotonic() - started)
        _recovers(kit, provider, where, use_async=False)


def check_error_mapping_async(kit: Kit) -> None:
    """Each fault maps to its error type (async); then the provider answers again."""
    providers = {False: kit.build(), True: kit.build(timeout=kit.spec.timeout)}
    for case in FAULT_CASES:
        provider = providers[case.slow]
        where = f"async, fault {case.name}"
        kit.fault(case.fault())

        async def run(p: Any = provider, c: FaultCase = case) -> Any:
            try:
                return await _drain_async(await p.acall(_request(c)))
            except Exception as exc:
                return exc

        started = time.monotonic()
        outcome = kit.arun(run())
        _judge(kit, provider, case, outcome, where, time.monotonic() - started)
        _recovers(kit, provider, where, use_async=True)


def check_content_filter(kit: Kit) -> None:
    """A filtered answer is ``ContentFiltered`` or finishes with ``content_filter``."""
    provider = kit.build()
    kit.fault(Fault.content_filter())
    try:
        answer = provider(_ASK)
    except ContentFiltered as exc:
        assert_no_secret(kit.spec.secret, exc, "content filter")
        return
    except Exception as exc:
        raise CheckFailed(f"content filter: expected ContentFiltered or finish_reason "
                          f"'content_filter', got {exc!r}") from exc
    expect(isinstance(answer, ChatResponse) and answer.finish_reason == "content_filter",
           f"content filter: expected finish_reason 'content_filter', got {answer!r:.200}")


@contextmanager
def _environ(**values: str | None) -> Any:
    old = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def check_credentials(kit: Kit) -> None:
    """No key: ``CredentialError`` naming the variable; a key from the variable is used."""
    env_var = kit.spec.env_var
    if env_var is None:
        return
    with _environ(**{env_var: None, "INSIGHTFORGE_NO_KEYRING": "1"}):
        try:
            kit.build(api_key=None)
        except CredentialError as exc:
            expect(env_var in str(exc),
                   f"credentials: CredentialError must name {env_var}: {exc}")
        except Exception as exc:
            raise CheckFailed(f"credentials: without a key expected CredentialError, got "
                              f"{exc!r}") from exc
        else:
            raise CheckFailed(f"credentials: a provider built without a key and without "
                              f"{env_var} must raise CredentialError")
    from_env = "kit-env-KEY-0123456789abcdefghijklmn"
    with _environ(**{env_var: from_env}):
        provider = kit.build(api_key=None)
    kit.emulator.reset()
    provider(_ASK)
    sent = [r.headers for r in kit.emulator.requests]
    expect(any(from_env in value for headers in sent for value in headers.values()),
           f"credentials: the key from {env_var} was not sent to the server")
    expect(from_env not in repr(provider) and from_env not in str(provider),
           "credentials: the key appears in the provider's repr")
