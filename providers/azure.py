"""``providers.AzureOpenAI``: Azure OpenAI deployments through the openai SDK.

What lives here: the Azure options (deployment, endpoint, ``api_version``, an API key from
``AZURE_OPENAI_API_KEY`` or an Entra ID token provider) and the SDK client builders. The
wire mapping and the call drivers are the OpenAI ones (:mod:`providers._openai_wire`,
:mod:`providers._openai_family`), shared, not copied. Docs: docs/providers/azure.md.

On Azure the ``model`` field of a request names a *deployment*; prices follow the model
deployed there (``model=``, default: the deployment name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai

from insightforge.errors import ConfigError
from insightforge.pricing import Price
from insightforge.secrets import Secret
from providers._openai_family import OpenAIFamily

__all__ = ["AzureOpenAI"]


class AzureOpenAI(OpenAIFamily):
    """Chat, streaming, tools, JSON mode and embeddings on an Azure OpenAI resource.

    >>> llm = AzureOpenAI("my-gpt4o", endpoint="https://res.openai.azure.com",
    ...                   api_version="2024-10-21", model="gpt-4o")

    Attributes:
        deployment: the chat deployment (sent as the request's model);
        model: the model deployed there, for prices (``self.model`` is the deployment);
        api_version: the ``api-version`` query parameter;
        embedding_deployment: the deployment used for embeddings.
    """

    name = "azure"
    lean_chat = False  # deployment URLs, api-version and Entra tokens stay the SDK's
    env_vars: tuple[str, ...] = ("AZURE_OPENAI_API_KEY",)
    capabilities = frozenset({"images", "audio", "files", "structured_output", "reasoning",
                              "prompt_caching", "parallel_tools"})

    def __init__(self, deployment: str, *, endpoint: str | None = None,
                 base_url: str | None = None, api_version: str | None = None,
                 api_key: str | Secret | None = None,
                 azure_ad_token_provider: Callable[[], str] | None = None,
                 model: str | None = None,
                 embedding_deployment: str = "text-embedding-3-small",
                 timeout: float = 60, max_connections: int = 20,
                 price: Price | dict[str, Any] | None = None,
                 keyring_entry: str | None = None) -> None:
        if not api_version:
            raise ConfigError("azure: api_version is required (e.g. api_version='2024-10-21'; "
                              "see the Azure OpenAI API version lifecycle)", path="api_version")
        if endpoint and base_url and endpoint.rstrip("/") != base_url.rstrip("/"):
            raise ConfigError("azure: pass endpoint or base_url, not both", path="endpoint")
        if azure_ad_token_provider is not None and not callable(azure_ad_token_provider):
            raise ConfigError("azure: azure_ad_token_provider must be a function returning a "
                              "token", path="azure_ad_token_provider")
        # An Entra ID token provider replaces the key, so a key is only required without one.
        self.key_required = azure_ad_token_provider is None
        super().__init__(model=deployment, base_url=endpoint or base_url, timeout=timeout,
                         api_key=api_key, keyring_entry=keyring_entry, price=price,
                         max_connections=max_connections)
        self.deployment = deployment
        self.underlying_model = model or deployment
        self.api_version = api_version
        self._token_provider = azure_ad_token_provider
        self._setup(embedding_model=embedding_deployment)
        self.embedding_deployment = embedding_deployment

    def price(self, model: str | None = None) -> Price | None:
        if model is None or model == self.deployment:
            model = self.underlying_model
        if self._price_override is not None and model == self.underlying_model:
            return self._price_override
        from insightforge.pricing import price_for

        return price_for(self.name, model)

    def _client_options(self) -> dict[str, Any]:
        auth: dict[str, Any] = ({"azure_ad_token_provider": self._token_provider}
                                if self._api_key is None and self._token_provider is not None
                                else {"api_key": self._key()})
        return {**auth, "azure_endpoint": self.base_url, "api_version": self.api_version,
                "timeout": self.timeout, "max_retries": 0}

    def _new_client(self) -> Any:
        return openai.AzureOpenAI(**self._client_options(),
                                  http_client=openai.DefaultHttpxClient(
                                      limits=self._http_limits(), timeout=self.timeout))

    def _new_async_client(self, connections: int | None = None) -> Any:
        return openai.AsyncAzureOpenAI(**self._client_options(),
                                       http_client=openai.DefaultAsyncHttpxClient(
                                           limits=self._http_limits(connections),
                                           timeout=self.timeout))

    def __repr__(self) -> str:
        return (f"AzureOpenAI(deployment={self.deployment!r}, endpoint={self.base_url!r}, "
                f"api_version={self.api_version!r})")
