"""The Hugging Face wire formats: TGI's Messages API and TEI's embed endpoint.

What lives here: `POST /hf/v1/chat/completions` (OpenAI-shaped; when streamed, the finish
chunk carries `usage`, as TGI does), `POST /hf/embed` (``{"inputs": str | list}`` ->
``[[float, ...], ...]``), `GET /hf/info`, `GET /hf/health`, and the error body
``{"error": "...", "error_type": "..."}``. Pure functions.
"""

from __future__ import annotations

from typing import Any

from . import wire_openai
from .replies import embed_vector, filtered, make_reply
from .wire_common import (
    Body,
    Stream,
    StreamFaults,
    WireRequest,
    dimensions_of,
    embed_inputs,
    json_body,
    sse,
)

__all__ = ["STREAM_FAULTS", "chat", "embed", "error_body", "health", "info"]

MODEL_ID = "meta-llama/Llama-3.1-8B-Instruct"
_ERROR_TYPES = {400: "validation", 401: "authentication", 403: "authentication",
                404: "not_found", 422: "validation", 429: "overloaded", 503: "overloaded"}


def error_type(status: int) -> str:
    """TGI's `error_type` for an HTTP status."""
    return _ERROR_TYPES.get(status, "generation" if status >= 500 else "validation")


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """TGI/TEI's error shape."""
    return {"error": message, "error_type": error_type(status)}


STREAM_FAULTS = StreamFaults(
    error=lambda kind, message: sse({"error": message, "error_type": kind}),
    malformed=b'data: {"id": "x", "choi\n\n',
    wrong_shape=sse({"unexpected": True}),
    end=(b"data: [DONE]\n\n",),
)


def chat(call: WireRequest) -> Body | Stream:
    """POST /hf/v1/chat/completions."""
    body = call.json()
    model = body.get("model")
    request = wire_openai.parse_chat(body, model if isinstance(model, str) and model else "tgi")
    reply = make_reply(request)
    if call.filtered:
        reply = filtered(reply)
    number = call.next_id()
    if body.get("stream") is True:
        return wire_openai.chat_stream(reply, request.model, number, usage="last",
                                       faults=STREAM_FAULTS)
    return wire_openai.chat_body(reply, request.model, number)


def embed(call: WireRequest) -> Body:
    """POST /hf/embed (TEI)."""
    body = call.json()
    texts = embed_inputs(body.get("inputs"), "inputs")
    size = dimensions_of(body)
    return json_body([embed_vector(text, size) for text in texts])


def info(call: WireRequest) -> Body:
    """GET /hf/info."""
    return json_body({"model_id": MODEL_ID, "model_sha": None, "model_dtype": "bfloat16",
                      "model_device_type": "cpu", "max_input_tokens": 8191,
                      "max_total_tokens": 8192, "version": "emulator"})


def health(call: WireRequest) -> Body:
    """GET /hf/health."""
    return Body(200, b"", "text/plain")
