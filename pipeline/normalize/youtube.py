"""YouTube Data API v3 commentThread resources (source ``youtube``), one thread per envelope.

Ids and conversations: item = comment id; conversation = the thread id, shared by the top-level
comment (kind ``comment``) and the replies the thread resource carries (kind ``reply``, parent =
thread id). The brand channel is the envelope account, else the thread's ``snippet.channelId``;
comments from that channel (or a listed brand channel) are the brand's own. A comment whose
``updatedAt`` differs from ``publishedAt`` is an edit of the same event.
"""

from __future__ import annotations

from pydantic import Field

from pipeline.errors import BadInput
from pipeline.normalize.brands import BrandDirectory
from pipeline.normalize.payload import (
    EventDraft,
    Shape,
    html_to_text,
    parse_time,
    read_body,
    read_shape,
)
from schemas.models import Action, Author, Kind, Platform, RawEnvelope, SocialEvent

SOURCE = "youtube"


class _Channel(Shape):
    value: str


class _CommentSnippet(Shape):
    publishedAt: str
    textOriginal: str | None = None
    textDisplay: str | None = None
    authorDisplayName: str | None = None
    authorChannelId: _Channel | None = None
    updatedAt: str | None = None
    videoId: str | None = None
    channelId: str | None = None


class _Comment(Shape):
    id: str
    snippet: _CommentSnippet


class _ThreadSnippet(Shape):
    topLevelComment: _Comment
    channelId: str | None = None
    videoId: str | None = None


class _Replies(Shape):
    comments: list[_Comment] = Field(default_factory=list)


class _Thread(Shape):
    id: str
    snippet: _ThreadSnippet
    replies: _Replies | None = None


def normalize_youtube(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """The top-level comment of a thread, then its replies."""
    data = read_body(envelope, SOURCE, "commentThread")
    thread = read_shape(_Thread, data, SOURCE)
    channel = envelope.account or thread.snippet.channelId
    if not channel:
        raise BadInput(f"{SOURCE}: snippet.channelId: missing and the envelope has no account")
    brand = brands.require(Platform.youtube, channel, SOURCE)
    draft = EventDraft(envelope)
    video = thread.snippet.videoId or thread.snippet.topLevelComment.snippet.videoId
    comments: list[tuple[_Comment, Kind, str | None, str]] = [
        (thread.snippet.topLevelComment, Kind.comment, None, "snippet.topLevelComment")
    ]
    if thread.replies is not None:
        comments += [
            (reply, Kind.reply, thread.id, f"replies.comments.{i}")
            for i, reply in enumerate(thread.replies.comments)
        ]
    events: list[SocialEvent] = []
    for comment, kind, parent, where in comments:
        snip = comment.snippet
        author_channel = snip.authorChannelId.value if snip.authorChannelId else None
        if snip.textOriginal is not None:
            text = snip.textOriginal
        else:
            text = html_to_text(snip.textDisplay or "")
        edited = snip.updatedAt is not None and snip.updatedAt != snip.publishedAt
        events.append(
            draft.event(
                platform=Platform.youtube,
                kind=kind,
                action=Action.edited if edited else Action.created,
                item_id=comment.id,
                conversation_id=thread.id,
                parent_id=parent,
                brand=brand,
                brand_account_id=channel,
                author=Author(
                    id=author_channel,
                    handle=snip.authorDisplayName,
                    is_brand=author_channel == channel
                    or brands.is_brand_author(Platform.youtube, brand, author_id=author_channel,
                                              handle=snip.authorDisplayName),
                ),
                text=text,
                created_at=parse_time(snip.publishedAt, SOURCE, f"{where}.snippet.publishedAt"),
                url=f"https://www.youtube.com/watch?v={video}&lc={comment.id}" if video else None,
            )
        )
    return events
