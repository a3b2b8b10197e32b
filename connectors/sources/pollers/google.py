"""Google APIs polled with OAuth bearer tokens and page tokens.

- ``youtube``: YouTube Data API v3 ``commentThreads.list`` (``part=snippet,replies``,
  ``order=time``, ``maxResults`` 1-100, ``pageToken``/``nextPageToken``), one stream per channel
  (``allThreadsRelatedToChannelId``) or per video (account ``CHANNEL:VIDEO`` -> ``videoId``).
  An API key (``key=``) or an OAuth token authenticates. A 403 whose reason is
  ``quotaExceeded``/``rateLimitExceeded`` is a rate limit, not a refused credential.
- ``google_business``: Business Profile ``accounts/*/locations/*/reviews`` (``pageSize`` up to
  50, ``orderBy=updateTime desc``), account = the location resource name.
- ``google_play``: ``androidpublisher/v3/applications/{package}/reviews`` (``token`` in,
  ``tokenPagination.nextPageToken`` out). The API only lists reviews created or modified in the
  last 7 days: poll more often than that, health says when a gap is possible.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

import requests
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from connectors.base import register
from connectors.sources.pollers.base import (
    Poller,
    PollerConfig,
    PollError,
    Stream,
    jwt_expiry,
    secret,
)
from connectors.sources.pollers.paging import PageTokenPaginator, Paginator
from pipeline.errors import BadInput
from pipeline.normalize.payload import epoch, parse_time
from schemas.models import ErrorKind

__all__ = [
    "GoogleBusinessConfig",
    "GoogleBusinessPoller",
    "GooglePlayConfig",
    "GooglePlayPoller",
    "YouTubeConfig",
    "YouTubePoller",
]


class _BearerPoller(Poller[Any]):
    """Sends ``Authorization: Bearer <access_token>`` when the config has a token."""

    def auth_headers(self) -> dict[str, str]:
        token: SecretStr | None = getattr(self.config, "access_token", None)
        return {"Authorization": f"Bearer {secret(token)}"} if token else {}

    def token_expires_at(self) -> datetime | None:
        token: SecretStr | None = getattr(self.config, "access_token", None)
        from_token = jwt_expiry(secret(token)) if token else None
        return self.config.token_expires_at or from_token


def _items(body: Any, key: str, source: str) -> list[Any]:
    if not isinstance(body, dict):
        raise BadInput(f"{source}: page is not a JSON object")
    items = body.get(key, [])  # Google omits empty lists
    if not isinstance(items, list):
        raise BadInput(f"{source}: {key} is not a list")
    return items


# ------------------------------------------------------------------------------ YouTube


class YouTubeConfig(PollerConfig):
    """``PORTE_VOIX_POLL_YOUTUBE_*``: an API key or an OAuth access token."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_POLL_YOUTUBE_", extra="ignore",
                                      frozen=True)

    base_url: str = "https://www.googleapis.com/youtube/v3"
    api_key: SecretStr | None = Field(default=None, description="API key (key=).")
    access_token: SecretStr | None = Field(default=None, description="OAuth bearer token.")

    @model_validator(mode="after")
    def _credential(self) -> YouTubeConfig:
        if not (self.api_key and secret(self.api_key)) and not (
                self.access_token and secret(self.access_token)):
            raise ValueError("youtube needs api_key or access_token")
        return self


def _comment_time(comment: Any) -> datetime:
    snippet = comment["snippet"]
    return parse_time(snippet.get("updatedAt") or snippet["publishedAt"], "youtube",
                      "snippet.publishedAt")


