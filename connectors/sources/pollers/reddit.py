"""Reddit listings (``/r/{sub}/new`` for posts, ``/r/{sub}/comments`` for comments).

OAuth bearer on ``oauth.reddit.com`` with a descriptive User-Agent
(``<platform>:<app id>:<version> (by /u/<name>)``; generic agents are throttled hard).
Paging is ``after=<fullname>`` in, ``data.after`` out, ``limit`` up to 100. Reddit reports its
budget in ``X-Ratelimit-Remaining`` and ``X-Ratelimit-Reset`` (seconds to the window's end):
when the budget is spent the poller pauses until the reset, or ends the run when that is
longer than ``max_retry_after``. ``raw_json=1`` keeps ``&``, ``<``, ``>`` unescaped in bodies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

import requests
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from connectors.base import register
from connectors.sources.pollers.base import Poller, PollerConfig, Stream, jwt_expiry, secret
from connectors.sources.pollers.paging import AfterFullnamePaginator, Paginator
from pipeline.errors import BadInput
from pipeline.normalize.payload import epoch

__all__ = ["RedditConfig", "RedditPoller"]

_LISTINGS = ("new", "comments")


class RedditConfig(PollerConfig):
    """``PORTE_VOIX_POLL_REDDIT_*``; accounts are subreddit names."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_POLL_REDDIT_", extra="ignore",
                                      frozen=True)

    base_url: str = "https://oauth.reddit.com"
    access_token: SecretStr = Field(description="OAuth bearer token (read scope).")
    user_agent: str = Field(description="e.g. 'python:porte-voix:1.0 (by /u/yourname)'.")
    listings: Annotated[list[str], NoDecode] = Field(
        default=list(_LISTINGS), description="Listings to read: new and/or comments.")
    rate_per_second: float = Field(default=1.0, gt=0, description="Reddit: 100 queries/min.")
    min_remaining: float = Field(default=1.0, ge=0,
                                 description="Pause when X-Ratelimit-Remaining falls to this.")

    @field_validator("user_agent")
    @classmethod
    def _descriptive(cls, value: str) -> str:
        if "/u/" not in value or ":" not in value:
            raise ValueError("Reddit wants '<platform>:<app id>:<version> (by /u/<name>)'")
        return value

    @field_validator("listings", mode="before")
    @classmethod
    def _split_listings(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("listings")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(_LISTINGS)
        if unknown:
            raise ValueError(f"unknown listings {sorted(unknown)}; known: {list(_LISTINGS)}")
        return value


@register
class RedditPoller(Poller[RedditConfig]):
    name = "reddit"
    config_model = RedditConfig
    path = "/r/{account}/{listing}"
    page_size_param = "limit"
    max_page_size = 100
    default_params: ClassVar[dict[str, str]] = {"raw_json": "1"}

    def new_paginator(self) -> Paginator:
        return AfterFullnamePaginator("after", ("data", "after"))

    def streams(self) -> list[Stream]:
        return [Stream(sub.removeprefix("r/"), listing,
                       self.path.format(account=sub.removeprefix("r/"), listing=listing),
                       dict(self.default_params))
                for sub in self.config.accounts for listing in self.config.listings]

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"bearer {secret(self.config.access_token)}",
                "User-Agent": self.config.user_agent}

    def token_expires_at(self) -> datetime | None:
        return self.config.token_expires_at or jwt_expiry(secret(self.config.access_token))

    def parse_page(self, response: requests.Response) -> list[Any]:
        body = self.json_body(response)
        if not isinstance(body, dict) or body.get("kind") != "Listing":
            raise BadInput("reddit: answer is not a Listing")
        children = (body.get("data") or {}).get("children")
        if not isinstance(children, list):
            raise BadInput("reddit: data.children is not a list")
        return children

    def item_id(self, item: Any) -> str:
        return str(item["data"]["name"])

    def item_time(self, item: Any) -> datetime:
        return epoch(item["data"]["created_utc"], self.name, "data.created_utc")

    def wait_hint(self, response: requests.Response) -> float | None:
        try:
            remaining = float(response.headers["X-Ratelimit-Remaining"])
            reset = float(response.headers["X-Ratelimit-Reset"])
        except (KeyError, ValueError):
            return None
        return reset if remaining <= self.config.min_remaining else None
