"""The rules behind :class:`insightforge.redact.Redactor`: detector patterns, their cheap
gates, checksums (Luhn, mod-97) and the replacement of one match by its typed placeholder.

Pure data and functions, standard library only. The Redactor (``insightforge.redact``)
decides which rules to run on which text; nothing here walks structures or reads secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["DETECTORS", "NUMBERS", "PATTERNS", "SENSITIVE_KEYS", "STAGES", "Gate", "cards",
           "compile_detectors", "iban_ok", "luhn_ok", "replace"]

# name -> pattern. A group named ``v_<name>`` marks the part to replace when the pattern
# needs context (``Bearer <token>``, ``api-key: <hex>``); otherwise the whole match goes.
PATTERNS: dict[str, str] = {
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

DETECTORS: tuple[str, ...] = tuple(PATTERNS)


def _has(*needles: str) -> Callable[[str], bool]:
    return lambda text: any(n in text for n in needles)


NUMBERS = re.compile(r"[0-9][0-9 \-.()]{5,}[0-9]")  # digit runs long enough for a card or phone

Gate = Callable[[str], bool]
# Stages: detectors sharing a cheap gate (a substring test on the whole text); the stage's
# regex runs only when its gate passes. Anchored stages instead find their keywords with
# ``str.find`` in the lowercased text and try the regex only there. Clean text thus costs
# a few substring scans plus the charset-led scans for IBANs and digit runs.
STAGES: tuple[tuple[tuple[str, ...], Gate, tuple[str, ...]], ...] = (
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
SENSITIVE_KEYS = frozenset({
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


def cards(window: str) -> str:
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


def compile_detectors(detectors: Iterable[str]) -> re.Pattern[str]:
    parts = [f"(?P<{n}>{PATTERNS[n]})" for n in detectors]
    return re.compile("|".join(parts) if parts else r"(?!x)x")



def replace(match: re.Match[str]) -> str:
    """The text that replaces one match: its placeholder, or itself when a check fails."""
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
