"""Discourse webhooks (source ``discourse_webhook``): forum posts as platform ``forum``.

Bodies are ``{"post": {...}}``, ``{"topic": {...}}`` or ``{"ping": "OK"}``; the event type is in
the ``X-Discourse-Event`` header and the forum in ``X-Discourse-Instance`` (the envelope account
wins when set). Topic bodies give no event: the topic's opening post arrives as its own
``post_created`` with the text, and its title is prepended to that post's text. Pings give none.

Ids and conversations: several Discourse forums share platform ``forum`` and each numbers posts
from 1, so ids are qualified by host: item = ``<host>:<post id>``, conversation =
``<host>:<topic id>``. The opening post (``post_number`` 1) is kind ``comment``, later posts
``reply``. ``post_edited`` -> edited, ``post_destroyed`` or ``deleted_at`` -> deleted. Staff
posts and the brand's listed usernames are the brand's own.
"""

from __future__ import annotations

from pydantic import Field

from pipeline.errors import BadInput
from pipeline.normalize.brands import BrandDirectory, account_key
from pipeline.normalize.payload import (
    EventDraft,
    Shape,
    header,
    html_to_text,
    join_text,
    parse_time,
    read_body,
    read_shape,
)
from schemas.models import Action, Author, Kind, Platform, RawEnvelope, SocialEvent

SOURCE = "discourse_webhook"

_ACTIONS = {"post_edited": Action.edited, "post_destroyed": Action.deleted}


class _Post(Shape):
    id: str
    topic_id: str
    username: str
    created_at: str
    post_number: int = Field(ge=1)
    name: str | None = None
    user_id: str | None = None
    raw: str | None = None
    cooked: str | None = None
    updated_at: str | None = None
    reply_to_post_number: int | None = None
    topic_slug: str | None = None
    topic_title: str | None = None
    deleted_at: str | None = None
    staff: bool = False


class _Topic(Shape):
    id: str


def normalize_discourse(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """The post of a post webhook; nothing for topic and ping bodies."""
    data = read_body(envelope, SOURCE, "body")
    if "ping" in data:
        return []
    if "topic" in data and "post" not in data:
        read_shape(_Topic, data["topic"], SOURCE, "topic")
        return []
    if "post" not in data:
        raise BadInput(f"{SOURCE}: body has none of post, topic, ping (keys: {sorted(data)})")
    post = read_shape(_Post, data["post"], SOURCE, "post")
    instance = envelope.account or header(envelope.headers, "X-Discourse-Instance")
    if not instance:
        raise BadInput(f"{SOURCE}: no forum host: envelope account and X-Discourse-Instance "
                       "header are both empty")
    host = account_key(Platform.forum, instance)
    brand = brands.require(Platform.forum, host, SOURCE)
    event_name = header(envelope.headers, "X-Discourse-Event") or "post_created"
    action = Action.deleted if post.deleted_at else _ACTIONS.get(event_name, Action.created)
    text = post.raw if post.raw is not None else html_to_text(post.cooked or "")
    if post.post_number == 1:
        text = join_text(post.topic_title, text)
    slug = post.topic_slug or "-"
    created = parse_time(post.created_at, SOURCE, "post.created_at")
    return [
        EventDraft(envelope).event(
            platform=Platform.forum,
            kind=Kind.comment if post.post_number == 1 else Kind.reply,
            action=action,
            item_id=f"{host}:{post.id}",
            conversation_id=f"{host}:{post.topic_id}",
            brand=brand,
            brand_account_id=host,
            author=Author(
                id=post.user_id,
                handle=post.username,
                name=post.name,
                is_brand=post.staff
                or brands.is_brand_author(Platform.forum, brand, handle=post.username),
            ),
            text=text,
            created_at=created,
            url=f"https://{host}/t/{slug}/{post.topic_id}/{post.post_number}",
        )
    ]
