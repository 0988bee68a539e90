"""``providers.HuggingFace``: TGI / Inference Endpoints chat and text-embeddings-inference.

What lives here: chat through the Messages API of Text Generation Inference (OpenAI-shaped,
``{base_url}/v1/chat/completions``; the shared OpenAI-wire driver and mapping do the work)
and embeddings through text-embeddings-inference (``POST {embed_url}/embed`` with
``{"inputs": [...]}`` -> a list of vectors) over httpx. ``check()`` reads ``{base_url}/info``.

The token comes from ``token=``, ``HF_TOKEN`` or the keyring; it is required for hosted
endpoints (``*.huggingface.cloud``, ``huggingface.co``) and optional for a local server.
No prices are known (cost ``None``) unless ``price=`` is given. TEI reports no usage, so
embedding usage is estimated as whitespace words. Docs: docs/providers/huggingface.md.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import attrs
import httpx

from insightforge.errors import ConfigError, InsightForgeError
from insightforge.pricing import Price
from insightforge.secrets import Secret
from insightforge.types import EmbedRequest, EmbedResponse, Usage
from providers import _openai_wire as wire
from providers._base import LazyClient, PerLoop
from providers._errors import error_from_status
from providers._failures import detach, error_from_transport, unexpected
from providers._openai_family import OpenAIFamily
from providers._wire import vector

__all__ = ["HuggingFace", "parse_tei"]

_HOSTED = ("huggingface.cloud", "huggingface.co", "hf.space")


def _hosted(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return any(host == h or host.endswith("." + h) for h in _HOSTED)


def parse_tei(data: Any, *, provider: str, model: str, inputs: tuple[str, ...]) -> EmbedResponse:
    """TEI's ``/embed`` answer (a list of vectors) as an :class:`EmbedResponse`."""
    try:
        if not isinstance(data, list) or len(data) != len(inputs):
            raise ValueError(f"expected {len(inputs)} vectors")
        vectors = tuple(vector(provider, v) for v in data)
    except (TypeError, ValueError) as exc:
        raise wire.malformed(provider, "embeddings", exc) from None
    words = sum(len(text.split()) for text in inputs)
    return EmbedResponse(vectors, model, provider, Usage(words))


class HuggingFace(OpenAIFamily):
    """Chat on a TGI server or Inference Endpoint; embeddings on a TEI server.

    >>> hf = HuggingFace("meta-llama/Llama-3.1-8B-Instruct",
    ...                  base_url="https://xyz.endpoints.huggingface.cloud",
    ...                  embed_url="https://abc.endpoints.huggingface.cloud")

    Attributes:
        base_url: the TGI / endpoint root (without ``/v1``);
        embed_url: the TEI root, or ``None`` (embeddings then raise ``Unsupported``).
    """

    name = "huggingface"
    env_vars: tuple[str, ...] = ("HF_TOKEN",)
    capabilities = frozenset({"images"})  # TGI vision models take OpenAI-style image_url
    chat_path = "/v1/chat/completions"
    check_path = "/info"

    def __init__(self, model: str = "tgi", *, base_url: str, token: str | Secret | None = None,
                 embed_url: str | None = None, timeout: float = 60,
                 max_connections: int = 20, price: Price | dict[str, Any] | None = None,
                 keyring_entry: str | None = None) -> None:
        if not base_url:
            raise ConfigError("huggingface: base_url is required (the TGI server or "
                              "Inference Endpoint URL)", path="base_url")
        self.key_required = _hosted(base_url)
        base_url = base_url.rstrip("/").removesuffix("/v1")
        super().__init__(model=model, base_url=base_url, timeout=timeout, api_key=token,
                         keyring_entry=keyring_entry, price=price,
                         max_connections=max_connections)
        self.embed_url = embed_url.rstrip("/") if embed_url else None
        self._setup(embedding_model=model, stream_usage=False, estimate_usage=True,
                    embeddings=embed_url is not None)
        self._http: LazyClient[Any] = LazyClient(self._new_http)
        self._ahttp: PerLoop[Any] = PerLoop(self._new_ahttp, lambda client: client.aclose())

    # -- clients ----------------------------------------------------------------------------
    def _client_options(self) -> dict[str, Any]:
        return {"api_key": self._key(), "base_url": self.base_url, "timeout": self.timeout,
                "max_retries": 0}

    def _http_options(self) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._api_key.reveal()}"} if self._api_key else {}
        return {"headers": headers, "timeout": self.timeout,
                "limits": httpx.Limits(max_connections=self.max_connections)}

    def _new_http(self) -> Any:
        return httpx.Client(**self._http_options())

    def _new_ahttp(self) -> Any:
        return httpx.AsyncClient(**self._http_options())

    # -- embeddings (TEI) -------------------------------------------------------------------
    def _tei_body(self, request: EmbedRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"inputs": list(request.inputs)}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        body.update(request.options)
        return body

    def _tei_answer(self, request: EmbedRequest, response: Any) -> EmbedResponse:
        if response.status_code >= 400:
            raise error_from_status(self.name, response.status_code, response.text,
                                    response.headers)
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise wire.malformed(self.name, "embeddings", exc) from None
        model = request.model or self.model
        result = parse_tei(data, provider=self.name, model=model, inputs=request.inputs)
        return attrs.evolve(result, cost_usd=self._cost(model, result))

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        if self.embed_url is None:
            raise self._no_embeddings()
        body = self._tei_body(request)
        try:
            response = self._http.get().post(f"{self.embed_url}/embed", json=body)
        except httpx.HTTPError as exc:
            error: InsightForgeError = error_from_transport(self.name, exc)
        except Exception as exc:  # typed with its cause, or a bug as itself
            error = unexpected(self.name, exc)
        else:
            return self._tei_answer(request, response)
        raise detach(error)

    async def _aembed(self, request: EmbedRequest) -> EmbedResponse:
        if self.embed_url is None:
            raise self._no_embeddings()
        body = self._tei_body(request)
        try:
            response = await self._ahttp.get().post(f"{self.embed_url}/embed", json=body)
        except httpx.HTTPError as exc:
            error: InsightForgeError = error_from_transport(self.name, exc)
        except Exception as exc:
            error = unexpected(self.name, exc)
        else:
            return self._tei_answer(request, response)
        raise detach(error)

    def _no_embeddings(self) -> Any:
        from insightforge.errors import Unsupported

        return Unsupported("huggingface: no embed_url given; pass embed_url= (a "
                           "text-embeddings-inference server) to embed", provider=self.name)

    # -- life -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every client (async ones best-effort, see :class:`PerLoop`)."""
        super().close()
        client = self._http.take()
        if client is not None:
            client.close()
        self._ahttp.close()

    async def aclose(self) -> None:
        await self._ahttp.aclose()
        await super().aclose()

    def __repr__(self) -> str:
        extra = f", embed_url={self.embed_url!r}" if self.embed_url else ""
        return f"HuggingFace({self.model!r}, base_url={self.base_url!r}{extra})"
