"""Content parts: what a message holds when it is more than text.

A :class:`~insightforge.Message`'s ``content`` is a plain string or a tuple of parts:
:class:`TextPart`, :class:`ImagePart` (a URL, or bytes with a media type),
:class:`AudioPart` (bytes), :class:`FilePart` (bytes or a URL: a PDF, a text file) and
:class:`ThinkingPart` (an assistant's reasoning, with the vendor's signature, kept so it
can be sent back). Providers map them to their wire format or raise
:class:`~insightforge.errors.Unsupported` naming the part.

What lives here: the part types, the media types they accept (sniffed from the bytes when
not given), :func:`to_part` (a part from a string, a part, our dict form or a vendor's
dict form: OpenAI ``image_url``/``input_audio``/``file``, Anthropic ``image``/``document``
/``thinking``), :func:`part_dict` (our dict form; bytes as base64, so it is JSON-able and
deterministic) and :func:`describe_bytes` (``<image/png 1234 bytes sha256:...>``, what logs
show instead of bytes). What must not: I/O, anything heavy (this is on the
``import insightforge`` path).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

__all__ = [
    "AUDIO_FORMATS",
    "IMAGE_TYPES",
    "AudioPart",
    "FilePart",
    "ImagePart",
    "Part",
    "TextPart",
    "ThinkingPart",
    "describe_bytes",
    "part_dict",
    "sniff",
    "to_part",
]

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Image media types every vision API takes."""
AUDIO_FORMATS = {"audio/wav": "wav", "audio/mpeg": "mp3"}
"""Audio media types and the short format names vendors use for them."""
_AUDIO_BY_FORMAT = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_DETAILS = frozenset({"auto", "low", "high"})


def sniff(data: bytes) -> str | None:
    """The media type of ``data`` from its first bytes (the types parts accept), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def describe_bytes(media_type: str, data: bytes) -> str:
    """``<image/png 1234 bytes sha256:0123456789ab>``: what logs show instead of bytes."""
    digest = hashlib.sha256(data).hexdigest()[:12]
    return f"<{media_type} {len(data)} bytes sha256:{digest}>"


def _bytes(value: bytes | bytearray | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)


def _short(value: bytes | None) -> str:
    return "None" if value is None else f"<{len(value)} bytes>"


def _data_url(url: str) -> tuple[str, bytes] | None:
    """``(media_type, bytes)`` of a ``data:<type>;base64,<data>`` URL, else None."""
    if not url.startswith("data:"):
        return None
    head, sep, payload = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        raise ValueError("a data URL must be base64: data:<media type>;base64,<data>")
    return head[: -len(";base64")], _b64(payload, "the data URL")


def _b64(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{where} must be base64 text, got {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where} is not valid base64") from None


def _check_media(part: Any, allowed: frozenset[str] | None, what: str) -> None:
    """Shared checks of the byte-carrying parts (``url``/``data``/``media_type``)."""
    url, data = getattr(part, "url", None), part.data
    if url is not None and (decoded := _data_url(url)) is not None:
        object.__setattr__(part, "url", None)
        object.__setattr__(part, "data", decoded[1])
        object.__setattr__(part, "media_type", part.media_type or decoded[0])
        url, data = None, decoded[1]
    if (url is None) == (data is None):
        raise ValueError(f"{what} takes exactly one of url= or data= (bytes)")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ValueError(f"{what} url must be http(s):// or a data: URL, got {url[:40]!r}")
    if data is not None:
        if not data:
            raise ValueError(f"{what} data is empty")
        if part.media_type is None:
            found = sniff(data)
            if found is None or (allowed is not None and found not in allowed):
                raise ValueError(f"{what}: cannot tell the media type of these bytes; pass "
                                 "media_type= (e.g. 'image/png', 'application/pdf')")
            object.__setattr__(part, "media_type", found)
    if allowed is not None and part.media_type is not None and part.media_type not in allowed:
        raise ValueError(f"{what} media_type must be one of {sorted(allowed)}, got "
                         f"{part.media_type!r}")


class _Media:
    """What the byte-carrying parts share: a description and a digest (no bytes shown)."""

    __slots__ = ()
    kind: ClassVar[str]
    data: bytes | None
    media_type: str | None

    def describe(self) -> str:
        """``<image/png 1234 bytes sha256:...>`` or ``<image https://...>``."""
        if self.data is not None:
            return describe_bytes(self.media_type or "application/octet-stream", self.data)
        return f"<{self.kind} {getattr(self, 'url', '')}>"

    @property
    def digest(self) -> str | None:
        """The hex SHA-256 of the bytes (None for a URL): what a cache key should hash."""
        return None if self.data is None else hashlib.sha256(self.data).hexdigest()


