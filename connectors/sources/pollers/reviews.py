"""Review platforms with their own paging: Trustpilot (page numbers) and App Store Connect
(JSON:API ``links.next``).

- ``trustpilot``: ``GET /v1/business-units/{id}/reviews`` with ``apikey``, ``page``,
  ``perPage`` (1-100) and ``orderBy=createdat.desc``; the answer links ``rel: next-page``.
- ``app_store``: ``GET /v1/apps/{id}/customerReviews`` with ``sort=-createdDate`` and
  ``limit`` (up to 200); ``links.next`` is the next page's full URL. Requests carry a short-lived
  ES256 JWT (``kid`` header; ``iss``, ``iat``, ``exp`` at most 20 minutes ahead,
  ``aud=appstoreconnect-v1``) minted from the API key, or a ready token from config.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, ClassVar

import jwt
import requests
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from connectors.base import register
from connectors.sources.pollers.base import Poller, PollerConfig, jwt_expiry, secret
from connectors.sources.pollers.paging import (
    LinksNextPaginator,
    PageNumberPaginator,
    Paginator,
)
from pipeline.errors import BadInput
from pipeline.normalize.payload import parse_time

__all__ = ["AppStoreConfig", "AppStorePoller", "TrustpilotConfig", "TrustpilotPoller"]


class TrustpilotConfig(PollerConfig):
    """``PORTE_VOIX_POLL_TRUSTPILOT_*``; accounts are business unit ids."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_POLL_TRUSTPILOT_", extra="ignore",
                                      frozen=True)

    base_url: str = "https://api.trustpilot.com"
    api_key: SecretStr = Field(description="Trustpilot API key (apikey=).")


@register
class TrustpilotPoller(Poller[TrustpilotConfig]):
    name = "trustpilot"
    config_model = TrustpilotConfig
    path = "/v1/business-units/{account}/reviews"
    stream_name = "reviews"
    page_size_param = "perPage"
    max_page_size = 100
    default_params: ClassVar[dict[str, str]] = {"orderBy": "createdat.desc"}

    def new_paginator(self) -> Paginator:
        return PageNumberPaginator("page", "perPage", start=1)

    def auth_params(self) -> dict[str, str]:
        return {"apikey": secret(self.config.api_key)}

    def parse_page(self, response: requests.Response) -> list[Any]:
        body = self.json_body(response)
        reviews = body.get("reviews") if isinstance(body, dict) else None
        if not isinstance(reviews, list):
            raise BadInput("trustpilot: reviews is missing or not a list")
        return reviews

    def item_id(self, item: Any) -> str:
        return str(item["id"])

    def item_time(self, item: Any) -> datetime:
        return parse_time(item["createdAt"], self.name, "createdAt")


class AppStoreConfig(PollerConfig):
    """``PORTE_VOIX_POLL_APP_STORE_*``: an API key (issuer, key id, .p8 PEM) or a token."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_POLL_APP_STORE_", extra="ignore",
                                      frozen=True)

    base_url: str = "https://api.appstoreconnect.apple.com"
    issuer_id: str | None = Field(default=None, description="API key issuer id.")
    key_id: str | None = Field(default=None, description="API key id (JWT kid).")
    private_key: SecretStr | None = Field(default=None, description="The .p8 key, PEM text.")
    token: SecretStr | None = Field(default=None, description="A ready JWT instead of a key.")
    token_lifetime_seconds: int = Field(default=900, ge=60, le=1200,
                                        description="Lifetime of minted JWTs (Apple: <= 20 min).")

    @model_validator(mode="after")
    def _credential(self) -> AppStoreConfig:
        has_key = self.issuer_id and self.key_id and self.private_key and secret(
            self.private_key)
        if not has_key and not (self.token and secret(self.token)):
            raise ValueError("app_store needs issuer_id, key_id and private_key, or token")
        return self


@register
class AppStorePoller(Poller[AppStoreConfig]):
    name = "app_store"
    config_model = AppStoreConfig
    path = "/v1/apps/{account}/customerReviews"
    stream_name = "customerReviews"
    page_size_param = "limit"
    max_page_size = 200
    default_params: ClassVar[dict[str, str]] = {"sort": "-createdDate"}

    _minted: tuple[str, float] | None = None

    def new_paginator(self) -> Paginator:
        return LinksNextPaginator(("links", "next"))

    def bearer(self) -> str:
        """The configured token, or a JWT minted from the key and reused until near expiry."""
        config = self.config
        if config.token is not None and secret(config.token):
            return secret(config.token)
        now = time.time()
        if self._minted is not None and self._minted[1] - 60 > now:
            return self._minted[0]
        expires = now + config.token_lifetime_seconds
        assert config.private_key is not None  # checked by the config
        token = jwt.encode(
            {"iss": config.issuer_id, "iat": int(now), "exp": int(expires),
             "aud": "appstoreconnect-v1"},
            secret(config.private_key), algorithm="ES256",
            headers={"kid": config.key_id, "typ": "JWT"})
        self._minted = (token, expires)
        return token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer()}"}

    def token_expires_at(self) -> datetime | None:
        """Only a configured token expires for good; minted ones are renewed."""
        token = self.config.token
        from_token = jwt_expiry(secret(token)) if token and secret(token) else None
        return self.config.token_expires_at or from_token

    def parse_page(self, response: requests.Response) -> list[Any]:
        body = self.json_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise BadInput("app_store: data is missing or not a list")
        return data

    def item_id(self, item: Any) -> str:
        return str(item["id"])

    def item_time(self, item: Any) -> datetime:
        return parse_time(item["attributes"]["createdDate"], self.name,
                          "attributes.createdDate")
