"""Value models of every Porte-Voix topic: the contract that data teams consume.

Each model carries a ``schema_version`` (``MAJOR.MINOR``): additive changes bump the minor
version, anything that can break a reader (a removed or retyped field, a narrowed enum) bumps
the major one. Models are strict about unknown fields where we produce them, so a typo in a
producer fails loudly instead of leaking into a topic.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Action",
    "Author",
    "AuthorTier",
    "ConnectorHealth",
    "CrisisAlert",
    "CrisisSignal",
    "CursorState",
    "DeadLetter",
    "EnrichedEvent",
    "Enrichment",
    "ErrorKind",
    "FailedExpectation",
    "FeedbackItem",
    "Intent",
    "Kind",
    "Lang",
    "ModerationItem",
    "PiiKind",
    "Platform",
    "ProductArea",
    "QualityResult",
    "QuarantineRecord",
    "RawEnvelope",
    "Route",
    "Sentiment",
    "SocialEvent",
    "Stage",
    "TicketCommand",
    "TicketOutcome",
    "TicketResult",
    "Urgency",
    "stable_id",
    "utcnow",
]


def utcnow() -> datetime:
    """Timezone-aware now, so that every timestamp on a topic is comparable."""
    return datetime.now(UTC)


def stable_id(*parts: str) -> str:
    """Deterministic short id: the same inputs always give the same id (idempotency keys)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


class Platform(StrEnum):
    """Where a message was published."""

    facebook = "facebook"
    instagram = "instagram"
    x = "x"
    youtube = "youtube"
    google_reviews = "google_reviews"
    trustpilot = "trustpilot"
    google_play = "google_play"
    app_store = "app_store"
    reddit = "reddit"
    forum = "forum"
    other = "other"


class Kind(StrEnum):
    """What sort of message it is; DMs and reviews are private or rated, comments are public."""

    comment = "comment"
    dm = "dm"
    review = "review"
    mention = "mention"
    reply = "reply"


class Action(StrEnum):
    """Lifecycle of a platform item: an edit or a removal is an update of the same event."""

    created = "created"
    edited = "edited"
    deleted = "deleted"


class Lang(StrEnum):
    en = "en"
    fr = "fr"
    other = "other"


