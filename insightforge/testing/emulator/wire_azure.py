"""The Azure OpenAI wire format: OpenAI bodies behind deployment paths.

What lives here: the Azure endpoints, which check the `api-version` query parameter and
then answer exactly as the OpenAI endpoints do, the deployment name (captured from
``/openai/deployments/{deployment}/...``) standing in for the model. Pure functions.
"""

from __future__ import annotations

from . import wire_openai
from .wire_common import ApiError, Body, Stream, WireRequest

__all__ = ["chat", "embeddings", "models"]


def _require_version(call: WireRequest) -> None:
    if not call.query.get("api-version"):
        raise ApiError(
            400,
            "Missing required query parameter 'api-version' "
            "(e.g. ?api-version=2024-10-21).",
            "missing_api_version",
        )


def chat(call: WireRequest) -> Body | Stream:
    """POST /openai/deployments/{deployment}/chat/completions?api-version=..."""
    _require_version(call)
    return wire_openai.chat(call)


def embeddings(call: WireRequest) -> Body:
    """POST /openai/deployments/{deployment}/embeddings?api-version=..."""
    _require_version(call)
    return wire_openai.embeddings(call)


def models(call: WireRequest) -> Body:
    """GET /openai/models?api-version=..."""
    _require_version(call)
    return wire_openai.models_body()
