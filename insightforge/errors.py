"""The one error hierarchy of InsightForge.

Every provider maps its SDK or HTTP failures into these types, so layers never look at a
provider-specific exception. Rules for this module:

* Messages say what went wrong *and* how to fix it.
* No message, attribute or repr ever holds a secret: providers scrub their text through
  :func:`insightforge.secrets.scrub` before raising.
* ``retryable`` is a property of the failure, decided once, where it is mapped; layers
  read it and never re-derive it from status codes.
* Errors carry ``trace``: the events the layers recorded before the failure (attempts,
  fallbacks), so the audit log can report them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from insightforge.types import TraceEvent

__all__ = [
    "AllProvidersFailed",
    "AuditUnavailable",
    "AuthenticationError",
    "BudgetExceeded",
    "ConfigError",
    "ContentFiltered",
    "ContextLengthExceeded",
    "CredentialError",
    "FirstTokenTimeout",
    "InsightForgeError",
    "InvalidRequest",
    "MalformedResponse",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimitError",
    "RateLimited",
    "StallTimeout",
    "StoreUnavailable",
    "StreamInterrupted",
    "Timeout",
    "Unsupported",
]


class InsightForgeError(Exception):
    """Base of every error InsightForge raises on purpose.

    Attributes:
        message: the human sentence (problem and fix).
        trace: events recorded by the layers before the failure, oldest first.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.trace: tuple[TraceEvent, ...] = ()

    def add_trace(self, *events: TraceEvent, before: bool = True) -> None:
        """Record layer events on the error (``before`` = they happened earlier)."""
        self.trace = (*events, *self.trace) if before else (*self.trace, *events)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigError(InsightForgeError, ValueError):
    """A configuration value is missing or wrong (also a ``ValueError``, as a bad argument is).

    Attributes:
        path: where the bad value is (``$.stack[2].budget.limit_usd``), or ``"$"``.
        problems: every problem found, as ``(path, message)`` pairs (at least one).
        detail: the sentence alone, without the path in front (for callers that place it).
    """

    def __init__(self, message: str, *, path: str = "$",
                 problems: Sequence[tuple[str, str]] | None = None) -> None:
        self.path = path
        self.problems: tuple[tuple[str, str], ...] = tuple(problems or ((path, message),))
        text = message if problems is None else "\n".join(f"{p}: {m}" for p, m in self.problems)
        super().__init__(text if problems is not None or path == "$" else f"{path}: {message}")
        self.detail = message


class CredentialError(InsightForgeError):
    """No usable credential was found. Names the env var and keyring entry; never a secret.

    Attributes:
        provider: the provider (instance) name.
        env_var: the environment variable that would be read.
        keyring_entry: the keyring username under service ``insightforge``.
    """

    def __init__(self, provider: str, *, env_var: str | None, keyring_entry: str | None,
                 detail: str = "") -> None:
        self.provider = provider
        self.env_var = env_var
        self.keyring_entry = keyring_entry
        fixes = []
        if env_var:
            fixes.append(f"set the environment variable {env_var}")
        if keyring_entry:
            fixes.append(f"run `insightforge keys set {keyring_entry}`")
        fixes.append("or pass api_key=... explicitly")
        text = f"No API key found for {provider}: " + ", ".join(fixes) + "."
        super().__init__(f"{text} {detail}".strip())


class InvalidRequest(InsightForgeError, ValueError):
    """The request itself is wrong (ours or the provider says so); retrying will not help.

    Raised before any network call for a field that cannot be right (a NaN ``temperature``,
    ``options`` JSON cannot carry); also a ``ValueError``, as an invalid argument is."""


class ProviderError(InsightForgeError):
    """A provider call failed.

    Attributes:
        provider: the provider name (``openai``, ``ollama``...).
        status: the HTTP status, when there was one.
        retryable: whether trying the same request again may succeed.
        retry_after: seconds the server asked us to wait, when it said.
    """

    default_retryable = False

    def __init__(self, message: str, *, provider: str, status: int | None = None,
                 retryable: bool | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
                f"status={self.status!r}, retryable={self.retryable!r})")


class AuthenticationError(ProviderError):
    """The provider refused the credential (401/403). Check the key."""


class RateLimitError(ProviderError):
    """The provider throttled us (429). Retryable; ``retry_after`` says how long to wait."""

    default_retryable = True


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed on its side (5xx, refused, reset)."""

    default_retryable = True


class Timeout(ProviderError):
    """The provider did not answer within the timeout: a silent route.

    ``Retry`` retries it, except when a ``Fallback`` above has another route waiting
    (``Retry(prefer_alternate=True)``, the default): a silent route moves on at once.
    """

    default_retryable = True


class FirstTokenTimeout(Timeout):
    """A stream's first chunk did not arrive within ``first_token_timeout`` (nothing was
    received). Set it per provider, or per request with
    ``options={"first_token_timeout": seconds}``.

    Attributes:
        limit: the limit that passed, in seconds.
    """

    def __init__(self, message: str, *, provider: str, limit: float,
                 status: int | None = None) -> None:
        super().__init__(message, provider=provider, status=status)
        self.limit = limit


class StallTimeout(Timeout):
    """A stream went silent mid-way: no chunk for ``stall_timeout`` seconds after the
    previous one. Set it per provider, or per request with
    ``options={"stall_timeout": seconds}``.

    Attributes:
        limit: the limit that passed, in seconds. chunks: chunks received before the gap.
    """

    def __init__(self, message: str, *, provider: str, limit: float, chunks: int = 0) -> None:
        super().__init__(message, provider=provider)
        self.limit = limit
        self.chunks = chunks


class ContextLengthExceeded(ProviderError):
    """The prompt plus ``max_tokens`` is longer than the model's context window."""


