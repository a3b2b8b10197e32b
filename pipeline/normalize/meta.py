"""Meta Graph webhooks (source ``meta_webhook``): Facebook Page feed, Messenger, Instagram.

One body (``object`` ``page`` or ``instagram``) batches ``entry[]``, one per page or Instagram
business account (``entry.id``), each with ``changes[]`` (feed/comments fields) or
``messaging[]``/``standby[]`` (messages; standby is the same event seen while another app owns
the thread). Every item becomes one event; reactions, likes, reads, deliveries, postbacks, page
posts and Instagram @mentions (which carry no text) give none.

Ids and conversations:
- Facebook comment: item = ``comment_id``; conversation = the top-level comment id: a comment
  whose ``parent_id`` is the post is top-level (its own id), a reply uses ``parent_id``. Facebook
  threads are one level deep, so ``parent_id`` of a reply is the top-level comment.
- Instagram comment: item = ``id``; conversation = ``parent_id`` for a reply, else its own id.
- Messenger / Instagram DM: item = ``message.mid``; conversation = ``<page id>:<user id>``.
- ``verb`` ``edited`` -> action edited, ``remove`` -> deleted (same event id as the original);
  an unsent Instagram message (``is_deleted``) -> deleted.
- Brand's own items: ``is_echo`` messages and comments whose ``from.id`` is the page/account
  itself (or one of the brand's handles) get ``author.is_brand``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from pipeline.errors import BadInput
from pipeline.normalize.brands import BrandDirectory
from pipeline.normalize.payload import (
    EventDraft,
    Shape,
    epoch,
    read_body,
    read_shape,
)
from schemas.models import Action, Author, Kind, Platform, RawEnvelope, SocialEvent

SOURCE = "meta_webhook"

_VERBS = {"add": Action.created, "edited": Action.edited, "remove": Action.deleted}


class _Who(Shape):
    id: str
    name: str | None = None
    username: str | None = None


class _Change(Shape):
    field: str
    value: dict[str, Any]


class _Entry(Shape):
    id: str
    time: int | float | str | None = None
    changes: list[_Change] = Field(default_factory=list)
    messaging: list[dict[str, Any]] = Field(default_factory=list)
    standby: list[dict[str, Any]] = Field(default_factory=list)


class _Body(Shape):
    object: Literal["page", "instagram"]
    entry: list[_Entry] = Field(min_length=1)


class _FeedItem(Shape):
    item: str
    verb: str | None = None


class _FeedComment(Shape):
    item: Literal["comment"]
    verb: Literal["add", "edited", "remove"]
    comment_id: str
    post_id: str
    parent_id: str | None = None
    sender: _Who | None = Field(default=None, alias="from")
    message: str | None = None
    created_time: int | float | str | None = None


class _IgMedia(Shape):
    id: str


class _IgComment(Shape):
    id: str
    text: str = ""
    sender: _Who = Field(alias="from")
    media: _IgMedia | None = None
    parent_id: str | None = None


class _Message(Shape):
    mid: str
    text: str | None = None
    is_echo: bool = False
    is_deleted: bool = False
    attachments: list[dict[str, Any]] = Field(default_factory=list)


class _Party(Shape):
    id: str


class _Messaging(Shape):
    sender: _Party
    recipient: _Party
    timestamp: int | float | str
    message: _Message | None = None


def normalize_meta(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """Every comment and message in a Meta webhook body, in body order."""
    data = read_body(envelope, SOURCE, "body")
    body = read_shape(_Body, data, SOURCE)
    platform = Platform.facebook if body.object == "page" else Platform.instagram
    draft = EventDraft(envelope)
    events: list[SocialEvent] = []
    for e_index, entry in enumerate(body.entry):
        where = f"entry.{e_index}"
        brand = brands.require(platform, entry.id, SOURCE)
        entry_time = epoch(entry.time, SOURCE, f"{where}.time") if entry.time is not None else None
        for c_index, change in enumerate(entry.changes):
            c_where = f"{where}.changes.{c_index}.value"
            if platform is Platform.facebook and change.field == "feed":
                event = _feed(draft, brands, brand, entry.id, entry_time, change.value, c_where)
            elif platform is Platform.instagram and change.field == "comments":
                event = _ig_comment(draft, brands, brand, entry.id, entry_time, change.value,
                                    c_where)
            else:
                event = None
            if event is not None:
                events.append(event)
        for key, items in (("messaging", entry.messaging), ("standby", entry.standby)):
            for m_index, raw in enumerate(items):
                event = _message(draft, brands, platform, brand, entry.id, raw,
                                 f"{where}.{key}.{m_index}")
                if event is not None:
                    events.append(event)
    return events


def _when(value: int | float | str | None, fallback: datetime | None, where: str) -> datetime:
    if value is not None:
        return epoch(value, SOURCE, where)
    if fallback is None:
        raise BadInput(f"{SOURCE}: {where}: no time on the item nor on its entry")
    return fallback


def _feed(
    draft: EventDraft,
    brands: BrandDirectory,
    brand: str,
    page_id: str,
    entry_time: datetime | None,
    value: dict[str, Any],
    where: str,
) -> SocialEvent | None:
    head = read_shape(_FeedItem, value, SOURCE, where)
    if head.item != "comment":
        return None
    item = read_shape(_FeedComment, value, SOURCE, where)
    if item.verb != "remove" and item.sender is None:
        raise BadInput(f"{SOURCE}: {where}.from: Field required")
    is_reply = bool(item.parent_id) and item.parent_id != item.post_id
    conversation = item.parent_id if is_reply and item.parent_id else item.comment_id
    sender = item.sender
    author = Author()
    if sender is not None:
        author = Author(
            id=sender.id,
            name=sender.name,
            is_brand=sender.id == page_id
            or brands.is_brand_author(Platform.facebook, brand, author_id=sender.id),
        )
    return draft.event(
        platform=Platform.facebook,
        kind=Kind.reply if is_reply else Kind.comment,
        action=_VERBS[item.verb],
        item_id=item.comment_id,
        conversation_id=conversation,
        parent_id=item.parent_id if is_reply else item.post_id,
        brand=brand,
        brand_account_id=page_id,
        author=author,
        text=item.message or "",
        created_at=_when(item.created_time, entry_time, f"{where}.created_time"),
        url=f"https://www.facebook.com/{item.post_id}?comment_id={item.comment_id}",
    )


def _ig_comment(
    draft: EventDraft,
    brands: BrandDirectory,
    brand: str,
    account_id: str,
    entry_time: datetime | None,
    value: dict[str, Any],
    where: str,
) -> SocialEvent:
    item = read_shape(_IgComment, value, SOURCE, where)
    sender = item.sender
    return draft.event(
        platform=Platform.instagram,
        kind=Kind.reply if item.parent_id else Kind.comment,
        item_id=item.id,
        conversation_id=item.parent_id or item.id,
        parent_id=item.parent_id or (item.media.id if item.media else None),
        brand=brand,
        brand_account_id=account_id,
        author=Author(
            id=sender.id,
            handle=sender.username,
            is_brand=sender.id == account_id
            or brands.is_brand_author(
                Platform.instagram, brand, author_id=sender.id, handle=sender.username
            ),
        ),
        text=item.text,
        created_at=_when(None, entry_time, f"{where}.time"),
    )


def _message(
    draft: EventDraft,
    brands: BrandDirectory,
    platform: Platform,
    brand: str,
    page_id: str,
    raw: dict[str, Any],
    where: str,
) -> SocialEvent | None:
    event = read_shape(_Messaging, raw, SOURCE, where)
    message = event.message
    if message is None:
        return None
    from_page = message.is_echo or event.sender.id == page_id
    user_id = event.recipient.id if from_page else event.sender.id
    is_brand = from_page or brands.is_brand_author(platform, brand, author_id=event.sender.id)
    return draft.event(
        platform=platform,
        kind=Kind.dm,
        action=Action.deleted if message.is_deleted else Action.created,
        item_id=message.mid,
        conversation_id=f"{page_id}:{user_id}",
        brand=brand,
        brand_account_id=page_id,
        author=Author(id=event.sender.id, is_brand=is_brand),
        text=message.text or "",
        created_at=epoch(event.timestamp, SOURCE, f"{where}.timestamp"),
    )
