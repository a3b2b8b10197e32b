"""One hand-written, valid example record per value model, for the catalog and the docs.

Every example sets every field (nothing left to a clock or a default factory), so the catalog is
the same on every run and shows a realistic value for each field. ``example()`` validates the
example against its model: a model change that the example no longer fits fails here, in the
catalog test, not in front of a reader.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel

from schemas.models import (
    ConnectorHealth,
    CrisisAlert,
    CrisisSignal,
    CursorState,
    DeadLetter,
    EnrichedEvent,
    FeedbackItem,
    ModerationItem,
    ProductArea,
    QualityResult,
    QuarantineRecord,
    RawEnvelope,
    SocialEvent,
    TicketCommand,
    TicketResult,
    stable_id,
)
from schemas.topics import TopicSpec

__all__ = ["EXAMPLES", "example", "example_json", "example_key", "topic_example"]

M = TypeVar("M", bound=BaseModel)

_PAYLOAD = (b'{"object":"page","entry":[{"id":"1789","changes":[{"field":"feed","value":'
            b'{"item":"comment","comment_id":"1789_4410","message":"Pr\\u00e9lev\\u00e9 deux '
            b'fois ce mois-ci !"}}]}]}')
_RAW_ID = stable_id("meta_webhook", "9c1f0e4b7d2a")
_EVENT_ID = "facebook:1789_4410"
_CONVERSATION = "facebook:1789_3301"
_TEXT = ("Prélevé deux fois ce mois-ci ! Commande 4410-2291, écrivez-moi à "
         "claire.m@example.fr svp")
_REDACTED = "Prélevé deux fois ce mois-ci ! Commande [ORDER_ID], écrivez-moi à [EMAIL] svp"

_EVENT: dict[str, Any] = {
    "schema_version": "1.0",
    "event_id": _EVENT_ID,
    "platform": "facebook",
    "kind": "comment",
    "action": "created",
    "source": "meta_webhook",
    "platform_item_id": "1789_4410",
    "conversation_id": "1789_3301",
    "parent_id": "1789_3301",
    "brand": "Nuvia Mobile",
    "brand_account_id": "1789",
    "author": {
        "id": "fb-5521", "handle": "claire.martin", "name": "Claire Martin",
        "followers": 312, "verified": False, "is_brand": False,
    },
    "text": _TEXT,
    "rating": None,
    "created_at": "2025-03-14T09:12:00+00:00",
    "received_at": "2025-03-14T09:12:02+00:00",
    "url": "https://www.facebook.com/1789/posts/3301?comment_id=4410",
    "raw_id": _RAW_ID,
}

EXAMPLES: dict[type[BaseModel], dict[str, Any]] = {
    RawEnvelope: {
        "schema_version": "1.0",
        "raw_id": _RAW_ID,
        "source": "meta_webhook",
        "received_at": "2025-03-14T09:12:02+00:00",
        "signature_verified": True,
        "headers": {"content-type": "application/json"},
        "account": "nuvia-mobile-fr",
        "payload": _PAYLOAD,
    },
    SocialEvent: _EVENT,
    EnrichedEvent: {
        "schema_version": "1.0",
        "event": _EVENT,
        "enrichment": {
            "model_version": "enrich-1.0+3f2a9c",
            "lang": "fr", "lang_confidence": 0.99,
            "sentiment": "negative", "sentiment_score": -0.72, "sentiment_confidence": 0.91,
            "intent": "complaint", "intent_confidence": 0.88,
            "product_area": "billing", "product_area_confidence": 0.93,
            "urgency": "high", "urgency_reasons": ["double charge"],
            "pii": ["email", "order_id"],
            "redacted_text": _REDACTED,
            "dup_of": None,
            "crisis_signal": False,
            "actionable": True,
            "feature_specific": False,
            "author_tier": "regular",
            "author_first_time": True,
            "needs_review": False,
        },
    },
    DeadLetter: {
        "schema_version": "1.0",
        "stage": "normalize",
        "error_kind": "bad_input",
        "error": "not a RawEnvelope: Invalid JSON: EOF while parsing an object at line 1",
        "exception": "BadInput",
        "raw": b'{"raw_id": "7d1e", "source": "meta_webhook", "payl',
        "key": b"7d1e",
        "source_topic": "social.raw",
        "partition": 2,
        "offset": 18342,
        "attempts": 1,
        "at": "2025-03-14T09:12:03+00:00",
    },
    TicketCommand: {
        "schema_version": "1.0",
        "command_id": stable_id("ticket", _EVENT_ID, "created", "example"),
        "external_id": _CONVERSATION,
        "event_id": _EVENT_ID,
        "action": "created",
        "brand": "Nuvia Mobile",
        "platform": "facebook",
        "kind": "comment",
        "title": "[Nuvia Mobile] facebook comment · complaint · billing: Prélevé deux fois ce "
                 "mois-ci !",
        "body": f"{_TEXT}\n\n---\nLanguage: fr\nIntent: complaint, area billing",
        "queue": "billing",
        "priority": 2,
        "tags": ["intent-complaint", "area-billing", "lang-fr", "platform-facebook",
                 "urgency-high"],
        "assignee_group": "facturation",
        "author_handle": "claire.martin",
        "url": "https://www.facebook.com/1789/posts/3301?comment_id=4410",
        "created_at": "2025-03-14T09:12:00+00:00",
    },
    TicketResult: {
        "schema_version": "1.0",
        "command_id": stable_id("ticket", _EVENT_ID, "created", "example"),
        "external_id": _CONVERSATION,
        "event_id": _EVENT_ID,
        "target": "helpdesk",
        "outcome": "created",
        "ticket_id": "1042",
        "ticket_url": "http://127.0.0.1:8000/tickets/1042/",
        "error": None,
        "attempts": 1,
        "at": "2025-03-14T09:12:05+00:00",
    },
    FeedbackItem: {
        "schema_version": "1.0",
        "feedback_id": stable_id("feedback", "app_store:rv-88213", "created", "example"),
        "event_id": "app_store:rv-88213",
        "brand": "Nuvia Mobile",
        "platform": "app_store",
        "product_area": "app",
        "intent": "feature_request",
        "sentiment": "neutral",
        "lang": "en",
        "redacted_text": "Please add a dark mode and let me export my invoices as PDF.",
        "rating": 3,
        "url": "https://apps.apple.com/app/id1449/reviews/88213",
        "created_at": "2025-03-13T18:40:00+00:00",
    },
    ModerationItem: {
        "schema_version": "1.0",
        "event_id": "instagram:17912",
        "brand": "Nuvia Mobile",
        "platform": "instagram",
        "intent": "spam",
        "urgency": "low",
        "redacted_text": "cheap followers & likes, instant delivery, check our bio",
        "author_handle": "growfast_2025",
        "url": "https://www.instagram.com/p/Cx17/c/17912/",
        "created_at": "2025-03-14T07:02:00+00:00",
    },
    CrisisSignal: {
        "schema_version": "1.0",
        "event_id": "x:1900412",
        "brand": "Nuvia Mobile",
        "platform": "x",
        "product_area": "network",
        "lang": "fr",
        "sentiment": "negative",
        "redacted_text": "@NuviaMobile plus de réseau depuis 8h à Lyon, c'est une panne ?",
        "created_at": "2025-03-14T08:05:00+00:00",
    },
    CrisisAlert: {
        "schema_version": "1.0",
        "incident_id": stable_id("incident", "Nuvia Mobile", "network", "2025-03-14T08"),
        "brand": "Nuvia Mobile",
        "theme": "network",
        "status": "update",
        "started_at": "2025-03-14T08:00:00+00:00",
        "updated_at": "2025-03-14T08:30:00+00:00",
        "message_count": 57,
        "baseline_per_hour": 2.5,
        "growth": 11.4,
        "platforms": ["x", "facebook"],
        "languages": ["fr", "en"],
        "first_messages": [
            "@NuviaMobile plus de réseau depuis 8h à Lyon, c'est une panne ?",
            "No signal at all in Lyon since this morning, what is going on?",
        ],
    },
    ConnectorHealth: {
        "schema_version": "1.0",
        "connector": "meta_webhook",
        "account": "nuvia-mobile-fr",
        "status": "token_expiring",
        "detail": "page access token expires in 3 days",
        "last_success_at": "2025-03-14T09:12:02+00:00",
        "at": "2025-03-14T09:15:00+00:00",
    },
    CursorState: {
        "schema_version": "1.0",
        "connector": "youtube",
        "account": "UCnuviaMobileFR",
        "stream": "commentThreads",
        "cursor": "QURTSl9pMlVYb0ZIbGJ0",
        "high_watermark": "2025-03-14T09:10:41+00:00",
        "items": 1284,
        "at": "2025-03-14T09:15:00+00:00",
    },
    QuarantineRecord: {
        "schema_version": "1.0",
        "source_topic": "feedback.app",
        "partition": 0,
        "offset": 42,
        "key": "eDpyZXZpZXctMTIz",
        "value": "eyJyZWRhY3RlZF90ZXh0IjogImNhbGwgbWUgMDYgMTIgMzQgNTYgNzgifQ",
        "suite": "feedback",
        "failed": [{"expectation": "expect_column_values_to_not_match_regex",
                    "column": "redacted_text", "detail": "phone number pattern"}],
        "at": "2025-03-14T09:15:00+00:00",
    },
    QualityResult: {
        "schema_version": "1.0",
        "batch_id": "social.enriched:0:1200-1455",
        "source_topic": "social.enriched",
        "suite": "social_enriched",
        "records": 256,
        "failed_records": 1,
        "success": False,
        "expectations": {"expect_column_values_to_be_in_set:enrichment.lang": True,
                         "expect_column_values_to_be_unique:event_id": False},
        "duration_ms": 84.2,
        "at": "2025-03-14T09:15:00+00:00",
    },
}

# Topics sharing a model get an example that fits the topic (a dead letter of the delivery
# stage on crm.deadletter, a feedback item of the topic's area on feedback.<area>).
_TOPIC_OVERRIDES: dict[str, dict[str, Any]] = {
    "crm.deadletter": {
        "stage": "deliver", "error_kind": "retriable",
        "error": "retriable: helpdesk answered 503 after 5 attempts",
        "exception": "DeliveryError", "raw": b'{"command_id": "..."}',
        "key": _CONVERSATION.encode(), "source_topic": "crm.commands",
        "partition": 4, "offset": 977, "attempts": 5,
    },
}


def example(model: type[M]) -> M:
    """The validated example of a value model (raises if the model no longer accepts it)."""
    return model.model_validate(EXAMPLES[model])


def topic_example(spec: TopicSpec) -> BaseModel:
    """The example record of one topic: its model's example, adjusted to fit the topic."""
    data = {**EXAMPLES[spec.value_model], **_TOPIC_OVERRIDES.get(spec.name, {})}
    if spec.value_model is FeedbackItem:
        data["product_area"] = ProductArea(spec.name.removeprefix("feedback.")).value
    return spec.value_model.model_validate(data)


def example_json(record: BaseModel) -> str:
    """The record as it is on the topic (``model_dump_json``), indented for reading."""
    return json.dumps(json.loads(record.model_dump_json()), indent=2, ensure_ascii=False)


def example_key(spec: TopicSpec, record: BaseModel) -> str | None:
    """The record key the topic uses for this example, when it is a field or property."""
    for owner in (record, getattr(record, "event", None)):
        value = getattr(owner, spec.key, None) if owner is not None else None
        if isinstance(value, str):
            return value
    if spec.value_model is DeadLetter and isinstance(record, DeadLetter) and record.key:
        return record.key.decode("utf-8", errors="replace")
    return None
