"""Media the emulated models see: decoding, checking and describing image, audio and file
parts, as a strict server does.

What lives here: :func:`decode_b64` (base64 text or a 400), :func:`data_url` (a ``data:``
URL's media type and bytes), :func:`sniff` (the media type the bytes really have),
:func:`check_media` (declared type = real type, among the allowed ones) and
:func:`describe` — the deterministic text the emulated model "sees" for a part:
``<image/png 73 bytes sha256:0123456789ab>`` (``<image https://...>`` for a URL). Every
wire format describes the same bytes the same way, so one image question gets one answer
whichever vendor is asked. Pure functions, standard library only, independent of the
client library (a check that shares the client's code could not catch its bugs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from .wire_common import ApiError

__all__ = ["IMAGE_TYPES", "check_media", "data_url", "decode_b64", "describe", "sniff"]

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
          (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"),
          (b"ID3", "audio/mpeg"), (b"\xff\xfb", "audio/mpeg"), (b"\xff\xf3", "audio/mpeg"))


def sniff(data: bytes) -> str | None:
    """The media type of `data` from its magic bytes, or None when unknown."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if data[8:12] == b"WEBP" else "audio/wav"
    return None


def decode_b64(text: object, where: str) -> bytes:
    """The bytes of base64 `text`; a 400 naming `where` otherwise (empty included)."""
    if not isinstance(text, str) or not text:
        raise ApiError(400, f"{where}: expected non-empty base64 data")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{where}: invalid base64 data") from None


def data_url(url: str, where: str) -> tuple[str, bytes]:
    """(media type, bytes) of a ``data:<type>;base64,<data>`` URL; a 400 otherwise."""
    head, sep, payload = url[5:].partition(",")
    if not url.startswith("data:") or not sep or not head.endswith(";base64"):
        raise ApiError(400, f"{where}: expected a base64 data URL (data:<type>;base64,...)")
    return head[: -len(";base64")], decode_b64(payload, where)


def check_media(declared: str | None, data: bytes, allowed: tuple[str, ...],
                where: str) -> str:
    """The media type of `data`: it must be one of `allowed` and match `declared`."""
    real = sniff(data)
    if declared is not None and declared not in allowed:
        raise ApiError(400, f"{where}: media type must be one of {', '.join(allowed)}, "
                            f"got {declared!r}")
    if real is None or real not in allowed:
        raise ApiError(400, f"{where}: could not process the data (not one of "
                            f"{', '.join(allowed)})")
    if declared is not None and declared != real:
        raise ApiError(400, f"{where}: the data does not match the provided media type "
                            f"{declared}")
    return real


def describe(kind: str, media_type: str | None = None, data: bytes | None = None,
             url: str | None = None) -> str:
    """What the emulated model sees for one media part."""
    if data is None:
        return f"<{kind} {url}>"
    digest = hashlib.sha256(data).hexdigest()[:12]
    return f"<{media_type} {len(data)} bytes sha256:{digest}>"