class ContentFiltered(ProviderError):
    """The provider refused or filtered the content."""


class MalformedResponse(ProviderError):
    """The provider answered with something we could not parse. Retryable once or twice."""

    default_retryable = True


class Unsupported(ProviderError):
    """The provider does not offer this operation (e.g. embeddings on Anthropic)."""


class StreamInterrupted(ProviderError):
    """A stream failed after some of it reached the caller, and no route could complete it
    seamlessly: every continuation failed, or the one that answered did not extend what was
    already delivered. Never retryable (the caller holds part of an answer).

    Attributes:
        partial: the text delivered before the interruption (what the caller has).
        cause: the failure that interrupted the stream (the real one: a cut, a stall).
        errors: every failure met while trying to complete it, in order, ``cause`` first.
        reason: ``"exhausted"`` (no route left to continue on) or ``"diverged"`` (a
            restarted answer did not begin with what was delivered).
    """

    def __init__(self, partial: str, cause: BaseException, *,
                 errors: Sequence[BaseException] = (), reason: str = "exhausted") -> None:
        self.partial = partial
        self.cause = cause
        self.errors = tuple(errors) or (cause,)
        self.reason = reason
        why = ("no route could continue it" if reason == "exhausted" else
               "the restarted answer did not extend what was delivered")
        super().__init__(
            f"The stream was interrupted after {len(partial)} characters reached the caller "
            f"({type(cause).__name__}: {cause}) and {why}; the partial text is on "
            ".partial — ask again (or send it as an assistant prefill to continue).",
            provider=_name(cause), status=getattr(cause, "status", None), retryable=False)


class BudgetExceeded(InsightForgeError):
    """The budget cannot cover this request; raised before any network call.

    Attributes:
        scope: the budget scope (``global`` or ``tenant=acme``).
        limit: the limit in USD.
        spent: settled plus reserved spend in the current period, in USD.
    """

    def __init__(self, *, scope: str, limit: Decimal, spent: Decimal, needed: Decimal | None = None,
                 period: str = "total") -> None:
        self.scope = scope
        self.limit = limit
        self.spent = spent
        self.needed = needed
        need = f" needs at least ${needed:.6f};" if needed is not None else ""
        super().__init__(
            f"Budget {scope} ({period}) exhausted: ${spent:.6f} of ${limit:.6f} used;{need} "
            "raise limit_usd, wait for the next period, or lower max_tokens."
        )


class RateLimited(InsightForgeError):
    """The local rate limiter would have to wait longer than ``max_wait``.

    Attributes:
        key: the limiter key (a route or a tag value).
        wait: the wait that would have been needed, in seconds (when known).
    """

    def __init__(self, key: str, *, wait: float | None = None, max_wait: float = 0.0) -> None:
        self.key = key
        self.wait = wait
        self.max_wait = max_wait
        super().__init__(
            f"Rate limit for {key} reached: waiting would exceed max_wait={max_wait}s; "
            "raise the limit or max_wait, or slow down."
        )


class StoreUnavailable(InsightForgeError):
    """A layer's store (a SQLite file, a Redis server) failed or could not be reached.

    Each layer has its own policy: a ``Budget`` fails closed (this error reaches the
    caller, before any network call when it happens at the reservation); a ``Cache`` fails
    open (a miss, with a breaker); a ``RateLimit`` chooses (``on_store_error``).

    Attributes:
        store: where the store is (passwords masked). operation: what was being done.
        reason: the store's own words (SQLite's or Redis') for what went wrong.
    """

    def __init__(self, store: str, *, operation: str, reason: str,
                 fix: str = "check that the store is running, reachable and writable") -> None:
        self.store = store
        self.operation = operation
        self.reason = reason
        super().__init__(f"The store {store} failed to {operation}: {reason}; {fix}.")


class AuditUnavailable(InsightForgeError):
    """The audit log cannot write its records (a full disk, a removed folder, a read-only
    file), so the request is refused rather than served unaudited.

    ``AuditLog(on_write_error="serve")`` keeps serving instead and records the gap.

    Attributes:
        sink: where the records go. reason: what went wrong.
    """

    def __init__(self, sink: str, reason: str) -> None:
        self.sink = sink
        self.reason = reason
        super().__init__(f"The audit log {sink} cannot write records: {reason}; free the "
                         "disk or fix the path (or set on_write_error='serve' to keep serving "
                         "and count the gap).")


class AllProvidersFailed(InsightForgeError):
    """Every provider a ``Fallback`` tried failed.

    Attributes:
        errors: one error per provider tried, in the order tried.
    """

    def __init__(self, errors: Sequence[BaseException]) -> None:
        self.errors = tuple(errors)
        parts = "; ".join(f"{_name(e)}: {type(e).__name__}: {e}" for e in self.errors)
        super().__init__(f"All {len(self.errors)} providers failed — {parts}")


def _name(error: BaseException) -> Any:
    return getattr(error, "provider", "?")
