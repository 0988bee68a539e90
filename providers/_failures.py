"""Transport failures as errors of the hierarchy — and where typing stops and bugs surface.

Pure functions, shared by every provider: :func:`error_from_transport` (a failure below
HTTP: timeout, refused, reset, bad bytes), :func:`mid_stream` (a failure while an answer
streams: a cut or a stall, saying after how many chunks), :func:`unexpected` (anything else
the HTTP stack raises), and :func:`detach` (our error without the HTTP stack's exception
chain). HTTP error *answers* are :mod:`providers._errors`' business.

Where the line runs between a failure we type and a bug we let through
-------------------------------------------------------------------------
Only exceptions raised *inside the transport* — the SDK or httpx call that sends a request,
and the reading of its answer or stream — are mapped; nothing our own code raises outside
it (building the body, parsing a decoded answer, a layer's logic) is ever rewritten.
Inside the transport:

* the HTTP stack's own errors (``httpx.HTTPError``, the openai SDK's ``APIError`` family,
  httpcore) map by type — :func:`error_from_transport`, :func:`mid_stream`, and
  :func:`providers._errors.error_from_status` for error answers — and carry **no**
  exception chain (:func:`detach`: they hold the request, and the request holds the
  credential);
* anything else is an *unexpected transport failure* — a socket or TLS error the stack did
  not wrap, an event loop or client closed under it, a module seen half-imported by
  another thread — and becomes ``ProviderUnavailable`` (retryable) **with the original
  chained** as ``__cause__`` (its own chain cut at the first HTTP-stack exception);
* except programming errors (:data:`BUGS`: ``TypeError``, ``AttributeError``,
  ``NameError``, ``AssertionError``, ``NotImplementedError``, ``RecursionError``,
  ``ImportError``, and ``MemoryError``), which surface as themselves wherever they are
  raised: retrying or falling back would hide a defect. The one exception is an
  ``AttributeError``/``ImportError`` about a *partially initialized module* — an import
  race between threads, an environmental failure — which is typed.
"""

from __future__ import annotations

from typing import TypeVar

from insightforge.errors import (
    InsightForgeError,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    Timeout,
)
from insightforge.secrets import scrub

__all__ = ["BUGS", "cut_stream", "detach", "error_from_transport", "is_bug", "mid_stream",
           "stalled_stream", "unexpected"]

BUGS: tuple[type[BaseException], ...] = (
    TypeError, AttributeError, NameError, AssertionError, NotImplementedError, RecursionError,
    ImportError, MemoryError)
"""Programming errors: never typed, never retried, wherever they are raised (see above)."""
_STACK_MODULES = ("httpx", "httpx2", "httpcore", "openai", "anthropic", "h11", "h2")


E = TypeVar("E", bound=BaseException)


def detach(error: E) -> E:
    """``error`` without its exception chain, ready to raise *outside* an ``except`` block.

    An httpx or SDK exception holds the request, and the request holds the headers (the API
    key among them): our errors never carry one as ``__cause__`` or ``__context__``. The
    one cause kept is the one :func:`unexpected` chained (nothing of the HTTP stack in it,
    no secret in its text). Raise the result after the ``except`` block has ended, or
    Python links the handled exception again.
    """
    if isinstance(error, InsightForgeError):
        if not _safe_cause(error.__cause__):
            error.__cause__ = None
        error.__context__ = None
        error.__suppress_context__ = True
    return error