@register
class YouTubePoller(_BearerPoller):
    name = "youtube"
    config_model = YouTubeConfig
    path = "/commentThreads"
    stream_name = "threads"
    page_size_param = "maxResults"
    max_page_size = 100
    default_params: ClassVar[dict[str, str]] = {
        "part": "snippet,replies", "order": "time", "textFormat": "plainText"}

    def new_paginator(self) -> Paginator:
        return PageTokenPaginator("pageToken", ("nextPageToken",))

    def auth_params(self) -> dict[str, str]:
        key: SecretStr | None = self.config.api_key
        return {"key": secret(key)} if key and not self.config.access_token else {}

    def streams(self) -> list[Stream]:
        streams = []
        for account in self.config.accounts:
            channel, _, video = account.partition(":")
            if video:
                streams.append(Stream(channel, f"video:{video}", self.path,
                                      {**self.default_params, "videoId": video}))
            else:
                streams.append(Stream(channel, self.stream_name, self.path, {
                    **self.default_params, "allThreadsRelatedToChannelId": channel}))
        return streams

    def parse_page(self, response: requests.Response) -> list[Any]:
        body = self.json_body(response)
        if isinstance(body, dict) and body.get("kind") not in (
                None, "youtube#commentThreadListResponse"):
            raise BadInput(f"youtube: unexpected kind {body.get('kind')!r}")
        return _items(body, "items", self.name)

    def item_id(self, item: Any) -> str:
        return str(item["id"])

    def item_time(self, item: Any) -> datetime:
        """Newest of the thread's comments (edits and replies move it forward)."""
        comments = [item["snippet"]["topLevelComment"],
                    *(item.get("replies") or {}).get("comments", [])]
        return max(_comment_time(c) for c in comments)

    def refused(self, response: requests.Response) -> PollError | None:
        if response.status_code != 403:
            return None
        try:
            errors = response.json()["error"]["errors"]
            reasons = {str(e.get("reason")) for e in errors}
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if reasons & {"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded"}:
            return PollError(ErrorKind.retriable,
                             f"youtube: quota: {', '.join(sorted(reasons))}", status=403,
                             rate_limited=True)
        return None


# ---------------------------------------------------------------- Google Business Profile


class GoogleBusinessConfig(PollerConfig):
    """``PORTE_VOIX_POLL_GOOGLE_BUSINESS_*``; accounts are ``accounts/X/locations/Y``."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_POLL_GOOGLE_BUSINESS_",
                                      extra="ignore", frozen=True)

    base_url: str = "https://mybusiness.googleapis.com/v4"
    access_token: SecretStr = Field(description="OAuth token (business.manage scope).")


@register
class GoogleBusinessPoller(_BearerPoller):
    name = "google_business"
    config_model = GoogleBusinessConfig
    path = "/{account}/reviews"
    stream_name = "reviews"
    page_size_param = "pageSize"
    max_page_size = 50
    default_params: ClassVar[dict[str, str]] = {"orderBy": "updateTime desc"}

    def new_paginator(self) -> Paginator:
        return PageTokenPaginator("pageToken", ("nextPageToken",))

    def parse_page(self, response: requests.Response) -> list[Any]:
        return _items(self.json_body(response), "reviews", self.name)

    def item_id(self, item: Any) -> str:
        return str(item["reviewId"])

    def item_time(self, item: Any) -> datetime:
        return parse_time(item.get("updateTime") or item["createTime"], self.name, "updateTime")


# ---------------------------------------------------------------------------- Google Play


class GooglePlayConfig(PollerConfig):
    """``PORTE_VOIX_POLL_GOOGLE_PLAY_*``; accounts are app package names."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_POLL_GOOGLE_PLAY_",
                                      extra="ignore", frozen=True)

    base_url: str = "https://androidpublisher.googleapis.com/androidpublisher/v3"
    access_token: SecretStr = Field(description="OAuth token (androidpublisher scope).")


@register
class GooglePlayPoller(_BearerPoller):
    name = "google_play"
    config_model = GooglePlayConfig
    path = "/applications/{account}/reviews"
    stream_name = "reviews"
    page_size_param = "maxResults"
    max_page_size = 100
    retention = timedelta(days=7)

    def new_paginator(self) -> Paginator:
        return PageTokenPaginator("token", ("tokenPagination", "nextPageToken"))

    def parse_page(self, response: requests.Response) -> list[Any]:
        return _items(self.json_body(response), "reviews", self.name)

    def item_id(self, item: Any) -> str:
        return str(item["reviewId"])

    def item_time(self, item: Any) -> datetime:
        """Latest ``lastModified`` of the user's and the developer's comments."""
        stamps = [
            (comment.get("userComment") or comment.get("developerComment"))["lastModified"]
            for comment in item["comments"]
        ]
        return max(epoch(s["seconds"], self.name, "lastModified.seconds")
                   + timedelta(microseconds=int(s.get("nanos", 0)) // 1000) for s in stamps)
