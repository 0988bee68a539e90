"""Map HTTP failures to InsightForge's error hierarchy — one table for every provider.

Pure functions: a status code, headers and body text in; an exception object out. Providers
call :func:`error_from_status` for HTTP error answers (a content-policy refusal of any
vendor included: :func:`filtered`), so every provider maps the same failure to the same
error type, with the same ``retryable`` flag and ``retry_after``. Every message is
scrubbed of known secrets before it is put in an exception.

Failures below HTTP — timeouts, cuts, stalls, the unexpected (:func:`error_from_transport`,
``mid_stream``, ``unexpected``, :func:`detach`) — and where the line runs between a
failure we type and a bug we let through live in :mod:`providers._failures`.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping
from typing import Any

from insightforge.errors import (
    AuthenticationError,
    ContentFiltered,
    ContextLengthExceeded,
    InsightForgeError,
    InvalidRequest,
    ProviderUnavailable,
    RateLimitError,
    Timeout,
)
from insightforge.secrets import scrub
from providers._failures import detach, error_from_transport

__all__ = ["detach", "error_from_status", "error_from_transport", "error_message", "filtered",
           "parse_retry_after"]

_CONTEXT_HINTS = ("context length", "context_length", "maximum context", "too many tokens",
                  "prompt is too long", "context window")
_FILTER_HINTS = ("content_filter", "content filter", "content management policy",
                 "responsibleaipolicyviolation", "content_policy_violation", "safety system")
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation",
                           "responsibleaipolicyviolation"})
_POLICY_WORDS = ("usage policy", "content policy", "safety")


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
    refused = _refusal_code(body)
    if refused:
        return _content_filtered(provider, refused, said, kw)
    if any(h in lowered for h in _CONTEXT_HINTS):
        return ContextLengthExceeded(
            f"{provider}: the prompt plus max_tokens exceeds the model's context window{said}. "
            "Shorten the messages or lower max_tokens.", **kw)
    if any(h in lowered for h in _FILTER_HINTS):
        return _content_filtered(provider, "", said, kw)
    if status == 404:
        return InvalidRequest(f"{provider}: not found (HTTP 404){said}. Check the model name "
                              "and base_url.")
    return InvalidRequest(f"{provider} rejected the request (HTTP {status}){said}.")


def _content_filtered(provider: str, code: str, said: str,
                      kw: dict[str, Any]) -> ContentFiltered:
    code = f" ({code})" if code else ""
    return ContentFiltered(f"{provider} refused the content under its usage policy{code}"
                           f"{said}. Rephrase the request, or let Fallback(on=(ContentFiltered,"
                           ")) try another provider; retrying the same one will not help.", **kw)


def _refusal_code(body: str | bytes | Mapping[str, Any] | None) -> str:
    """The vendor's code when an error body is a content-policy refusal, else ``""``.

    OpenAI: ``code: content_policy_violation`` (and ``invalid_prompt`` when its message
    names the usage policy); Azure: ``code: content_filter`` or an ``innererror`` of
    ``ResponsibleAIPolicyViolation``; Anthropic: an ``invalid_request_error`` whose message
    is "Output blocked by content filtering policy".
    """
    data: Any = body
    if isinstance(body, (str, bytes)):
        try:
            data = json.loads(body)
        except ValueError:
            return ""
    if not isinstance(data, Mapping):
        return ""
    err = data.get("error", data)
    if not isinstance(err, Mapping):
        return ""
    inner = err.get("innererror")
    codes = [err.get("code"), err.get("type"), data.get("code"),
             inner.get("code") if isinstance(inner, Mapping) else None]
    message = str(err.get("message") or "").lower()
    for code in codes:
        if not isinstance(code, str):
            continue
        if code.lower() in _FILTER_CODES:
            return code
        if code == "invalid_prompt" and any(w in message for w in _POLICY_WORDS):
            return code
    if "content filtering policy" in message:
        return str(err.get("type") or "blocked")
    return ""


def filtered(body: str | bytes | Mapping[str, Any] | None) -> bool:
    """Whether an error body (JSON text or the parsed object) is a content-policy refusal."""
    return bool(_refusal_code(body))