@attrs.frozen(slots=True)
class TextPart:
    """Text.

    Attributes:
        text: the text.
    """

    text: str = attrs.field(validator=attrs.validators.instance_of(str))
    kind: ClassVar[str] = "text"


@attrs.frozen(slots=True)
class ImagePart(_Media):
    """An image: a URL, or bytes with a media type (sniffed from PNG/JPEG/GIF/WebP bytes).

    A ``data:`` URL is decoded into ``data`` and ``media_type``.

    Attributes:
        url: an ``http(s)://`` URL the provider fetches, or None.
        data: the image bytes, or None.
        media_type: ``image/png``, ``image/jpeg``, ``image/gif`` or ``image/webp``.
        detail: OpenAI's resolution hint (``auto``, ``low``, ``high``), ignored elsewhere.
    """

    url: str | None = None
    data: bytes | None = attrs.field(default=None, kw_only=True, converter=_bytes, repr=_short)
    media_type: str | None = attrs.field(default=None, kw_only=True)
    detail: str | None = attrs.field(default=None, kw_only=True)
    kind: ClassVar[str] = "image"

    def __attrs_post_init__(self) -> None:
        _check_media(self, IMAGE_TYPES, "ImagePart")
        if self.detail is not None and self.detail not in _DETAILS:
            raise ValueError(f"ImagePart detail must be one of {sorted(_DETAILS)}, got "
                             f"{self.detail!r}")


@attrs.frozen(slots=True)
class AudioPart(_Media):
    """Audio input as bytes (WAV or MP3; sniffed when ``media_type`` is not given).

    Attributes:
        data: the audio bytes.
        media_type: ``audio/wav`` or ``audio/mpeg``.
    """

    data: bytes = attrs.field(converter=_bytes, repr=_short)
    media_type: str | None = attrs.field(default=None, kw_only=True)
    kind: ClassVar[str] = "audio"

    def __attrs_post_init__(self) -> None:
        _check_media(self, frozenset(AUDIO_FORMATS), "AudioPart")

    @property
    def format(self) -> str:
        """The short format name (``wav``, ``mp3``)."""
        return AUDIO_FORMATS[self.media_type or "audio/wav"]


@attrs.frozen(slots=True)
class FilePart(_Media):
    """A document: bytes with a media type (a PDF is sniffed), or a URL.

    Attributes:
        data: the file's bytes, or None; url: an ``http(s)://`` URL, or None.
        media_type: ``application/pdf``, ``text/plain``...; filename: shown to the model.
    """

    data: bytes | None = attrs.field(default=None, converter=_bytes, repr=_short)
    url: str | None = attrs.field(default=None, kw_only=True)
    media_type: str | None = attrs.field(default=None, kw_only=True)
    filename: str | None = attrs.field(default=None, kw_only=True)
    kind: ClassVar[str] = "file"

    def __attrs_post_init__(self) -> None:
        _check_media(self, None, "FilePart")


@attrs.frozen(slots=True)
class ThinkingPart:
    """An assistant's reasoning, as the vendor returned it.

    Send the assistant message back unchanged (Anthropic requires its signed thinking
    block with a tool-use turn); providers that cannot take reasoning back drop it.

    Attributes:
        text: the reasoning text (empty for a redacted block).
        signature: the vendor's signature over it (Anthropic), or None.
        data: the encrypted payload of a redacted block (Anthropic), or None.
    """

    text: str = ""
    signature: str | None = attrs.field(default=None, kw_only=True)
    data: str | None = attrs.field(default=None, kw_only=True)
    kind: ClassVar[str] = "thinking"


Part = TextPart | ImagePart | AudioPart | FilePart | ThinkingPart
PART_TYPES = (TextPart, ImagePart, AudioPart, FilePart, ThinkingPart)


# -- dict forms ---------------------------------------------------------------------------

