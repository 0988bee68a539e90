"""The provider kit: everything a new HTTP provider (in-tree or a plugin) builds on.

A provider is three pure pieces — the request body, the answer, the stream decoder — and a
thin driver. The kit gives the driver its base class and its plumbing, and the pure pieces
their typed field access, so a plugin behaves exactly like the built-in providers (pooled
clients, finite timeouts, one error table, secrets never shown):

* :class:`HttpxProvider` — the base class: credentials (argument, ``env_vars``, keyring),
  one pooled ``httpx`` client each way, ``_send_json``/``_open_lines`` and their async
  twins, capability checks, prices and routes;
* :func:`drive` / :func:`adrive` — a stream decoder's chunks from an open stream's lines,
  ending in ``ProviderUnavailable`` when the vendor's end marker never came;
  :class:`SSEDecoder` (``data:`` events) and :func:`ndjson_object` (one JSON object a line);
  :class:`StreamDecoder` is the protocol a decoder follows;
* :func:`get`, :func:`optional_int`, :func:`arguments_text`, :func:`arguments_object`,
  :func:`json_schema`, :func:`output_format`, :func:`estimate_usage` — reading a vendor's
  JSON into our types, a wrong shape raising ``MalformedResponse``;
* :func:`error_from_status` / :func:`error_from_transport` — the one mapping of HTTP
  statuses and transport failures onto the error hierarchy;
* :data:`CAPABILITIES` and :func:`unsupported` — what a provider may declare it maps;
* :class:`TemplateProvider` — a complete, working provider (Ollama's wire format) to
  subclass or copy; ``examples/plugin-provider`` subclasses it in a few lines.

See docs/writing-a-provider.md. Names here are public and versioned with the package.
"""

from __future__ import annotations

from providers._capabilities import CAPABILITIES, unsupported
from providers._errors import error_from_status, error_from_transport
from providers._httpx import HttpxProvider
from providers._lines import SSEDecoder, SSEEvent, StreamDecoder, adrive, drive, ndjson_object
from providers._template import TemplateProvider
from providers._wire import (
    arguments_object,
    arguments_text,
    estimate_usage,
    get,
    json_schema,
    optional_int,
    output_format,
)

__all__ = [
    "CAPABILITIES",
    "HttpxProvider",
    "SSEDecoder",
    "SSEEvent",
    "StreamDecoder",
    "TemplateProvider",
    "adrive",
    "arguments_object",
    "arguments_text",
    "drive",
    "error_from_status",
    "error_from_transport",
    "estimate_usage",
    "get",
    "json_schema",
    "ndjson_object",
    "optional_int",
    "output_format",
    "unsupported",
]
