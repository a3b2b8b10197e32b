"""Reddit listing children (source ``reddit``): one ``t1`` comment or ``t3`` link per envelope.

Ids and conversations: item = the fullname (``t1_…``/``t3_…``, unique across Reddit);
conversation = the link (post) fullname, ``link_id`` for a comment and the post's own name for a
link. A link is kind ``mention``, a comment on the post ``comment``, a reply to a comment
``reply``. ``edited`` (false or the edit time) -> edited; a ``[deleted]``/``[removed]`` body
-> deleted. The brand is found from the subreddit, else from the envelope account (a brand
keyword search outside its own subreddit).
"""

from __future__ import annotations

from typing import Literal

from pipeline.errors import BadInput
from pipeline.normalize.brands import BrandDirectory
from pipeline.normalize.payload import (
    EventDraft,
    Shape,
    epoch,
    join_text,
    read_body,
    read_shape,
)
from schemas.models import Action, Author, Kind, Platform, RawEnvelope, SocialEvent

SOURCE = "reddit"

_GONE = {"[deleted]", "[removed]"}


class _Data(Shape):
    id: str
    name: str
    author: str
    created_utc: float | int | str
    subreddit: str
    body: str | None = None
    title: str | None = None
    selftext: str | None = None
    link_id: str | None = None
    parent_id: str | None = None
    permalink: str | None = None
    edited: bool | float | int = False


class _Thing(Shape):
    kind: Literal["t1", "t3"]
    data: _Data


def normalize_reddit(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """One comment or link."""
    thing = read_shape(
        _Thing, read_body(envelope, SOURCE, "thing"), SOURCE
    )
    data = thing.data
    if thing.kind == "t1":
        if data.body is None or not data.link_id or not data.parent_id:
            missing = next(f for f in ("body", "link_id", "parent_id") if not getattr(data, f))
            raise BadInput(f"{SOURCE}: data.{missing}: Field required for a t1 comment")
        text = data.body
        conversation = data.link_id
        kind = Kind.comment if data.parent_id.startswith("t3_") else Kind.reply
        parent: str | None = data.parent_id
    else:
        if data.title is None:
            raise BadInput(f"{SOURCE}: data.title: Field required for a t3 link")
        text = join_text(data.title, data.selftext)
        conversation = data.name
        kind = Kind.mention
        parent = None
    gone = (data.body or data.selftext or "").strip() in _GONE and data.author == "[deleted]"
    action = Action.deleted if gone else Action.edited if data.edited else Action.created
    brand, account = brands.resolve(Platform.reddit, [data.subreddit, envelope.account], SOURCE)
    return [
        EventDraft(envelope).event(
            platform=Platform.reddit,
            kind=kind,
            action=action,
            item_id=data.name,
            conversation_id=conversation,
            parent_id=parent,
            brand=brand,
            brand_account_id=account,
            author=Author(
                handle=data.author,
                is_brand=brands.is_brand_author(Platform.reddit, brand, handle=data.author),
            ),
            text="" if gone else text,
            created_at=epoch(data.created_utc, SOURCE, "data.created_utc"),
            url=f"https://www.reddit.com{data.permalink}" if data.permalink else None,
        )
    ]
