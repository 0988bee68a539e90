"""Map HTTP failures to InsightForge's error hierarchy — one table for every provider.

Pure functions: a status code, headers and body text in; an exception object out. Providers
call :func:`error_from_status` for HTTP error answers and :func:`error_from_transport` for
transport failures (httpx or the openai SDK), so every provider maps the same failure to the
same error type, with the same ``retryable`` flag and ``retry_after``. Every message is
scrubbed of known secrets before it is put in an exception.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping
from typing import Any, TypeVar

from insightforge.errors import (
    AuthenticationError,
    ContentFiltered,
    ContextLengthExceeded,
    InsightForgeError,
    InvalidRequest,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimitError,
    Timeout,
)
from insightforge.secrets import scrub

__all__ = ["detach", "error_from_status", "error_from_transport", "error_message",
           "parse_retry_after"]

_CONTEXT_HINTS = ("context length", "context_length", "maximum context", "too many tokens",
                  "prompt is too long", "context window")
_FILTER_HINTS = ("content_filter", "content filter", "content management policy",
                 "responsibleaipolicyviolation")


def _seconds(text: str, scale: float = 1.0) -> float | None:
    """A finite, non-negative number of seconds, or ``None`` (``inf``/``nan``/junk)."""
    try:
        value = float(text) / scale
    except ValueError:
        return None
    return max(0.0, value) if math.isfinite(value) else None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms``, ``retry-after`` (seconds or HTTP date).

    Anything that is not a finite number of seconds (``inf``, ``1e400``, junk) counts as
    not said, so a server can never make a client wait forever.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms and (found := _seconds(ms, 1000.0)) is not None:
        return found
    value = lower.get("retry-after")
    if not value:
        return None
    if (found := _seconds(value)) is not None:
        return found
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_message(body: str | bytes | None, limit: int = 300) -> str:
    """The vendor's error text from a body (JSON ``error.message`` and friends), scrubbed."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            text = str(err.get("message") or err.get("type") or err)
        elif isinstance(err, str):
            text = err
        elif "message" in data:
            text = str(data["message"])
    text = " ".join(text.split())[:limit].rstrip(" .")
    return scrub(text)


def error_from_status(provider: str, status: int, body: str | bytes | None = None,
                      headers: Mapping[str, str] | None = None) -> InsightForgeError:
    """The error for an HTTP error answer, with a message that says what to do."""
    detail = error_message(body)
    lowered = detail.lower() + " " + (body.decode("utf-8", "replace") if isinstance(body, bytes)
                                      else (body or "")).lower()[:2000]
    said = f": {detail}" if detail else ""
    retry_after = parse_retry_after(headers or {})
    kw: dict[str, Any] = {"provider": provider, "status": status, "retry_after": retry_after}
    if status in (401, 403):
        return AuthenticationError(
            f"{provider} refused the credential (HTTP {status}){said}. Check the API key "
            f"(`insightforge keys test {provider}`).", **kw)
    if status == 429:
        return RateLimitError(f"{provider} rate limit hit (HTTP 429){said}.", **kw)
    if status == 408:
        return Timeout(f"{provider} timed out on its side (HTTP 408){said}.", **kw)
    if status >= 500 or status == 409:
        return ProviderUnavailable(f"{provider} failed on its side (HTTP {status}){said}.", **kw)
    if any(h in lowered for h in _CONTEXT_HINTS):
        return ContextLengthExceeded(
            f"{provider}: the prompt plus max_tokens exceeds the model's context window{said}. "
            "Shorten the messages or lower max_tokens.", **kw)
    if any(h in lowered for h in _FILTER_HINTS):
        return ContentFiltered(f"{provider} filtered the content{said}.", **kw)
    if status == 404:
        return InvalidRequest(f"{provider}: not found (HTTP 404){said}. Check the model name "
                              "and base_url.")
    return InvalidRequest(f"{provider} rejected the request (HTTP {status}){said}.")


E = TypeVar("E", bound=BaseException)


def detach(error: E) -> E:
    """``error`` without its exception chain, ready to raise *outside* an ``except`` block.

    An httpx or SDK exception holds the request, and the request holds the headers (the API
    key among them): our errors never carry one as ``__cause__`` or ``__context__``. Raise
    the result after the ``except`` block has ended, or Python links the handled exception
    again.
    """
    if isinstance(error, InsightForgeError):
        error.__cause__ = None
        error.__context__ = None
        error.__suppress_context__ = True
    return error


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
