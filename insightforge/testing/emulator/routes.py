"""Routing, credentials and error rendering: which vendor a request speaks to.

What lives here: `resolve` (method + path + headers -> API name, endpoint, path params),
`credential` (where each vendor carries its API key), `error` (an HTTP error rendered in
the API's own error shape, with default messages per status) and `unauthorized`. Pure
functions over plain values; the server does the I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import wire_anthropic, wire_azure, wire_hf, wire_ollama, wire_openai
from .wire_common import Body, Stream, WireRequest, dumps

__all__ = ["Endpoint", "Destination", "credential", "error", "resolve", "unauthorized"]

Endpoint = Callable[[WireRequest], "Body | Stream"]

_STATIC: dict[tuple[str, str], tuple[str, Endpoint]] = {
    ("POST", "/v1/chat/completions"): ("openai", wire_openai.chat),
    ("POST", "/v1/embeddings"): ("openai", wire_openai.embeddings),
    ("GET", "/v1/models"): ("openai", wire_openai.models),
    ("POST", "/v1/messages"): ("anthropic", wire_anthropic.chat),
    ("GET", "/openai/models"): ("azure", wire_azure.models),
    ("POST", "/api/chat"): ("ollama", wire_ollama.chat),
    ("POST", "/api/embed"): ("ollama", wire_ollama.embed),
    ("GET", "/api/tags"): ("ollama", wire_ollama.tags),
    ("GET", "/api/version"): ("ollama", wire_ollama.version),
    ("POST", "/hf/v1/chat/completions"): ("hf", wire_hf.chat),
    ("POST", "/hf/embed"): ("hf", wire_hf.embed),
    ("GET", "/hf/info"): ("hf", wire_hf.info),
    ("GET", "/hf/health"): ("hf", wire_hf.health),
}
_AZURE = {"chat/completions": wire_azure.chat, "embeddings": wire_azure.embeddings}
_PREFIXES = (("/openai/", "azure"), ("/api/", "ollama"), ("/hf/", "hf"))

_ERROR_BODIES: dict[str, Callable[[int, str, str | None], Any]] = {
    "openai": wire_openai.error_body,
    "azure": wire_openai.error_body,
    "anthropic": wire_anthropic.error_body,
    "ollama": wire_ollama.error_body,
    "hf": wire_hf.error_body,
}
_MESSAGES = {
    400: "Invalid request.",
    401: "Invalid authentication credentials.",
    403: "You are not allowed to use this resource.",
    404: "The requested resource was not found.",
    408: "Request timed out.",
    409: "Conflict.",
    413: "Request too large.",
    422: "Unprocessable request.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request.",
    502: "Bad gateway.",
    503: "The service is temporarily overloaded. Please try again later.",
    504: "Gateway timeout.",
    529: "Overloaded",
}
_UNAUTHORIZED = {
    "openai": "Incorrect API key provided. You can find your API key in your account settings.",
    "azure": "Access denied due to invalid subscription key or wrong API endpoint.",
    "anthropic": "invalid x-api-key",
    "ollama": "unauthorized",
    "hf": "Authorization header is correct, but the token seems invalid",
}


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a request goes.

    Attributes:
        api: the vendor API the path belongs to (guessed from the prefix when unknown).
        endpoint: the endpoint function, or None for an unknown path (404).
        params: values captured from the path (the Azure deployment).
    """

    api: str
    endpoint: Endpoint | None
    params: dict[str, str] = field(default_factory=dict)


def _is_anthropic(headers: Mapping[str, str]) -> bool:
    return "x-api-key" in headers or "anthropic-version" in headers


def _azure(method: str, path: str) -> Destination:
    parts = path.split("/", 4)  # "", "openai", "deployments", name, rest
    endpoint = _AZURE.get(parts[4]) if len(parts) == 5 and parts[3] else None
    if method != "POST" or endpoint is None:
        return Destination("azure", None)
    return Destination("azure", endpoint, {"deployment": parts[3]})


def resolve(method: str, path: str, headers: Mapping[str, str]) -> Destination:
    """The route for a request; `path` has no query string and no trailing slash."""
    found = _STATIC.get((method, path))
    if found is not None:
        if path == "/v1/models" and _is_anthropic(headers):
            return Destination("anthropic", wire_anthropic.models)
        return Destination(found[0], found[1])
    if path.startswith("/openai/deployments/"):
        return _azure(method, path)
    for prefix, api in _PREFIXES:
        if path.startswith(prefix):
            return Destination(api, None)
    return Destination("anthropic" if _is_anthropic(headers) else "openai", None)


def credential(api: str, headers: Mapping[str, str]) -> str | None:
    """The API key the request carries, where `api` expects it."""
    if api == "anthropic":
        return headers.get("x-api-key")
    if api == "azure" and "api-key" in headers:
        return headers["api-key"]
    auth = headers.get("authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else None


def default_message(status: int) -> str:
    """A vendor-neutral message for an HTTP status."""
    return _MESSAGES.get(status, "Internal server error" if status >= 500 else "Request failed.")


def error(api: str, status: int, message: str | None = None, code: str | None = None) -> Body:
    """An error response in `api`'s shape."""
    text = message or default_message(status)
    return Body(status, dumps(_ERROR_BODIES[api](status, text, code)))


def unauthorized(api: str) -> Body:
    """The 401 `api` answers a missing or wrong key with; it never names the key."""
    return error(api, 401, _UNAUTHORIZED[api], "invalid_api_key" if api == "openai" else None)