class Sentiment(StrEnum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


class Intent(StrEnum):
    complaint = "complaint"
    question = "question"
    feature_request = "feature_request"
    praise = "praise"
    spam = "spam"
    toxic = "toxic"
    other = "other"


class ProductArea(StrEnum):
    billing = "billing"
    delivery = "delivery"
    app = "app"
    network = "network"
    account = "account"
    product_quality = "product_quality"
    customer_service = "customer_service"
    pricing = "pricing"
    other = "other"


class Urgency(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class PiiKind(StrEnum):
    email = "email"
    phone = "phone"
    card = "card"
    iban = "iban"
    order_id = "order_id"


class Route(StrEnum):
    """Destinations a routed event can go to (the names used in rules and evaluation)."""

    crm_ticket = "crm_ticket"
    product_feedback = "product_feedback"
    moderation = "moderation"
    crisis_watch = "crisis_watch"
    none = "none"


class AuthorTier(StrEnum):
    """Influence tier from follower counts and verification, when the platform gives them."""

    unknown = "unknown"
    regular = "regular"
    micro = "micro"
    macro = "macro"
    celebrity = "celebrity"


class Stage(StrEnum):
    ingest = "ingest"
    normalize = "normalize"
    enrich = "enrich"
    route = "route"
    deliver = "deliver"
    quality = "quality"


class ErrorKind(StrEnum):
    """How an error is handled: retried, stopped on, or set aside as bad input."""

    retriable = "retriable"
    fatal = "fatal"
    bad_input = "bad_input"


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_bytes="base64",
                              val_json_bytes="base64")


# --------------------------------------------------------------------------- social.raw


class RawEnvelope(_Contract):
    """A platform payload exactly as received, plus what we knew when it arrived.

    ``payload`` holds the raw bytes untouched (base64 in JSON) so the topic can be replayed
    through a newer normalizer at any time.
    """

    schema_version: Literal["1.0"] = "1.0"
    raw_id: str = Field(description="Deterministic id of this delivery (source + payload hash).")
    source: str = Field(description="Connector name that produced it, e.g. meta_webhook.")
    received_at: datetime = Field(default_factory=utcnow)
    signature_verified: bool = Field(
        default=False, description="True when a platform signature was checked on the raw body."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Transport headers that matter (never secrets)."
    )
    account: str | None = Field(default=None, description="Brand account the payload is for.")
    payload: bytes = Field(description="The payload bytes as received.")

    @classmethod
    def wrap(cls, source: str, payload: bytes, **kwargs: object) -> RawEnvelope:
        """Build an envelope whose id depends only on source and bytes (replays collapse)."""
        raw_id = stable_id(source, hashlib.sha256(payload).hexdigest())
        return cls(raw_id=raw_id, source=source, payload=payload, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ social.events


class Author(_Contract):
    id: str | None = None
    handle: str | None = None
    name: str | None = None
    followers: int | None = Field(default=None, ge=0)
    verified: bool | None = None
    is_brand: bool = Field(
        default=False, description="The brand's own account (posts, replies, echoes)."
    )


class SocialEvent(_Contract):
    """One message from the community, in one shape whatever the platform."""

    schema_version: Literal["1.0"] = "1.0"
    event_id: str = Field(description="Stable id: one per platform item, edits keep it.")
    platform: Platform
    kind: Kind
    action: Action = Action.created
    source: str = Field(description="Connector that brought it.")
    platform_item_id: str
    conversation_id: str = Field(
        description="DM thread, comment thread under a post, or review id."
    )
    parent_id: str | None = None
    brand: str = Field(description="Brand the message is addressed to.")
    brand_account_id: str | None = None
    author: Author = Field(default_factory=Author)
    text: str = ""
    rating: int | None = Field(default=None, ge=1, le=5)
    created_at: datetime
    received_at: datetime = Field(default_factory=utcnow)
    url: str | None = None
    raw_id: str | None = Field(default=None, description="RawEnvelope it was normalized from.")

    @property
    def conversation_key(self) -> str:
        """Key shared by every message of a conversation: keeps order and finds its ticket."""
        return f"{self.platform.value}:{self.conversation_id}"

    @classmethod
    def make_event_id(cls, platform: Platform | str, platform_item_id: str) -> str:
        return f"{Platform(platform).value}:{platform_item_id}"


# ---------------------------------------------------------------------- social.enriched

Score = Annotated[float, Field(ge=0.0, le=1.0)]


class Enrichment(_Contract):
    """Labels computed from the text, each with a confidence in [0, 1]."""

    model_version: str
    lang: Lang
    lang_confidence: Score = 1.0
    sentiment: Sentiment
    sentiment_score: float = Field(ge=-1.0, le=1.0, description="-1 very negative .. +1.")
    sentiment_confidence: Score = 1.0
    intent: Intent
    intent_confidence: Score = 1.0
    product_area: ProductArea
    product_area_confidence: Score = 1.0
    urgency: Urgency
    urgency_reasons: list[str] = Field(default_factory=list)
    pii: list[PiiKind] = Field(default_factory=list)
    redacted_text: str
    dup_of: str | None = Field(default=None, description="event_id of the first near-duplicate.")
    crisis_signal: bool = Field(
        default=False, description="Outage, scandal or incident language: watch for a crisis."
    )
    actionable: bool = Field(
        default=False,
        description="The author has a personal case support must answer (order, charge, account).",
    )
    feature_specific: bool = Field(
        default=False, description="Names a specific feature or product defect product teams own."
    )
    author_tier: AuthorTier = AuthorTier.unknown
    author_first_time: bool | None = None
    needs_review: bool = Field(
        default=False, description="A label is below the confidence floor: ask a human."
    )


class EnrichedEvent(_Contract):
    schema_version: Literal["1.0"] = "1.0"
    event: SocialEvent
    enrichment: Enrichment


# ------------------------------------------------------------------------- crm.commands


class TicketCommand(_Contract):
    """Ask a CRM sink to put one message into the ticket of its conversation.

    The sink looks the conversation up in the target system by ``external_id``: it creates the
    ticket when none exists, otherwise appends the message as a follow-up (once: ``command_id``
    is the idempotency key).
    """

    schema_version: Literal["1.0"] = "1.0"
    command_id: str
    external_id: str = Field(description="Conversation key, unique per ticket in the target.")
    event_id: str
    action: Action = Action.created
    brand: str
    platform: Platform
    kind: Kind
    title: str = Field(max_length=200)
    body: str
    queue: str = "support"
    priority: int = Field(default=3, ge=1, le=5, description="1 = critical .. 5 = very low.")
    tags: list[str] = Field(default_factory=list)
    assignee_group: str | None = None
    author_handle: str | None = None
    url: str | None = None
    created_at: datetime


class TicketOutcome(StrEnum):
    created = "created"
    followed_up = "followed_up"
    updated = "updated"
    unchanged = "unchanged"
    failed = "failed"


class TicketResult(_Contract):
    """What a CRM did with a command: the loop back to the pipeline and the dashboard."""

    schema_version: Literal["1.0"] = "1.0"
    command_id: str
    external_id: str
    event_id: str
    target: str
    outcome: TicketOutcome
    ticket_id: str | None = None
    ticket_url: str | None = None
    error: str | None = None
    attempts: int = 1
    at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------- feedback.<area> / moderation


class FeedbackItem(_Contract):
    """Voice of the community for product teams: PII-redacted text only."""

    schema_version: Literal["1.0"] = "1.0"
    feedback_id: str
    event_id: str
    brand: str
    platform: Platform
    product_area: ProductArea
    intent: Intent
    sentiment: Sentiment
    lang: Lang
    redacted_text: str
    rating: int | None = Field(default=None, ge=1, le=5)
    url: str | None = None
    created_at: datetime


class ModerationItem(_Contract):
    """A message for moderators (spam, scams, insults), with the reason it was flagged."""

    schema_version: Literal["1.0"] = "1.0"
    event_id: str
    brand: str
    platform: Platform
    intent: Intent
    urgency: Urgency
    redacted_text: str
    author_handle: str | None = None
    url: str | None = None
    created_at: datetime


class CrisisSignal(_Contract):
    """An event that may belong to a crisis; analytics group them into incidents."""

    schema_version: Literal["1.0"] = "1.0"
    event_id: str
    brand: str
    platform: Platform
    product_area: ProductArea
    lang: Lang
    sentiment: Sentiment
    redacted_text: str
    created_at: datetime


class CrisisAlert(_Contract):
    """One alert per incident: opened, updated while it grows, closed when it cools down."""

    schema_version: Literal["1.0"] = "1.0"
    incident_id: str
    brand: str
    theme: ProductArea
    status: Literal["open", "update", "closed"]
    started_at: datetime
    updated_at: datetime
    message_count: int = Field(ge=0)
    baseline_per_hour: float = Field(ge=0.0)
    growth: float = Field(description="Current rate over baseline.")
    platforms: list[Platform] = Field(default_factory=list)
    languages: list[Lang] = Field(default_factory=list)
    first_messages: list[str] = Field(default_factory=list, description="Redacted texts.")


# ---------------------------------------------------------------------- connectors.health


class ConnectorHealth(_Contract):
    schema_version: Literal["1.0"] = "1.0"
    connector: str
    account: str | None = None
    status: Literal["ok", "degraded", "auth_failed", "token_expiring", "failing"]
    detail: str = ""
    last_success_at: datetime | None = None
    at: datetime = Field(default_factory=utcnow)


# -------------------------------------------------------------------- connectors.cursors


class CursorState(_Contract):
    """Where a poller stands in one (account, stream): advanced only after the broker acked.

    Kept on a compacted topic keyed by ``connector/account/stream``, so the latest value per key
    is the cursor to resume from after a restart.
    """

    schema_version: Literal["1.0"] = "1.0"
    connector: str
    account: str
    stream: str
    cursor: str | None = Field(default=None, description="Opaque position: page token, date...")
    high_watermark: datetime | None = Field(
        default=None, description="Newest item time already stored (overlap re-reads collapse)."
    )
    items: int = Field(default=0, ge=0, description="Items stored so far for this stream.")
    at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return f"{self.connector}/{self.account}/{self.stream}"


# -------------------------------------------------------------- quality.quarantine/results


class FailedExpectation(_Contract):
    expectation: str = Field(description="great-expectations expectation type.")
    column: str | None = None
    detail: str = ""


class QuarantineRecord(_Contract):
    """A record that failed the data-quality gate, with the expectations it failed."""

    schema_version: Literal["1.0"] = "1.0"
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    value: bytes = Field(description="The record as it was read.")
    suite: str
    failed: list[FailedExpectation]
    at: datetime = Field(default_factory=utcnow)


class QualityResult(_Contract):
    """The outcome of validating one micro-batch of a topic against its suite."""

    schema_version: Literal["1.0"] = "1.0"
    batch_id: str
    source_topic: str
    suite: str
    records: int = Field(ge=0)
    failed_records: int = Field(ge=0)
    success: bool
    expectations: dict[str, bool] = Field(
        default_factory=dict, description="Expectation -> passed, for the whole batch."
    )
    duration_ms: float = Field(ge=0.0)
    at: datetime = Field(default_factory=utcnow)


# ------------------------------------------------------------------------- dead letters


class DeadLetter(_Contract):
    """A record we could not process, kept whole so it can be fixed and replayed."""

    schema_version: Literal["1.0"] = "1.0"
    stage: Stage
    error_kind: ErrorKind
    error: str = Field(description="Human-readable reason.")
    exception: str | None = Field(default=None, description="Exception class name.")
    raw: bytes = Field(description="The record value as it was read.")
    key: bytes | None = None
    source_topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    attempts: int = 1
    at: datetime = Field(default_factory=utcnow)

    @field_validator("error")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a dead letter needs a reason")
        return value
