"""The configuration's shape: attrs classes, structured by the one cattrs converter.

What lives here: the classes a config document becomes (:class:`Config`,
:class:`ProviderConfig`, :class:`LayerConfig`, :class:`StackConfig`) and the field metadata
their checks and the JSON Schema read (``min``/``exclusive_min``/``choices``/``secret``).
A layer's options have no class here: the layer's own attrs class is their schema
(:mod:`insightforge.config.layers`). What must not: parsing of raw documents
(:mod:`insightforge.config.parse`), I/O, building providers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from insightforge.pricing import Price
from insightforge.secrets import Secret

__all__ = ["Config", "LayerConfig", "ProviderConfig", "RequestDefaults", "StackConfig"]


def _meta(doc: str, **checks: Any) -> dict[str, Any]:
    return {"doc": doc, **checks}


def _opt(doc: str, default: Any = None, **checks: Any) -> Any:
    return attrs.field(default=default, metadata=_meta(doc, **checks))


@attrs.frozen
class RequestDefaults:
    """Request parameters applied when a request leaves them unset.

    Attributes:
        temperature: sampling temperature (0-2). top_p: nucleus sampling (0-1].
        max_tokens: the answer's length cap.
    """

    temperature: float | None = _opt("Sampling temperature.", min=0, max=2)
    top_p: float | None = _opt("Nucleus sampling mass.", min=0, max=1, exclusive_min=True)
    max_tokens: int | None = _opt("Longest answer, in tokens.", min=1)


@attrs.frozen
class ProviderConfig:
    """One named provider instance.

    Attributes:
        type: the registered provider (``openai``, ``ollama``, ``azure``... or a plugin).
        model: the default model (required, except for azure with a ``deployment``).
        base_url: the endpoint (default: the vendor's).
        timeout: seconds, finite. max_connections: the connection pool size.
        api_key: the credential (write ``${VAR}``, never the value). api_key_ref: where the
        credential lives instead: ``keyring:NAME`` or ``env:VAR``.
        api_version / deployment: Azure OpenAI. price: the default model's price (USD per
        million tokens). defaults: request defaults. options: any other provider keyword.
    """

    type: str = attrs.field(metadata=_meta("Registered provider type."))
    model: str | None = _opt("Default model (azure: defaults to the deployment).")
    base_url: str | None = _opt("Endpoint URL (default: the vendor's).")
    timeout: float | None = _opt("Request timeout in seconds.", min=0, exclusive_min=True)
    max_connections: int | None = _opt("Connection pool size.", min=1)
    api_key: Secret | None = _opt(  # noqa: RUF009 - an attrs field, not a dataclass default
        "Credential; write ${ENV_VAR}, never the value.", secret=True)
    api_key_ref: str | None = _opt("Where the credential lives: keyring:NAME or env:VAR.",
                                   pattern="^(keyring|env):.+$")
    api_version: str | None = _opt("Azure OpenAI API version (required for azure).")
    deployment: str | None = _opt("Azure OpenAI deployment name.")
    price: Price | None = _opt(  # noqa: RUF009
        "Price of the default model, USD per million tokens.")
    defaults: RequestDefaults | None = _opt(  # noqa: RUF009
        "Request defaults (temperature, top_p, ...).")
    options: Mapping[str, Any] = attrs.field(
        factory=dict, metadata=_meta("Other provider-specific keyword options."))


@attrs.frozen
class StackConfig:
    """A nested stack (a fallback alternate): layers around a named provider.

    Attributes:
        layers: outermost first. provider: the provider instance's name.
    """

    layers: tuple[LayerConfig, ...]
    provider: str


@attrs.frozen
class LayerConfig:
    """One entry of ``stack``.

    Attributes:
        name: the registered layer name. options: keyword options for its factory, checked
        by building the layer. alternates: for ``fallback``, provider names or
        nested stacks, in order. index: the entry's position in its list (for error paths;
        not part of equality).
    """

    name: str
    options: Mapping[str, Any] = attrs.field(factory=dict)
    alternates: tuple[str | StackConfig, ...] = ()
    index: int = attrs.field(default=-1, eq=False, repr=False)


@attrs.frozen
class Config:
    """A whole configuration.

    Attributes:
        providers: named provider instances. stack: layers, outermost first.
        provider: the instance the stack wraps (default: the only one).
        prices: extra prices, ``{provider type: {model: {input, output}}}``.
        aliases: short names for models, ``{alias: "provider/model"}``
        (:mod:`insightforge.config.refs`).
    """

    providers: Mapping[str, ProviderConfig]
    stack: tuple[LayerConfig, ...] = ()
    provider: str | None = None
    prices: Mapping[str, Mapping[str, Price]] = attrs.field(factory=dict)
    aliases: Mapping[str, str] = attrs.field(factory=dict)

    def primary(self) -> str:
        """The name of the provider instance the stack wraps."""
        if self.provider is not None:
            return self.provider
        return next(iter(self.providers))
