"""Secrets as a masked type, and scrubbing of secrets out of text.

Rules: a :class:`Secret` never shows its value in ``repr``/``str``/``format``, cannot be
pickled or JSON-dumped by accident, and compares in constant time. Code that must send the
value calls :meth:`Secret.reveal` at the last moment. :func:`scrub` removes known secret
values (and their URL-encoded forms) from any text before it reaches an error or a log.
"""

from __future__ import annotations

import functools
import hmac
import threading
import urllib.parse
import weakref
from collections.abc import Iterable

__all__ = ["Secret", "known_secrets", "mask", "mask_url", "scrub"]

# Keyed by identity, not by value: Secret compares by value, so a WeakSet kept only the
# first of two equal secrets and forgot the value when that one died, while the other,
# still alive, was being used — scrub() then let the live key through.
_registry: weakref.WeakValueDictionary[int, Secret] = weakref.WeakValueDictionary()
_lock = threading.Lock()
# known_secrets() is read on request paths (a cache entry, a redactor): its answer is kept
# until the registry changes. A new secret bumps the generation; a dead one only shrinks
# the registry — so (generation, size) never repeats with a secret missing from the answer
# (a value kept after its secret died is only scrubbed once more than needed).
_generation = 0
_known: tuple[tuple[int, int], list[str]] = ((-1, -1), [])


def mask(value: str) -> str:
    """A display form that shows at most a short prefix: ``sk-p…(51 chars)``."""
    if len(value) < 12:
        return "****"
    return f"{value[:4]}…({len(value)} chars)"


class Secret:
    """A credential. ``str()``/``repr()`` show only a masked form; ``reveal()`` the value."""

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("a secret must be a string")
        self._value = value
        if value:
            global _generation
            with _lock:
                _registry[id(self)] = self
                _generation += 1

    def reveal(self) -> str:
        """The plain value, for the one place that sends it."""
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> str:
        raise TypeError("secrets are not picklable: store a reference (env var, keyring), "
                        "not the value")


def known_secrets() -> list[str]:
    """Values of every live :class:`Secret` (longest first), for scrubbing (a new list)."""
    global _known
    if not _registry:  # no secret alive: nothing to look for (the common hot path)
        return []
    with _lock:
        version = (_generation, len(_registry))
        if _known[0] != version:
            values = {s.reveal() for s in _registry.values() if len(s.reveal()) >= 6}
            _known = (version, sorted(values, key=len, reverse=True))
        return list(_known[1])


@functools.lru_cache(maxsize=64)
def _quoted(value: str) -> str | None:
    """The URL-encoded form of ``value`` when it differs from it."""
    quoted = urllib.parse.quote(value, safe="")
    return quoted if quoted != value else None


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every known secret (plain or URL-encoded) replaced by its masked form."""
    for value in known_secrets() if secrets is None else secrets:
        if value and value in text:
            text = text.replace(value, mask(value))
        quoted = _quoted(value)
        if quoted is not None and quoted in text:
            text = text.replace(quoted, mask(value))
    return text


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (``redis://:***@host:6379/0``).

    The one place store URLs are made safe for a repr, a log line or an error message. A
    string that does not parse as a URL keeps only what follows its last ``@``.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
        port = parts.port
    except ValueError:
        head, sep, tail = url.rpartition("@")
        return f"{head.partition('://')[0]}://***@{tail}" if sep else url
    if password is None:
        head, sep, tail = url.rpartition("@")  # a user part urlsplit did not take apart
        return url if not sep or "://" not in head else f"{head.partition('://')[0]}://***@{tail}"
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{port}" if port else "")
    return urlunsplit(parts._replace(netloc=netloc))
