"""The rate-limit decisions, free of I/O: limits, token estimates, how long to wait.

What lives here: :class:`Limits` (requests and tokens per window, as pyrate-limiter
``Rate`` objects), :func:`estimate_tokens` (the before-the-call guess),
:func:`token_units` (how tokens become bucket weight) and :func:`wait_for` (wait or give
up); the keys are the kit's (:mod:`insightforge.kit.keys`). What must not: buckets, stores,
sleeping — see :mod:`middleware.ratelimit.stores` and :mod:`middleware.ratelimit.layer`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
from pyrate_limiter import Rate

from insightforge.errors import ConfigError
from insightforge.stack import Request
from insightforge.types import EmbedRequest

__all__ = ["DEFAULT_OUTPUT_TOKENS", "Limits", "estimate_tokens", "text_tokens", "token_units",
           "wait_for"]

#: Output tokens assumed when a request sets no ``max_tokens`` (corrected after the call).
DEFAULT_OUTPUT_TOKENS = 512
#: At most this many log entries per token window: tokens are counted in units of
#: ``ceil(tpm / TOKEN_RESOLUTION)`` (rounded up, so the limit is never exceeded).
TOKEN_RESOLUTION = 100_000


def _positive_int(name: str) -> Callable[[object, object, int | None], None]:
    def check(_: object, __: object, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise ConfigError(f"{name} must be a positive integer or None, got {value!r}",
                              path=name)
    return check


def _positive_window(_: object, __: object, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"window must be a finite number of seconds > 0, got {value!r}",
                          path="window")


@attrs.frozen(slots=True)
class Limits:
    """How much may pass per window.

    Attributes:
        rpm: requests per window (``None``: unlimited).
        tpm: tokens per window (``None``: unlimited).
        window: the window in seconds (60 — hence the names; shorten it in tests).
    """

    rpm: int | None = attrs.field(default=None, validator=_positive_int("rpm"))
    tpm: int | None = attrs.field(default=None, validator=_positive_int("tpm"))
    window: float = attrs.field(default=60.0, validator=_positive_window)

    def __attrs_post_init__(self) -> None:
        if self.rpm is None and self.tpm is None:
            raise ConfigError("RateLimit needs rpm=, tpm= or both, e.g. RateLimit(rpm=500)",
                              path="rpm")

    @property
    def interval_ms(self) -> int:
        return max(1, round(self.window * 1000))

    @property
    def token_unit(self) -> int:
        """Tokens per bucket unit (1 for small limits)."""
        return 1 if self.tpm is None else max(1, math.ceil(self.tpm / TOKEN_RESOLUTION))

    def request_rate(self) -> Rate | None:
        return None if self.rpm is None else Rate(self.rpm, self.interval_ms)

    def token_rate(self) -> Rate | None:
        if self.tpm is None:
            return None
        return Rate(max(1, self.tpm // self.token_unit), self.interval_ms)


def token_units(tokens: int, unit: int, limit: int) -> int:
    """Bucket weight for ``tokens`` (``unit`` tokens per entry, ``limit`` entries per
    window): rounded up to whole units, at most the whole window (a request larger than
    ``tpm`` waits for an empty window instead of never passing)."""
    if tokens <= 0:
        return 0
    return min(limit, -(-tokens // unit))


def text_tokens(text: str) -> int:
    """A cheap token guess: the larger of whitespace words and characters / 4."""
    return max(len(text.split()), math.ceil(len(text) / 4))


def estimate_tokens(request: Request) -> int:
    """Tokens a request may use: prompt (3 per message + its text) plus ``max_tokens``
    (or :data:`DEFAULT_OUTPUT_TOKENS`). Embeddings: the inputs only."""
    if isinstance(request, EmbedRequest):
        return sum(text_tokens(text) for text in request.inputs)
    prompt = sum(text_tokens(m.text) + 3 for m in request.messages)
    return prompt + (request.max_tokens or DEFAULT_OUTPUT_TOKENS)


def wait_for(retry_after_ms: int | None, waited: float, max_wait: float) -> float | None:
    """Seconds to sleep before asking the bucket again, or ``None`` to raise ``RateLimited``.

    ``retry_after_ms`` is what the bucket said (``None``: it cannot say — never fits);
    ``waited`` the seconds already slept for this request.
    """
    if retry_after_ms is None:
        return None
    delay = max(retry_after_ms, 1) / 1000
    return delay if waited + delay <= max_wait else None
