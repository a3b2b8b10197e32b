"""Polled reviews: Google Business Profile, Trustpilot, Google Play, App Store Connect.

Each envelope holds one review resource as the platform's API returns it. Ids and
conversations: item = conversation = the review id, so a review edited later (same id, new
text or stars) is the same event with action ``edited`` when the platform says so (an update
time after the creation time). The owner's public answer (Google ``reviewReply``, Trustpilot
``companyReply``, Google Play ``developerComment``) becomes a second event
``<review id>:reply`` of kind ``reply`` flagged ``author.is_brand``, so routing can see the
brand answered and never tickets it. App Store responses are separate resources and are not
read here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field

from pipeline.errors import BadInput
from pipeline.normalize.brands import BrandDirectory
from pipeline.normalize.payload import (
    EventDraft,
    Shape,
    epoch,
    join_text,
    parse_time,
    read_body,
    read_shape,
    require_mapping,
)
from schemas.models import Action, Author, Kind, Platform, RawEnvelope, SocialEvent

GOOGLE_BUSINESS = "google_business"
TRUSTPILOT = "trustpilot"
GOOGLE_PLAY = "google_play"
APP_STORE = "app_store"

_STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
_LOCATION = re.compile(r"^(?P<location>accounts/[^/]+/locations/[^/]+)/reviews/[^/]+$")


def _owner_reply(
    draft: EventDraft,
    platform: Platform,
    review_id: str,
    brand: str,
    account: str,
    text: str,
    created_at: datetime,
    url: str | None,
) -> SocialEvent:
    return draft.event(
        platform=platform,
        kind=Kind.reply,
        item_id=f"{review_id}:reply",
        conversation_id=review_id,
        parent_id=review_id,
        brand=brand,
        brand_account_id=account,
        author=Author(name=brand, is_brand=True),
        text=text,
        created_at=created_at,
        url=url,
    )


# ---------------------------------------------------------------- Google Business Profile


class _Reviewer(Shape):
    displayName: str | None = None
    isAnonymous: bool = False


class _GbpReply(Shape):
    comment: str
    updateTime: str


class _GbpReview(Shape):
    name: str = Field(pattern=_LOCATION.pattern)
    reviewId: str
    starRating: Literal["STAR_RATING_UNSPECIFIED", "ONE", "TWO", "THREE", "FOUR", "FIVE"]
    createTime: str
    reviewer: _Reviewer | None = None
    comment: str | None = None
    updateTime: str | None = None
    reviewReply: _GbpReply | None = None


def normalize_google_business(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """A Google Business Profile review (``accounts/*/locations/*/reviews/*``) and its reply."""
    source = GOOGLE_BUSINESS
    data = read_body(envelope, source, "review")
    review = read_shape(_GbpReview, data, source)
    match = _LOCATION.match(review.name)
    location = match.group("location") if match else None
    brand, account = brands.resolve(Platform.google_reviews, [location, envelope.account], source)
    created = parse_time(review.createTime, source, "createTime")
    updated = parse_time(review.updateTime, source, "updateTime") if review.updateTime else None
    draft = EventDraft(envelope)
    reviewer = review.reviewer
    events = [
        draft.event(
            platform=Platform.google_reviews,
            kind=Kind.review,
            action=Action.edited if updated and updated > created else Action.created,
            item_id=review.reviewId,
            conversation_id=review.reviewId,
            brand=brand,
            brand_account_id=account,
            author=Author(
                name=None if reviewer is None or reviewer.isAnonymous else reviewer.displayName
            ),
            text=review.comment or "",
            rating=_STARS.get(review.starRating),
            created_at=created,
        )
    ]
    if review.reviewReply is not None:
        reply = review.reviewReply
        events.append(_owner_reply(
            draft, Platform.google_reviews, review.reviewId, brand, account, reply.comment,
            parse_time(reply.updateTime, source, "reviewReply.updateTime"), None,
        ))
    return events


# -------------------------------------------------------------------------- Trustpilot


class _Consumer(Shape):
    id: str | None = None
    displayName: str | None = None
    numberOfReviews: int | None = None


class _BusinessUnit(Shape):
    id: str


class _CompanyReply(Shape):
    text: str
    createdAt: str


class _TpReview(Shape):
    id: str
    stars: int = Field(ge=1, le=5)
    createdAt: str
    title: str | None = None
    text: str | None = None
    consumer: _Consumer | None = None
    updatedAt: str | None = None
    language: str | None = None
    businessUnit: _BusinessUnit | None = None
    companyReply: _CompanyReply | None = None


def normalize_trustpilot(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """A Trustpilot business-unit review (title + text, 1-5 stars) and the company reply."""
    source = TRUSTPILOT
    data = read_body(envelope, source, "review")
    review = read_shape(_TpReview, data, source)
    unit = review.businessUnit.id if review.businessUnit else None
    brand, account = brands.resolve(Platform.trustpilot, [unit, envelope.account], source)
    created = parse_time(review.createdAt, source, "createdAt")
    updated = parse_time(review.updatedAt, source, "updatedAt") if review.updatedAt else None
    url = f"https://www.trustpilot.com/reviews/{review.id}"
    consumer = review.consumer
    draft = EventDraft(envelope)
    events = [
        draft.event(
            platform=Platform.trustpilot,
            kind=Kind.review,
            action=Action.edited if updated and updated > created else Action.created,
            item_id=review.id,
            conversation_id=review.id,
            brand=brand,
            brand_account_id=account,
            author=Author(
                id=consumer.id if consumer else None,
                name=consumer.displayName if consumer else None,
            ),
            text=join_text(review.title, review.text),
            rating=review.stars,
            created_at=created,
            url=url,
        )
    ]
    if review.companyReply is not None:
        reply = review.companyReply
        events.append(_owner_reply(
            draft, Platform.trustpilot, review.id, brand, account, reply.text,
            parse_time(reply.createdAt, source, "companyReply.createdAt"), url,
        ))
    return events


# ------------------------------------------------------------------------- Google Play


class _Timestamp(Shape):
    seconds: int | str
    nanos: int = 0


class _UserComment(Shape):
    lastModified: _Timestamp
    starRating: int = Field(ge=1, le=5)
    text: str = ""
    reviewerLanguage: str | None = None
    appVersionName: str | None = None


class _DeveloperComment(Shape):
    text: str
    lastModified: _Timestamp


class _PlayComment(Shape):
    userComment: _UserComment | None = None
    developerComment: _DeveloperComment | None = None


class _PlayReview(Shape):
    reviewId: str
    comments: list[_PlayComment] = Field(min_length=1)
    authorName: str | None = None


def normalize_google_play(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """A Google Play reviews.list review; the app package comes from the envelope account."""
    source = GOOGLE_PLAY
    data = read_body(envelope, source, "review")
    review = read_shape(_PlayReview, data, source)
    users = [c.userComment for c in review.comments if c.userComment is not None]
    if not users:
        raise BadInput(f"{source}: comments: no userComment in review {review.reviewId!r}")
    user = users[-1]
    package = envelope.account
    brand = brands.require(Platform.google_play, package, source)
    url = (f"https://play.google.com/store/apps/details?id={package}&reviewId={review.reviewId}"
           if package else None)
    draft = EventDraft(envelope)
    events = [
        draft.event(
            platform=Platform.google_play,
            kind=Kind.review,
            item_id=review.reviewId,
            conversation_id=review.reviewId,
            brand=brand,
            brand_account_id=package,
            author=Author(name=review.authorName),
            text=user.text.strip(),
            rating=user.starRating,
            created_at=epoch(user.lastModified.seconds, source,
                             "comments.userComment.lastModified.seconds"),
            url=url,
        )
    ]
    developer = [c.developerComment for c in review.comments if c.developerComment is not None]
    if developer:
        reply = developer[-1]
        events.append(_owner_reply(
            draft, Platform.google_play, review.reviewId, brand, package or "", reply.text,
            epoch(reply.lastModified.seconds, source,
                  "comments.developerComment.lastModified.seconds"),
            url,
        ))
    return events


# ------------------------------------------------------------------------- App Store


class _AppStoreAttributes(Shape):
    rating: int = Field(ge=1, le=5)
    createdDate: str
    title: str | None = None
    body: str | None = None
    reviewerNickname: str | None = None
    territory: str | None = None


class _AppStoreReview(Shape):
    type: Literal["customerReviews"]
    id: str
    attributes: _AppStoreAttributes


def normalize_app_store(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """An App Store Connect customerReviews resource (bare or as a ``data`` document)."""
    source = APP_STORE
    data = read_body(envelope, source, "resource")
    where = ""
    if "data" in data and "attributes" not in data:
        data = require_mapping(data["data"], source, "data")
        where = "data"
    review = read_shape(_AppStoreReview, data, source, where)
    app_id = envelope.account
    brand = brands.require(Platform.app_store, app_id, source)
    attrs = review.attributes
    return [
        EventDraft(envelope).event(
            platform=Platform.app_store,
            kind=Kind.review,
            item_id=review.id,
            conversation_id=review.id,
            brand=brand,
            brand_account_id=app_id,
            author=Author(handle=attrs.reviewerNickname),
            text=join_text(attrs.title, attrs.body),
            rating=attrs.rating,
            created_at=parse_time(attrs.createdDate, source,
                                  f"{where + '.' if where else ''}attributes.createdDate"),
        )
    ]
