"""``json.JSONEncoder.encode`` without its per-call set-up, for hot paths (cache keys, audit
lines).

``JSONEncoder.encode`` makes a new C encoder on every call (plus a dict of markers to catch
circular references). :func:`compiled` makes it once from the encoder's own settings. Only
for data that cannot nest into itself (requests are checked to be JSON when made; audit
records are built from them): without markers a cycle ends in ``RecursionError`` instead of
``ValueError``. Without the C accelerator it is ``encoder.encode`` itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["compiled"]


def compiled(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """A function equal to ``encoder.encode`` for acyclic data, with the C encoder made once."""
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if encoder.indent is not None:  # the C encoder takes no indent
        return encoder.encode
    quote = (json.encoder.encode_basestring_ascii if encoder.ensure_ascii
             else json.encoder.encode_basestring)
    try:
        chunks = make(None, encoder.default, quote, None, encoder.key_separator,
                      encoder.item_separator, encoder.sort_keys, encoder.skipkeys,
                      encoder.allow_nan)
    except TypeError:  # no accelerator (``make`` is None), or another signature
        return encoder.encode

    def encode(data: Any) -> str:
        if isinstance(data, str):  # encode() quotes a bare string itself
            return encoder.encode(data)
        return "".join(chunks(data, 0))

    return encode
