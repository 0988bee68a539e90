"""``AuditLog``: one tamper-evident, redacted JSON-lines record per request.

The parts:

* :mod:`middleware.audit.layer` — the layer (configuration) and its flow;
* :mod:`middleware.audit.record` — what a record says (pure);
* :mod:`middleware.audit.chain` — canonical JSON, hash chain, verification (pure);
* :mod:`middleware.audit.writer` — records leave the request path in microseconds and are
  built, chained and written in order, in batches, by a writer thread;
* :mod:`middleware.audit.sinks` — file (locked, complete writes, torn lines sealed, fsync
  policy, rotation) and logger sinks.
"""

from __future__ import annotations

from insightforge.redact import Redactor
from middleware.audit.chain import verify
from middleware.audit.layer import AuditLog
from middleware.audit.sinks import FileSink, LoggerSink, Sink
from middleware.audit.writer import flush_all

__all__ = ["AuditLog", "FileSink", "LoggerSink", "Redactor", "Sink", "flush_all", "verify"]