def _of_stack(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the HTTP stack (and may hold a request and its headers)."""
    if type(exc).__module__.split(".")[0] in _STACK_MODULES:
        return True
    try:
        return hasattr(exc, "request") or hasattr(exc, "response")
    except Exception:  # a property that raises: assume the worst
        return True


def _safe_cause(cause: BaseException | None) -> bool:
    """A cause :func:`unexpected` chained: not of the HTTP stack, nothing of it behind."""
    seen = 0
    while cause is not None and seen < 20:
        if _of_stack(cause) or scrub(str(cause)) != str(cause):
            return False
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return cause is None


def _cut_chain(exc: BaseException) -> None:
    """Drop the links of ``exc``'s chain from the first HTTP-stack exception on."""
    link, seen = exc, 0
    while seen < 20:
        nxt = link.__cause__ or link.__context__
        if nxt is None:
            return
        if _of_stack(nxt):
            link.__cause__ = link.__context__ = None
            link.__suppress_context__ = True
            return
        link, seen = nxt, seen + 1
    link.__cause__ = link.__context__ = None


def is_bug(exc: BaseException) -> bool:
    """Whether ``exc`` is a programming error to surface as itself (see the module
    docstring); a module seen half-imported by another thread is not one."""
    if isinstance(exc, (AttributeError, ImportError)) and \
            "partially initialized module" in str(exc):
        return False
    return isinstance(exc, BUGS)


def unexpected(provider: str, exc: BaseException) -> ProviderUnavailable:
    """The typed error for an unexpected failure inside the transport, its cause chained.

    Raises ``exc`` itself when it is a programming error (:func:`is_bug`). Call it inside
    the ``except`` block and raise the result after it (through :func:`detach`, which keeps
    a cause made safe here).
    """
    if is_bug(exc):
        raise exc
    name = type(exc).__name__
    text = scrub(" ".join(str(exc).split())[:200])
    error = ProviderUnavailable(
        f"{provider}: the HTTP client failed unexpectedly ({name}: {text}); the request may "
        "not have reached the server. Retry it; if this persists, report it with the "
        "chained cause.", provider=provider)
    _cut_chain(exc)
    if _safe_cause(exc):
        error.__cause__ = exc
    return error


def cut_stream(provider: str, chunks: int, why: str = "") -> ProviderUnavailable:
    """The error for a stream whose connection closed after ``chunks`` chunks, before the
    vendor's end marker (retryable: the answer is incomplete, the server reachable)."""
    detail = f" ({why})" if why else ""
    return ProviderUnavailable(
        f"{provider} cut the stream after {chunks} chunk{'s' * (chunks != 1)}{detail}: the "
        "connection closed before the end of the answer, so it is incomplete. Retry the "
        "request.", provider=provider)


def stalled_stream(provider: str, chunks: int, why: str = "") -> Timeout:
    """The error for a stream that stopped sending after ``chunks`` chunks until the read
    timeout expired (retryable)."""
    detail = f" ({why})" if why else ""
    return Timeout(
        f"{provider} stalled mid-stream: nothing arrived within the read timeout after "
        f"{chunks} chunk{'s' * (chunks != 1)}{detail}, so the answer is incomplete. Retry "
        "the request, or raise timeout= if the model is slow.", provider=provider)


def mid_stream(provider: str, exc: BaseException, chunks: int) -> ProviderError:
    """The error for ``exc`` raised while reading an answer that had begun streaming.

    A read timeout is a stall, an undecodable body a malformed answer, any other failure
    of the HTTP stack a cut; anything else is :func:`unexpected` (a bug raises itself).
    """
    name = type(exc).__name__
    if not _of_stack(exc) and not isinstance(exc, OSError):
        return unexpected(provider, exc)
    if "Decod" in name:
        return error_from_transport(provider, exc)
    below = exc.__cause__ or exc.__context__
    under = type(below).__name__ if below is not None else name
    why = name if under == name else f"{name}: {under}"
    if "Timeout" in name or "Timeout" in why:
        return stalled_stream(provider, chunks, why)
    return cut_stream(provider, chunks, why)


def error_from_transport(provider: str, exc: BaseException) -> ProviderError:
    """The error for a failure below HTTP: timeout, refused, reset, bad bytes."""
    name = type(exc).__name__
    text = scrub(" ".join(str(exc).split())[:200])
    if "Timeout" in name:
        return Timeout(f"{provider} did not answer in time ({name}). Raise timeout= or retry.",
                       provider=provider)
    if isinstance(exc, (ValueError, KeyError, TypeError, IndexError)) or "Decod" in name \
            or "Validation" in name:
        return MalformedResponse(f"{provider} sent a response we could not read ({name}: "
                                 f"{text}).", provider=provider)
    return ProviderUnavailable(f"{provider} could not be reached ({name}: {text}). Is the "
                               "server running and base_url right?", provider=provider)
