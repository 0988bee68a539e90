"""Conformance checks of a provider's life: ``check()``, ``close()``, early stream close,
what its repr shows.

What must not: answer or error-mapping checks (``chat_checks``, ``error_checks``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import attrs

from insightforge.errors import AuthenticationError
from insightforge.stack import Handler
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.testing.conformance.error_checks import assert_no_secret
from insightforge.testing.conformance.spec import CheckFailed, Kit, expect
from insightforge.testing.emulator import Fault
from insightforge.types import ChatRequest, ChatResponse, Message

__all__ = ["check_check", "check_close", "check_interface", "check_stream_close_early"]

_LONG = ChatRequest([Message("user", " ".join(f"word{i}" for i in range(60)))], stream=True)


def check_interface(kit: Kit) -> None:
    """The provider is a Handler with a name, a model, routes; its repr shows no secret."""
    provider = kit.build()
    expect(isinstance(provider, Handler),
           "interface: a provider must be callable, have acall() and routes()")
    for attr in ("name", "model"):
        value = getattr(provider, attr, None)
        expect(isinstance(value, str) and value, f"interface: provider.{attr} must be a "
               f"non-empty string, got {value!r}")
    for attr in ("check", "close", "aclose"):
        expect(callable(getattr(provider, attr, None)), f"interface: provider.{attr}() missing")
    routes = provider.routes()
    expect(isinstance(routes, tuple) and len(routes) == 1,
           f"interface: routes() must be a 1-tuple of Route for a provider, got {routes!r}")
    expect(routes[0].provider == provider.name and routes[0].model == provider.model,
           f"interface: routes()[0] {routes[0]!r} must name the provider and its model")
    secret = kit.spec.secret
    if secret:
        for what, text in (("repr", repr(provider)), ("str", str(provider)),
                           ("routes", repr(routes)), ("vars", _public_vars(provider))):
            expect(secret not in text, f"interface: the credential appears in the provider's "
                   f"{what}")


def _public_vars(provider: Any) -> str:
    data = getattr(provider, "__dict__", {})
    return repr({k: v for k, v in data.items() if not k.startswith("_")})


def check_check(kit: Kit) -> None:
    """``check()`` passes against a healthy server and raises the mapped error on a 401."""
    provider = kit.build()
    kit.emulator.reset()
    try:
        provider.check()
    except Exception as exc:
        raise CheckFailed(f"check(): failed against a healthy emulator: {exc!r}") from exc
    kit.fault(Fault.status(401).times(3))
    try:
        provider.check()
    except AuthenticationError as exc:
        assert_no_secret(kit.spec.secret, exc, "check() on a 401")
    except Exception as exc:
        raise CheckFailed(f"check(): on a 401 expected AuthenticationError, got {exc!r}") \
            from exc
    else:
        raise CheckFailed("check(): returned normally though the server answered 401 "
                          "(check() must make an authenticated call)")
    finally:
        kit.emulator.reset()
    acheck = getattr(provider, "acheck", None)
    if callable(acheck):
        try:
            kit.arun(acheck())
        except Exception as exc:
            raise CheckFailed(f"acheck(): failed against a healthy emulator: {exc!r}") from exc


def check_close(kit: Kit) -> None:
    """``close()``/``aclose()`` are idempotent, on a used and an unused provider."""
    unused = kit.build()
    used = kit.build()
    used(ChatRequest("hello"))
    kit.arun(used.acall(ChatRequest("hello")))
    for name, provider in (("unused", unused), ("used", used)):
        try:
            provider.close()
            provider.close()
            kit.arun(provider.aclose())
            kit.arun(provider.aclose())
        except Exception as exc:
            raise CheckFailed(f"close(): closing a {name} provider twice raised {exc!r}") \
                from exc


def _in_thread(fn: Any, limit: float, what: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        raise CheckFailed(f"{what}: did not return within {limit}s (a hang)")
    if errors:
        raise CheckFailed(f"{what}: raised {errors[0]!r}") from errors[0]


def check_stream_close_early(kit: Kit) -> None:
    """Closing a stream after one chunk returns promptly and the provider answers again."""
    provider = kit.build()
    kit.emulator.reset()

    def sync_close() -> None:
        stream = provider(_LONG)
        expect(isinstance(stream, ChatStream), f"stream: expected a ChatStream, got {stream!r}")
        next(iter(stream))
        started = time.monotonic()
        stream.close()
        stream.close()
        expect(time.monotonic() - started < 5, "stream close(): took longer than 5 s")
        expect(stream.finished, "stream close(): the stream still says it is open")

    _in_thread(sync_close, kit.call_timeout, "sync stream close() after one chunk")

    async def async_close() -> None:
        stream = await provider.acall(_LONG)
        expect(isinstance(stream, AsyncChatStream),
               f"stream: expected an AsyncChatStream, got {stream!r}")
        await stream.__anext__()
        await stream.aclose()
        await stream.aclose()

    kit.arun(async_close())
    plain = attrs.evolve(_LONG, stream=False)
    for where in ("sync", "async"):
        result = provider(plain) if where == "sync" else kit.arun(provider.acall(plain))
        expect(isinstance(result, ChatResponse),
               f"stream close(): the next {where} call after an abandoned stream gave "
               f"{result!r:.200}")
