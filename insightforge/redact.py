"""The :class:`Redactor`: finds secrets and personal data in text and nested data.

What lives here: built-in detectors (provider keys, bearer tokens, AWS access keys, JWTs,
emails, phone numbers, Luhn-checked card numbers, mod-97-checked IBANs), custom regexes and
literal values, and the walk over nested structures (dicts, lists, JSON text inside strings,
e.g. tool-call arguments). A redaction leaves a typed placeholder: ``[REDACTED:email]``.
Every live :class:`~insightforge.secrets.Secret` value is always redacted too.

What must not: I/O, logging, or any import beyond the standard library and
:mod:`insightforge.secrets`. The redactor is pure and immutable; share one freely.

Speed: detectors run in stages behind cheap gates (a substring test such as ``"sk-" in
text``); card and phone regexes run only on windows around long digit runs. Clean text costs
a handful of substring scans and two regex scans that start with one character class.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from insightforge.secrets import known_secrets

__all__ = ["DETECTORS", "Redactor", "iban_ok", "luhn_ok"]

# name -> pattern. A group named ``v_<name>`` marks the part to replace when the pattern
# needs context (``Bearer <token>``, ``api-key: <hex>``); otherwise the whole match goes.
_PATTERNS: dict[str, str] = {
    "anthropic_key": r"\bsk-ant-[A-Za-z0-9_\-]{16,}",
    "openai_key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
    "hf_token": r"\bhf_[A-Za-z0-9]{20,}",
    "aws_key": r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
    "jwt": r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",
    "bearer": r"(?i:\bbearer)\s+(?P<v_bearer>[A-Za-z0-9\-._~+/]{8,}=*)",
    "azure_key": (r"(?i:key|token|secret)[\w\-]{0,20}[\"']?\s*(?:[:=]|is|was)?\s*[\"']?"
                  r"(?P<v_azure_key>[0-9a-fA-F]{32})\b"),
    "credential": (r"(?i:\b(?:x-)?api[-_]?key|\bauthorization|\bpassw(?:or)?d|\bclient[-_]secret"
                   r"|\b(?:access|refresh)[-_]token|\bsecret[-_]key)[\"']?\s*[:=]\s*[\"']?"
                   r"(?:(?i:bearer|basic|token)\s+)?(?!\[REDACTED)(?P<v_credential>[^\s\"',;]{8,})"),
    "email": r"\b[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*"
             r"\.[A-Za-z]{2,24}\b",
    "iban": r"[A-Z][A-Z][0-9][0-9](?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])",
    "card": r"(?<![\d\-])\d(?:[ \-]?\d){12,18}(?![\d\-])",
    "phone": (r"(?<![\w+])(?:\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,4}){1,4}"
              r"|\(?\d{3}\)?[ .\-]\d{3}[ .\-]\d{4})(?!\w)"),
}

DETECTORS: tuple[str, ...] = tuple(_PATTERNS)


def _has(*needles: str) -> Callable[[str], bool]:
    return lambda text: any(n in text for n in needles)


_NUMBERS = re.compile(r"[0-9][0-9 \-.()]{5,}[0-9]")  # digit runs long enough for a card or phone

Gate = Callable[[str], bool]
# Stages: detectors sharing a cheap gate (a substring test on the whole text); the stage's
# regex runs only when its gate passes. Anchored stages instead find their keywords with
# ``str.find`` in the lowercased text and try the regex only there. Clean text thus costs
# a few substring scans plus the charset-led scans for IBANs and digit runs.
_STAGES: tuple[tuple[tuple[str, ...], Gate, tuple[str, ...]], ...] = (
    (("anthropic_key", "openai_key"), _has("sk-"), ()),
    (("hf_token",), _has("hf_"), ()),
    (("aws_key",), _has("AKIA", "ASIA", "ABIA", "ACCA"), ()),
    (("jwt",), _has("eyJ"), ()),
    (("bearer",), lambda t: "earer" in t or "EARER" in t, ()),
    (("azure_key",), _has(), ("key", "token", "secret")),
    (("credential",), _has(), ("api", "authoriz", "passw", "client", "access", "refresh",
                               "secret")),
    (("email",), _has("@"), ()),
    (("iban",), lambda t: True, ()),
)
_SENSITIVE_KEYS = frozenset({
    "authorization", "proxy-authorization", "api-key", "api_key", "apikey", "x-api-key",
    "password", "passwd", "secret", "client_secret", "access_token", "refresh_token",
    "token", "cookie", "set-cookie", "ocp-apim-subscription-key", "x-goog-api-key",
})


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a string of digits (card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN (spaces allowed)."""
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _valid(name: str, text: str, before: str) -> bool:
    if name == "card":
        d = _digits(text)
        return 13 <= len(d) <= 19 and luhn_ok(d)
    if name == "phone":
        return 7 <= len(_digits(text)) <= 15
    return True


