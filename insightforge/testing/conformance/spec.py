"""What the conformance kit needs to know about a provider, and the kit's working context.

What lives here: :class:`ProviderSpec` (metadata: which emulated wire API the provider
speaks, what it supports, its credential), the :func:`conformance_factory` decorator that
attaches a spec to a factory, :func:`load_target` (``"module:factory"`` -> factory and spec),
:class:`CheckFailed`, and :class:`Kit`, the context every check receives: the emulator, the
factory, a private event loop for async calls (one loop for the kit's life, so a provider's
pooled async client stays valid), and every provider built, closed at the end.

What must not: the checks themselves (``chat_checks``, ``error_checks``).

A **factory** is ``factory(emulator, **overrides) -> provider``. It points the provider at
the emulator (``emulator.openai_url``...) and gives it a credential; it must pass the
``overrides`` it receives (``timeout=``, ``api_key=``) on to the provider's constructor,
replacing its own values, e.g.::

    @conformance_factory(api="openai", env_var="MYVENDOR_API_KEY", secret=KEY)
    def factory(emulator, **overrides):
        options = {"model": "gpt-4o-mini", "base_url": emulator.openai_url, "api_key": KEY}
        return MyVendor(**{**options, **overrides})
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import attrs

__all__ = ["API_NAMES", "CheckFailed", "Factory", "Kit", "ProviderSpec", "conformance_factory",
           "load_target", "spec_of"]

T = TypeVar("T")
Factory = Callable[..., Any]
API_NAMES = ("openai", "azure", "anthropic", "ollama", "hf")


class CheckFailed(AssertionError):
    """A conformance check found the provider misbehaving; the message says what and why."""


def _check_api(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in API_NAMES:
        raise ValueError(f"ProviderSpec.api must be one of {list(API_NAMES)} (the emulated "
                         f"wire format the provider speaks), got {value!r}")


@attrs.frozen
class ProviderSpec:
    """Metadata the kit needs about a provider.

    Attributes:
        api: the emulator wire API it speaks (``openai``, ``azure``, ``anthropic``,
            ``ollama``, ``hf``); scripted faults target it.
        embeddings: the provider offers embeddings (else they must raise ``Unsupported``).
        tools: the provider maps tools and tool results.
        env_var: the environment variable its credential is read from (``None``: the
            credential is optional and the missing-key check is skipped).
        secret: the credential the factory gives the provider; it must never appear in an
            error, a repr or a string.
        priced: ``True`` requires ``cost_usd`` on every answer; ``None`` infers it from
            ``provider.routes()[0].price``.
        stream_usage: the provider reports usage at the end of a stream.
        label: the name used in reports (default: the provider's ``name``).
        examples: hypothesis examples per property check (each one is a real HTTP call).
        timeout: the small timeout used to provoke a ``Timeout`` on a stalled server.
        reasoning_model: the model the reasoning check asks (``None``: the provider's
            default), for providers whose default model does not reason.

    What a provider can take beyond text (images, structured output, reasoning...) is not
    here: the kit reads the provider's own ``capabilities`` and checks both halves — what
    it declares works, the rest raises ``Unsupported``.
    """

    api: str = attrs.field(default="openai", validator=_check_api)
    embeddings: bool = True
    tools: bool = True
    env_var: str | None = None
    secret: str | None = None
    priced: bool | None = None
    stream_usage: bool = True
    label: str = ""
    examples: int = 8
    timeout: float = 0.3
    reasoning_model: str | None = None


def conformance_factory(**spec: Any) -> Callable[[Factory], Factory]:
    """Attach a :class:`ProviderSpec` (built from ``spec``) to a factory as ``.conformance``."""
    built = ProviderSpec(**spec)

    def attach(factory: Factory) -> Factory:
        factory.conformance = built  # type: ignore[attr-defined]
        return factory

    return attach


def spec_of(factory: Factory) -> ProviderSpec:
    """The spec attached to ``factory`` by :func:`conformance_factory` (else the defaults)."""
    spec = getattr(factory, "conformance", None)
    return spec if isinstance(spec, ProviderSpec) else ProviderSpec()


def load_target(target: str) -> tuple[Factory, ProviderSpec]:
    """The factory and spec named by ``"module:factory"`` (``--insightforge-provider``).

    The object may be a factory (its spec is its ``.conformance`` attribute, else the
    defaults) or a ``(factory, spec)`` pair.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--insightforge-provider expects 'module:factory', got {target!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} for --insightforge-provider: {exc}; "
                         "is the package installed (pip install -e .)?") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{module_name!r} has no attribute {attr!r} "
                             "(--insightforge-provider module:factory)")
        obj = getattr(obj, part)
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[1], ProviderSpec):
        return obj[0], obj[1]
    if not callable(obj):
        raise ValueError(f"{target} is not a factory: expected factory(emulator, **overrides)")
    return obj, spec_of(obj)


class Kit:
    """The context of one conformance run: emulator, factory, spec, an event loop.

    Attributes:
        factory, spec, emulator: as given.
        call_timeout: the longest any single call may take before the kit calls it a hang.
    """

    def __init__(self, factory: Factory, spec: ProviderSpec, emulator: Any,
                 call_timeout: float = 30.0) -> None:
        self.factory = factory
        self.spec = spec
        self.emulator = emulator
        self.call_timeout = call_timeout
        self._built: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- providers ------------------------------------------------------------------------
    def build(self, **overrides: Any) -> Any:
        """A new provider from the factory (closed when the kit closes)."""
        try:
            provider = self.factory(self.emulator, **overrides)
        except TypeError as exc:
            if overrides:
                raise CheckFailed(
                    f"the factory must accept and pass on {sorted(overrides)} "
                    f"(factory(emulator, **overrides)); it raised TypeError: {exc}") from None
            raise
        self._built.append(provider)
        return provider

    @property
    def label(self) -> str:
        return self.spec.label or str(getattr(self.factory, "__name__", "provider"))

    def fault(self, *faults: Any) -> None:
        """Clear the emulator's log and queue, then script ``faults`` on this spec's API."""
        self.emulator.reset()
        self.emulator.script(*faults, api=self.spec.api)

    # -- async ----------------------------------------------------------------------------
    def arun(self, coro: Coroutine[Any, Any, T] | Awaitable[T],
             timeout: float | None = None) -> T:
        """Run ``coro`` on the kit's loop (a daemon thread); a hang becomes ``CheckFailed``."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="conformance-loop",
                                      daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread

        async def wrapper() -> T:
            return await coro

        future = asyncio.run_coroutine_threadsafe(wrapper(), self._loop)
        limit = self.call_timeout if timeout is None else timeout
        try:
            return future.result(limit)
        except TimeoutError:
            future.cancel()
            raise CheckFailed(f"an async call did not finish within {limit}s (a hang)") from None

    # -- life -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close every provider built (async clients on the kit's loop), stop the loop."""
        built, self._built = self._built, []
        for provider in built:
            aclose = getattr(provider, "aclose", None)
            if self._loop is not None and callable(aclose):
                with contextlib.suppress(Exception):  # best effort; the close check is strict
                    self.arun(aclose(), timeout=5)
            close = getattr(provider, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._loop.close()
            self._loop = self._thread = None

    def __enter__(self) -> Kit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def expect(condition: object, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)
