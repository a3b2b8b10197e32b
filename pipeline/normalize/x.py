"""X Account Activity API payloads (source ``x_account_activity``): tweets and DMs.

One payload is for one subscribed account (``for_user_id``) and carries ``tweet_create_events[]``
(v1.1 tweet objects) and/or ``direct_message_events[]`` with a ``users`` map. Other activities
(favorites, follows, typing, reads, deletes) give no event; plain retweets neither, since they
add no words of their own (quote tweets do and are kept).

Ids and conversations:
- Tweet: item = ``id_str``; kind ``reply`` when it answers a tweet, else ``mention``. Its
  conversation is the first tweet of its reply chain *among the tweets of the same payload*,
  else the tweet's own id. Limit: v1.1 tweets do not say which conversation they belong to, so
  a reply to a tweet delivered in an earlier payload starts its own conversation (the parent id
  is kept in ``parent_id`` for a later stage that remembers tweets).
- DM: item = the event ``id``; conversation = ``<for_user_id>:<other user id>``.
- The subscribed account's own tweets and DMs (and the brand's other handles) get
  ``author.is_brand``.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import Field

from pipeline.errors import BadInput
from pipeline.normalize.brands import BrandDirectory
from pipeline.normalize.payload import (
    EventDraft,
    Shape,
    as_utc,
    epoch,
    read_body,
    read_shape,
)
from schemas.models import Author, Kind, Platform, RawEnvelope, SocialEvent

SOURCE = "x_account_activity"


class _User(Shape):
    id_str: str
    screen_name: str | None = None
    name: str | None = None
    followers_count: int | None = Field(default=None, ge=0)
    verified: bool | None = None


class _Extended(Shape):
    full_text: str


class _Tweet(Shape):
    id_str: str
    created_at: str
    user: _User
    text: str | None = None
    full_text: str | None = None
    extended_tweet: _Extended | None = None
    in_reply_to_status_id_str: str | None = None
    retweeted_status: dict[str, Any] | None = None


class _DmUser(Shape):
    id: str
    screen_name: str | None = None
    name: str | None = None
    followers_count: int | None = Field(default=None, ge=0)
    verified: bool | None = None


class _Target(Shape):
    recipient_id: str


class _MessageData(Shape):
    text: str = ""


class _MessageCreate(Shape):
    sender_id: str
    target: _Target
    message_data: _MessageData


class _DmEvent(Shape):
    type: str
    id: str
    created_timestamp: int | str
    message_create: _MessageCreate | None = None


class _Body(Shape):
    for_user_id: str
    tweet_create_events: list[dict[str, Any]] = Field(default_factory=list)
    direct_message_events: list[dict[str, Any]] = Field(default_factory=list)
    users: dict[str, dict[str, Any]] = Field(default_factory=dict)


def tweet_time(value: str, where: str) -> datetime:
    """v1.1 ``created_at`` ("Wed Oct 10 20:19:24 +0000 2018"), read without the C locale."""
    parts = value.split()
    if len(parts) != 6:
        raise BadInput(f"{SOURCE}: {where}: not a tweet date: {value!r}")
    _, month, day, clock, zone, year = parts
    try:
        return as_utc(parsedate_to_datetime(f"{day} {month} {year} {clock} {zone}"))
    except (TypeError, ValueError):
        raise BadInput(f"{SOURCE}: {where}: not a tweet date: {value!r}") from None


def normalize_x(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """Tweets then DMs of one Account Activity payload."""
    data = read_body(envelope, SOURCE, "body")
    body = read_shape(_Body, data, SOURCE)
    brand = brands.require(Platform.x, body.for_user_id, SOURCE)
    draft = EventDraft(envelope)
    tweets = [
        read_shape(_Tweet, raw, SOURCE, f"tweet_create_events.{i}")
        for i, raw in enumerate(body.tweet_create_events)
    ]
    parents = {t.id_str: t.in_reply_to_status_id_str for t in tweets}
    events: list[SocialEvent] = []
    for index, tweet in enumerate(tweets):
        if tweet.retweeted_status is not None:
            continue
        events.append(_tweet(draft, brands, brand, body.for_user_id, tweet, parents,
                             f"tweet_create_events.{index}"))
    users = {
        uid: read_shape(_DmUser, raw, SOURCE, f"users.{uid}") for uid, raw in body.users.items()
    }
    for index, raw in enumerate(body.direct_message_events):
        event = _dm(draft, brands, brand, body.for_user_id, users, raw,
                    f"direct_message_events.{index}")
        if event is not None:
            events.append(event)
    return events


def _root(tweet_id: str, parents: dict[str, str | None]) -> str:
    seen = {tweet_id}
    current = tweet_id
    while (parent := parents.get(current)) is not None and parent in parents:
        if parent in seen:
            break
        seen.add(parent)
        current = parent
    return current


def _tweet(
    draft: EventDraft,
    brands: BrandDirectory,
    brand: str,
    for_user_id: str,
    tweet: _Tweet,
    parents: dict[str, str | None],
    where: str,
) -> SocialEvent:
    if tweet.extended_tweet is not None:
        text = tweet.extended_tweet.full_text
    elif tweet.full_text is not None:
        text = tweet.full_text
    elif tweet.text is not None:
        text = tweet.text
    else:
        raise BadInput(f"{SOURCE}: {where}.text: Field required")
    user = tweet.user
    screen = user.screen_name or user.id_str
    return draft.event(
        platform=Platform.x,
        kind=Kind.reply if tweet.in_reply_to_status_id_str else Kind.mention,
        item_id=tweet.id_str,
        conversation_id=_root(tweet.id_str, parents),
        parent_id=tweet.in_reply_to_status_id_str,
        brand=brand,
        brand_account_id=for_user_id,
        author=Author(
            id=user.id_str,
            handle=user.screen_name,
            name=user.name,
            followers=user.followers_count,
            verified=user.verified,
            is_brand=user.id_str == for_user_id
            or brands.is_brand_author(Platform.x, brand, author_id=user.id_str,
                                      handle=user.screen_name),
        ),
        text=text,
        created_at=tweet_time(tweet.created_at, f"{where}.created_at"),
        url=f"https://x.com/{screen}/status/{tweet.id_str}",
    )


def _dm(
    draft: EventDraft,
    brands: BrandDirectory,
    brand: str,
    for_user_id: str,
    users: dict[str, _DmUser],
    raw: dict[str, Any],
    where: str,
) -> SocialEvent | None:
    event = read_shape(_DmEvent, raw, SOURCE, where)
    if event.type != "message_create":
        return None
    create = event.message_create
    if create is None:
        raise BadInput(f"{SOURCE}: {where}.message_create: Field required")
    sender = create.sender_id
    other = create.target.recipient_id if sender == for_user_id else sender
    profile = users.get(sender)
    return draft.event(
        platform=Platform.x,
        kind=Kind.dm,
        item_id=event.id,
        conversation_id=f"{for_user_id}:{other}",
        brand=brand,
        brand_account_id=for_user_id,
        author=Author(
            id=sender,
            handle=profile.screen_name if profile else None,
            name=profile.name if profile else None,
            followers=profile.followers_count if profile else None,
            verified=profile.verified if profile else None,
            is_brand=sender == for_user_id
            or brands.is_brand_author(Platform.x, brand, author_id=sender,
                                      handle=profile.screen_name if profile else None),
        ),
        text=create.message_data.text,
        created_at=epoch(event.created_timestamp, SOURCE, f"{where}.created_timestamp"),
    )