def part_dict(part: Part) -> dict[str, Any]:
    """Our plain form of a part (bytes as base64; ``None`` fields left out)."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ThinkingPart):
        out: dict[str, Any] = {"type": "thinking", "text": part.text}
    else:
        out = {"type": part.kind}
        fields = attrs.asdict(part, recurse=False)
        for name, value in fields.items():
            if value is not None:
                out[name] = (base64.b64encode(value).decode("ascii") if name == "data"
                             else value)
        return out
    for name in ("signature", "data"):
        value = getattr(part, name)
        if value is not None:
            out[name] = value
    return out


def to_part(value: Any) -> Part:
    """A part from a part, a string (text), our dict form or a vendor's dict form."""
    if isinstance(value, PART_TYPES):
        return value
    if isinstance(value, str):
        return TextPart(value)
    if not isinstance(value, Mapping):
        raise TypeError(f"a content part must be a part (TextPart, ImagePart...), a string or "
                        f"a dict, got {type(value).__name__}")
    kind = value.get("type")
    reader = _READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        raise ValueError(f"unknown content part type {kind!r}; use one of "
                         f"{sorted(_READERS)} (or TextPart, ImagePart, AudioPart, FilePart)")
    return reader(value)


def _opt_b64(value: Mapping[str, Any], key: str, where: str) -> bytes | None:
    raw = value.get(key)
    return None if raw is None else _b64(raw, where)


def _text(value: Mapping[str, Any]) -> Part:
    return TextPart(value.get("text", ""))


def _image(value: Mapping[str, Any]) -> Part:
    source = value.get("source")
    if isinstance(source, Mapping):  # Anthropic: {"source": {"type": "base64"|"url", ...}}
        if source.get("type") == "url":
            return ImagePart(source.get("url"))
        return ImagePart(data=_b64(source.get("data"), "image source data"),
                         media_type=source.get("media_type"))
    return ImagePart(value.get("url"), data=_opt_b64(value, "data", "image data"),
                     media_type=value.get("media_type"), detail=value.get("detail"))


def _image_url(value: Mapping[str, Any]) -> Part:  # OpenAI
    inner = value.get("image_url")
    if isinstance(inner, str):
        return ImagePart(inner)
    if not isinstance(inner, Mapping):
        raise ValueError("an image_url part needs image_url: {'url': ...}")
    return ImagePart(inner.get("url"), detail=inner.get("detail"))


def _audio(value: Mapping[str, Any]) -> Part:
    inner = value.get("input_audio")
    if isinstance(inner, Mapping):  # OpenAI: {"input_audio": {"data", "format"}}
        fmt = inner.get("format")
        return AudioPart(_b64(inner.get("data"), "input_audio data"),
                         media_type=_AUDIO_BY_FORMAT.get(fmt, fmt) if fmt else None)
    return AudioPart(_b64(value.get("data"), "audio data"), media_type=value.get("media_type"))


def _file(value: Mapping[str, Any]) -> Part:
    inner = value.get("file")
    if isinstance(inner, Mapping):  # OpenAI: {"file": {"file_data": <data URL>, "filename"}}
        if inner.get("file_id") is not None:
            raise ValueError("an uploaded file id is not portable; send the bytes "
                             "(FilePart(data=..., media_type=...))")
        return FilePart(url=inner.get("file_data"), filename=inner.get("filename"))
    return FilePart(_opt_b64(value, "data", "file data"), url=value.get("url"),
                    media_type=value.get("media_type"), filename=value.get("filename"))


def _document(value: Mapping[str, Any]) -> Part:  # Anthropic
    source = value.get("source")
    if not isinstance(source, Mapping):
        raise ValueError("a document part needs a source: {'type': 'base64'|'url'|'text'}")
    title = value.get("title")
    if source.get("type") == "url":
        return FilePart(url=source.get("url"), filename=title)
    if source.get("type") == "text":
        text = source.get("data")
        if not isinstance(text, str):
            raise ValueError("a text document source needs data: <text>")
        return FilePart(text.encode("utf-8"), media_type="text/plain", filename=title)
    return FilePart(_b64(source.get("data"), "document source data"),
                    media_type=source.get("media_type"), filename=title)


def _thinking(value: Mapping[str, Any]) -> Part:
    text = value.get("thinking", value.get("text", ""))
    return ThinkingPart(text if isinstance(text, str) else "",
                        signature=value.get("signature"), data=value.get("data"))


def _redacted(value: Mapping[str, Any]) -> Part:
    return ThinkingPart("", data=value.get("data"))


_READERS = {"text": _text, "image": _image, "image_url": _image_url, "audio": _audio,
            "input_audio": _audio, "file": _file, "document": _document,
            "thinking": _thinking, "redacted_thinking": _redacted}
