"""Flat JSONL records (source ``jsonl``): evaluation sets and history files.

A record is ``{id, platform, kind, brand, text, rating, author?, created_at?}`` (the format of
the labelled development set); label fields beside them are ignored. ``author`` is a handle or
an object with the ``Author`` fields; ``created_at`` defaults to the envelope's arrival time.
The record id is the item id and, unless ``conversation_id`` is given, the conversation.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from pipeline.normalize.brands import BrandDirectory
from pipeline.normalize.payload import (
    EventDraft,
    Shape,
    as_utc,
    read_body,
    read_shape,
)
from schemas.models import Action, Author, Kind, Platform, RawEnvelope, SocialEvent

SOURCE = "jsonl"


class _Author(Shape):
    id: str | None = None
    handle: str | None = None
    name: str | None = None
    followers: int | None = Field(default=None, ge=0)
    verified: bool | None = None
    is_brand: bool = False


class _Record(Shape):
    id: str = Field(min_length=1)
    platform: Platform
    kind: Kind
    brand: str = Field(min_length=1)
    text: str
    rating: int | None = Field(default=None, ge=1, le=5)
    author: str | _Author | None = None
    created_at: datetime | None = None
    action: Action = Action.created
    conversation_id: str | None = None
    parent_id: str | None = None
    url: str | None = None


def normalize_flat(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """One record, one event."""
    record = read_shape(
        _Record, read_body(envelope, SOURCE, "record"), SOURCE
    )
    if isinstance(record.author, str):
        author = Author(handle=record.author)
    elif record.author is not None:
        author = Author(**record.author.model_dump())
    else:
        author = Author()
    return [
        EventDraft(envelope).event(
            platform=record.platform,
            kind=record.kind,
            action=record.action,
            item_id=record.id,
            conversation_id=record.conversation_id or record.id,
            parent_id=record.parent_id,
            brand=brands.canonical_name(record.brand, SOURCE),
            author=author,
            text=record.text,
            rating=record.rating,
            created_at=as_utc(record.created_at or envelope.received_at),
            url=record.url,
        )
    ]
