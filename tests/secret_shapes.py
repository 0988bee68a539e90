"""Hypothesis strategies for every secret and personal-data shape the Redactor detects.

Each strategy yields ``(kind, text_to_embed, raw_secret)``: ``text_to_embed`` may carry
context the detector needs (``api-key: <hex>``, ``Bearer <token>``); ``raw_secret`` is the
part that must never appear in any output.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

from insightforge.redact import luhn_ok

ALNUM = string.ascii_letters + string.digits
_B64URL = ALNUM + "-_"


def _s(alphabet: str, lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=lo, max_size=hi)


def _card(digits: str) -> str:
    for d in string.digits:
        if luhn_ok(digits + d):
            return digits + d
    raise AssertionError("unreachable")


def _iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return f"{country}{check:02d}{bban}"


Shape = tuple[str, str, str]


def _spaced(n: str) -> str:
    return f"{n[:3]} {n[3:6]} {n[6:]}"

openai = st.builds(lambda p, b: ("openai", p + b, p + b),
                   st.sampled_from(["sk-", "sk-proj-", "sk-svcacct-"]), _s(ALNUM, 24, 60))
anthropic = st.builds(lambda b: ("anthropic", "sk-ant-api03-" + b, "sk-ant-api03-" + b),
                      _s(_B64URL, 24, 80).filter(lambda b: b[-1] in ALNUM))
hf = st.builds(lambda b: ("hf", "hf_" + b, "hf_" + b), _s(ALNUM, 30, 40))
azure = st.builds(lambda ctx, h: ("azure", f"{ctx}{h}", h),
                  st.sampled_from(["api-key: ", "AZURE_OPENAI_API_KEY=", "'api-key': '",
                                   "subscription key = ", "token:"]),
                  _s("0123456789abcdef", 32, 32))
bearer = st.builds(lambda t: ("bearer", f"Authorization: Bearer {t}", t),
                   _s(ALNUM + "-._~+/", 20, 60).filter(lambda t: t[-1] in ALNUM))
aws = st.builds(lambda p, b: ("aws", p + b, p + b), st.sampled_from(["AKIA", "ASIA"]),
                _s(string.ascii_uppercase + string.digits, 16, 16))
jwt = st.builds(lambda a, b, c: ("jwt", f"eyJ{a}.eyJ{b}.{c}", f"eyJ{a}.eyJ{b}.{c}"),
                _s(_B64URL, 10, 40), _s(_B64URL, 10, 80), _s(_B64URL, 10, 60))
email = st.builds(lambda u, d, t: ("email", f"{u}@{d}.{t}", f"{u}@{d}.{t}"),
                  _s(string.ascii_lowercase + string.digits + "._+", 1, 20).filter(
                      lambda u: u[0] in ALNUM and u[-1] in ALNUM),
                  _s(string.ascii_lowercase, 2, 15), st.sampled_from(["com", "org", "co.uk", "io"]))
phone = st.one_of(
    st.builds(lambda a, b, c: ("phone", f"({a}) {b}-{c}", f"{b}-{c}"),
              _s(string.digits, 3, 3), _s(string.digits, 3, 3), _s(string.digits, 4, 4)),
    st.builds(lambda cc, n: ("phone", f"+{cc} {_spaced(n)}", _spaced(n)),
              st.integers(1, 99), _s(string.digits, 9, 10)),
)
card = st.builds(lambda d, sep: ("card", sep.join(_chunks(_card(d))), sep.join(_chunks(_card(d)))),
                 _s(string.digits, 15, 15), st.sampled_from(["", " ", "-"]))
iban = st.builds(lambda c, b: ("iban", _iban(c, b), _iban(c, b)),
                 st.sampled_from(["DE", "GB", "FR", "NL", "ES"]),
                 _s(string.ascii_uppercase + string.digits, 14, 24))


def _chunks(s: str) -> list[str]:
    return [s[i:i + 4] for i in range(0, len(s), 4)]


ANY_SECRET: st.SearchStrategy[Shape] = st.one_of(
    openai, anthropic, hf, azure, bearer, aws, jwt, email, phone, card, iban)

# Clean filler text around a secret (words, digits-free so it cannot complete a number).
filler = st.lists(st.sampled_from(
    ["please", "summarise", "the", "report", "for", "Q3,", "and", "email", "it", "to", "me.",
     "Thanks!", "key", "points:", "see", "(page", "twelve)", "—", "ok"]), max_size=12).map(" ".join)
