"""The :class:`Redactor`: finds secrets and personal data in text and nested data.

What lives here: running the built-in detectors (provider keys, bearer tokens, AWS access
keys, JWTs, emails, phone numbers, Luhn-checked card numbers, mod-97-checked IBANs; their
patterns live in :mod:`insightforge._redact_rules`), custom regexes and literal values, and
the walk over nested structures (dicts, lists, JSON text inside strings,
e.g. tool-call arguments). A redaction leaves a typed placeholder: ``[REDACTED:email]``.
Every live :class:`~insightforge.secrets.Secret` value is always redacted too.

Content parts: text parts are redacted as text; bytes never reach the output — an image,
audio or file part (object or dict form, ``data:`` URLs and base64 ``data`` fields
included) becomes a short description, ``<image/png 1234 bytes sha256:0123456789ab>``;
reasoning keeps its (redacted) text and drops its signature.

What must not: I/O, logging, or any import beyond the standard library,
:mod:`insightforge.secrets` and the pure part types (:mod:`insightforge.types.parts`).
The redactor is pure and immutable; share one freely.

Speed: detectors run in stages behind cheap gates (a substring test such as ``"sk-" in
text``); card and phone regexes run only on windows around long digit runs. Clean text costs
a handful of substring scans and two regex scans that start with one character class.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from insightforge._redact_rules import (
    DETECTORS,
    NUMBERS,
    PATTERNS,
    SENSITIVE_KEYS,
    STAGES,
    cards,
    compile_detectors,
    iban_ok,
    luhn_ok,
    replace,
)
from insightforge.secrets import known_secrets
from insightforge.types.parts import (
    AudioPart,
    FilePart,
    ImagePart,
    TextPart,
    ThinkingPart,
    describe_bytes,
)

__all__ = ["DETECTORS", "Redactor", "iban_ok", "luhn_ok"]

class Redactor:
    """Replaces secrets and personal data with typed placeholders.

    Attributes:
        detectors: built-in detectors to run (default: all of :data:`DETECTORS`).
        patterns: custom regexes, ``{label: regex}``; matches become ``[REDACTED:label]``.
        literals: exact values to remove (e.g. an internal hostname), ``[REDACTED:literal]``.
        sensitive_keys: mapping keys whose whole value is a credential
            (``Authorization``, ``api-key``...), compared case-insensitively.
        secrets: also redact every live :class:`~insightforge.secrets.Secret` (default on).
    """

    __slots__ = ("_cards", "_custom", "_literals", "_numeric", "_sensitive", "_stages", "detectors",
                 "literals", "patterns", "secrets")

    def __init__(self, *, detectors: Iterable[str] | None = None,
                 patterns: Mapping[str, str] | None = None, literals: Iterable[str] = (),
                 sensitive_keys: Iterable[str] | None = None, secrets: bool = True) -> None:
        chosen = DETECTORS if detectors is None else tuple(detectors)
        unknown = sorted(set(chosen) - set(PATTERNS))
        if unknown:
            raise ValueError(f"unknown redaction detector(s) {unknown}; "
                             f"choose from {list(DETECTORS)}")
        self.detectors = tuple(n for n in DETECTORS if n in chosen)
        self.patterns = dict(patterns or {})
        self._custom: list[tuple[str, re.Pattern[str]]] = []
        for label, rx in self.patterns.items():
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", label):
                raise ValueError(f"redaction label {label!r} must be letters, digits, _ . -")
            try:
                self._custom.append((label, re.compile(rx)))
            except re.error as exc:
                raise ValueError(f"custom redaction pattern {label!r} is not a valid "
                                 f"regex: {exc}; fix the pattern") from None
        self.literals = tuple(sorted({v for v in literals if v}, key=len, reverse=True))
        self._literals = self.literals
        keys = SENSITIVE_KEYS if sensitive_keys is None else sensitive_keys
        self._sensitive = frozenset(k.lower() for k in keys)
        self.secrets = secrets
        self._stages = [(gate, compile_detectors(n for n in names if n in self.detectors), anchors)
                        for names, gate, anchors in STAGES if set(names) & set(self.detectors)]
        self._cards = "card" in self.detectors
        self._numeric = compile_detectors(["phone"]) if "phone" in self.detectors else None

    # -- text -------------------------------------------------------------------------
    def text(self, text: str, *, _secrets: Iterable[str] | None = None) -> str:
        """``text`` with every secret and piece of personal data replaced."""
        for value in self._exact(_secrets):
            if value in text:
                text = text.replace(value, "[REDACTED:secret]")
            quoted = urllib.parse.quote(value, safe="")
            if quoted != value and quoted in text:
                text = text.replace(quoted, "[REDACTED:secret]")
        for gate, regex, anchors in self._stages:
            if anchors:
                text = self._anchored(text, regex, anchors)
            elif gate(text):
                text = regex.sub(replace, text)
        if self._numeric is not None or self._cards:
            text = self._numbers(text)
        for label, rx in self._custom:
            text = rx.sub(f"[REDACTED:{label}]", text)
        return text

    def texts(self, items: list[str]) -> list[str]:
        """Each of ``items`` redacted as :meth:`__call__` would, in one pass over them all
        (short lines such as trace messages: one pass costs about what one line does).

        The lines are joined with newlines. No built-in detector lets a match start in one
        line and leave text in the next unredacted: lookarounds and ``\\b`` see a newline
        as they see the end of a line, and the patterns that may span whitespace replace
        only their value. A match that swallows a newline (a literal containing one) shows
        as a changed line count, and then each line is redacted alone — as are lines that
        contain a newline, hold JSON or a ``data:`` URL, and every line when custom
        patterns (which may anchor with ``^``) are set.
        """
        if len(items) < 2 or self._custom or not all(
                type(t) is str and "\n" not in t and not _structured(t) for t in items):
            return [self(t) for t in items]
        joined = self.text("\n".join(items), _secrets=list(self._exact(None)))
        lines = joined.split("\n")
        return lines if len(lines) == len(items) else [self(t) for t in items]

    def _exact(self, given: Iterable[str] | None) -> Iterable[str]:
        if given is not None:
            return given
        live = known_secrets() if self.secrets else []
        return (*live, *self._literals) if self._literals else live

    def _anchored(self, text: str, regex: re.Pattern[str], anchors: tuple[str, ...]) -> str:
        """Try ``regex`` only where one of its (lowercase) keywords starts."""
        low = text.lower()
        if len(low) != len(text):  # a few non-ASCII letters change length when lowered
            return regex.sub(replace, text)
        starts: list[int] = []
        for word in anchors:
            at = low.find(word)
            while at != -1:
                starts.append(at)
                at = low.find(word, at + 1)
        if not starts:
            return text
        out: list[str] = []
        done = 0
        for at in sorted(starts):
            if at < done:
                continue
            match = regex.match(text, at)
            if match is not None:
                out += [text[done:at], replace(match)]
                done = match.end()
        return "".join(out) + text[done:] if out else text

    def _numbers(self, text: str) -> str:
        """Look for cards and phones only in windows around long digit runs."""
        out: list[str] = []
        done = 0
        for cand in NUMBERS.finditer(text):
            start, end = cand.span()
            while start > done and text[start - 1] in "+(":
                start -= 1
            if start < done:
                continue
            window = text[start:end]
            fixed = cards(window) if self._cards else window
            if self._numeric is not None:
                fixed = self._numeric.sub(replace, fixed)
            if fixed != window:
                out.append(text[done:start])
                out.append(fixed)
                done = end
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)

    # -- structures -------------------------------------------------------------------
    def __call__(self, value: Any) -> Any:
        """Redact ``value``: a string, or nested dicts/lists/tuples of them (JSON-able out).

        Strings that hold JSON objects or arrays (tool-call arguments) are parsed, redacted
        value by value and re-serialised, so escapes inside JSON cannot hide a secret.
        """
        exact = list(self._exact(None))
        return self._walk(value, exact)

    def _walk(self, value: Any, exact: list[str]) -> Any:
        if isinstance(value, str):
            return self._string(value, exact)
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            return f"<{len(data)} bytes sha256:{hashlib.sha256(data).hexdigest()[:12]}>"
        if isinstance(value, (TextPart, ThinkingPart, ImagePart, AudioPart, FilePart)):
            return self._part(value, exact)
        if isinstance(value, Mapping):
            if _carries_bytes(value):
                return _describe_encoded(value)
            out: dict[str, Any] = {}
            for k, v in value.items():
                key = self._string(str(k), exact)
                if (str(k).lower() in self._sensitive and isinstance(v, str) and v
                        and not v.startswith("[REDACTED")):
                    out[key] = "[REDACTED:credential]"
                else:
                    out[key] = self._walk(v, exact)
            return out
        if isinstance(value, (list, tuple)):
            return [self._walk(v, exact) for v in value]
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self._string(str(value), exact)

    def _part(self, part: Any, exact: list[str]) -> Any:
        if isinstance(part, TextPart):
            return {"type": "text", "text": self._string(part.text, exact)}
        if isinstance(part, ThinkingPart):
            return {"type": "thinking", "text": self._string(part.text, exact)}
        return self.text(part.describe(), _secrets=exact)

    def _string(self, text: str, exact: list[str]) -> str:
        if text.startswith("data:") and ";base64," in text[:100]:
            head, _, payload = text[5:].partition(",")
            return _describe_b64(head.removesuffix(";base64"), payload)
        head = text.lstrip()[:1]
        if head in ("{", "[") and len(text) > 1:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, (dict, list)):
                return json.dumps(self._walk(parsed, exact), ensure_ascii=False)
        return self.text(text, _secrets=exact)

    def __repr__(self) -> str:
        extra = f", patterns={sorted(self.patterns)}" if self.patterns else ""
        lits = f", literals=<{len(self.literals)}>" if self.literals else ""
        return f"Redactor(detectors={len(self.detectors)}{extra}{lits})"


def _structured(text: str) -> bool:
    """Text :meth:`Redactor.__call__` treats as data, not as a line: JSON or a data URL."""
    return text.lstrip()[:1] in ("{", "[") or text.startswith("data:")


_BYTE_TYPES = frozenset({"image", "audio", "file", "base64", "redacted_thinking"})


def _carries_bytes(value: Mapping[str, Any]) -> bool:
    """A part dict (ours or a vendor's) whose ``data`` is base64 bytes."""
    if not isinstance(value.get("data"), str):
        return False
    return value.get("type") in _BYTE_TYPES or "media_type" in value or "format" in value


def _describe_encoded(value: Mapping[str, Any]) -> str:
    kind = value.get("media_type") or value.get("format") or value.get("type") or "data"
    return _describe_b64(str(kind), str(value["data"]))


def _describe_b64(media_type: str, payload: str) -> str:
    try:
        return describe_bytes(media_type, base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        digest = hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()[:12]
        return f"<{media_type} {len(payload)} base64 chars sha256:{digest}>"