_DIGIT_RUN = re.compile(r"[0-9]+")


def _cards(window: str) -> str:
    """Replace Luhn-valid 13-19 digit card numbers (groups joined by one space or dash).

    Tries every contiguous run of digit groups (at most 19 digits) in a chain of groups, so
    a card next to other numbers (``2014 4111 1111 1111 1111``) is still found. Linear in
    the number of groups.
    """
    runs = [m.span() for m in _DIGIT_RUN.finditer(window)]
    out: list[str] = []
    done, a = 0, 0
    while a < len(runs):
        digits, hit = "", None
        for b in range(a, len(runs)):
            if b > a and not (runs[b][0] - runs[b - 1][1] == 1 and window[runs[b - 1][1]] in " -"):
                break
            digits += window[runs[b][0]:runs[b][1]]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_ok(digits):
                hit = b  # keep the longest valid run starting at a
        if hit is None:
            a += 1
            continue
        out += [window[done:runs[a][0]], "[REDACTED:card]"]
        done, a = runs[hit][1], hit + 1
    return "".join(out) + window[done:] if out else window


def _iban(found: str, before: str) -> str:
    """Redact the longest valid IBAN at the start of ``found`` (the regex may overreach)."""
    if before.isalnum():
        return found
    for end in range(len(found), 14, -1):
        if (end == len(found) or found[end] == " ") and iban_ok(found[:end]):
            return "[REDACTED:iban]" + found[end:]
    return found


def _compile(detectors: Iterable[str]) -> re.Pattern[str]:
    parts = [f"(?P<{n}>{_PATTERNS[n]})" for n in detectors]
    return re.compile("|".join(parts) if parts else r"(?!x)x")


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
        unknown = sorted(set(chosen) - set(_PATTERNS))
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
        keys = _SENSITIVE_KEYS if sensitive_keys is None else sensitive_keys
        self._sensitive = frozenset(k.lower() for k in keys)
        self.secrets = secrets
        self._stages = [(gate, _compile(n for n in names if n in self.detectors), anchors)
                        for names, gate, anchors in _STAGES if set(names) & set(self.detectors)]
        self._cards = "card" in self.detectors
        self._numeric = _compile(["phone"]) if "phone" in self.detectors else None

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
                text = regex.sub(self._replace, text)
        if self._numeric is not None or self._cards:
            text = self._numbers(text)
        for label, rx in self._custom:
            text = rx.sub(f"[REDACTED:{label}]", text)
        return text

    def _exact(self, given: Iterable[str] | None) -> Iterable[str]:
        if given is not None:
            return given
        live = known_secrets() if self.secrets else []
        return (*live, *self._literals) if self._literals else live

    def _anchored(self, text: str, regex: re.Pattern[str], anchors: tuple[str, ...]) -> str:
        """Try ``regex`` only where one of its (lowercase) keywords starts."""
        low = text.lower()
        if len(low) != len(text):  # a few non-ASCII letters change length when lowered
            return regex.sub(self._replace, text)
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
                out += [text[done:at], self._replace(match)]
                done = match.end()
        return "".join(out) + text[done:] if out else text

    def _numbers(self, text: str) -> str:
        """Look for cards and phones only in windows around long digit runs."""
        out: list[str] = []
        done = 0
        for cand in _NUMBERS.finditer(text):
            start, end = cand.span()
            while start > done and text[start - 1] in "+(":
                start -= 1
            if start < done:
                continue
            window = text[start:end]
            fixed = _cards(window) if self._cards else window
            if self._numeric is not None:
                fixed = self._numeric.sub(self._replace, fixed)
            if fixed != window:
                out.append(text[done:start])
                out.append(fixed)
                done = end
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)

    @staticmethod
    def _replace(match: re.Match[str]) -> str:
        name = match.lastgroup or ""
        found = match.group(name)
        begin = match.start()
        if name == "iban":
            return _iban(found, match.string[begin - 1] if begin else "")
        if not _valid(name, found, match.string[begin - 1] if begin else ""):
            return found
        inner = f"v_{name}"
        if inner in match.re.groupindex and match.group(inner) is not None:
            start, end = match.span(inner)
            return f"{found[:start - begin]}[REDACTED:{name}]{found[end - begin:]}"
        return f"[REDACTED:{name}]"

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
        if isinstance(value, Mapping):
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

    def _string(self, text: str, exact: list[str]) -> str:
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
