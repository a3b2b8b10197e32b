"""Normalize stage: raw platform payloads (``RawEnvelope``) into canonical ``SocialEvent``.

Pure functions, no I/O: the faust agent feeds each envelope to ``normalize`` and sends
``BadInput`` to the dead-letter topic. One normalizer per connector name (``NORMALIZERS``); each
module's docstring states how its platform ids map to ``event_id``/``conversation_id``:

- Facebook/Instagram comments: conversation = top-level comment id (replies share it).
- Messenger, Instagram and X DMs: conversation = ``<page or brand account id>:<user id>``.
- X tweets: the first tweet of the reply chain within the same payload, else the tweet's own
  id (v1.1 payloads do not carry the conversation; earlier payloads are not remembered here).
- Reviews (Google, Trustpilot, Google Play, App Store): the review id.
- YouTube: the comment thread id. Discourse: ``<host>:<topic id>``. Reddit: the link fullname.

``event_id`` is always ``SocialEvent.make_event_id(platform, platform_item_id)``, so a webhook
retry, a poll overlap or an edit of the same item gives the same event id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from pipeline.errors import BadInput
from pipeline.normalize.brands import BrandDirectory
from pipeline.normalize.discourse import normalize_discourse
from pipeline.normalize.flat import normalize_flat
from pipeline.normalize.meta import normalize_meta
from pipeline.normalize.payload import parse_payload
from pipeline.normalize.reddit import normalize_reddit
from pipeline.normalize.reviews import (
    normalize_app_store,
    normalize_google_business,
    normalize_google_play,
    normalize_trustpilot,
)
from pipeline.normalize.x import normalize_x
from pipeline.normalize.youtube import normalize_youtube
from schemas.models import RawEnvelope, SocialEvent

__all__ = [
    "NORMALIZERS",
    "BrandDirectory",
    "Normalizer",
    "detect_source",
    "normalize",
    "parse_payload",
]

Normalizer = Callable[[RawEnvelope, BrandDirectory], list[SocialEvent]]

NORMALIZERS: dict[str, Normalizer] = {
    "meta_webhook": normalize_meta,
    "x_account_activity": normalize_x,
    "discourse_webhook": normalize_discourse,
    "youtube": normalize_youtube,
    "google_business": normalize_google_business,
    "trustpilot": normalize_trustpilot,
    "google_play": normalize_google_play,
    "app_store": normalize_app_store,
    "reddit": normalize_reddit,
    "jsonl": normalize_flat,
}


def normalize(envelope: RawEnvelope, brands: BrandDirectory) -> list[SocialEvent]:
    """Zero or more events from one envelope; BadInput for an unknown source or a bad payload."""
    normalizer = NORMALIZERS.get(envelope.source)
    if normalizer is None:
        raise BadInput(
            f"unknown source {envelope.source!r}; known: {', '.join(sorted(NORMALIZERS))}"
        )
    try:
        return normalizer(envelope, brands)
    except ValidationError as exc:
        # Shapes are checked field by field first; this only catches values that pass the
        # platform's shape but not the event contract, and keeps them out of the topic.
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadInput(
            f"{envelope.source}: event does not fit SocialEvent: {where}: {first['msg']}"
        ) from None


def _has(data: dict[str, Any], *keys: str) -> bool:
    return all(key in data for key in keys)


def detect_source(payload: object) -> str | None:
    """Guess the connector name from a bare payload's shape (backfill files without a source).

    Only distinctive top-level markers are used, so a guess is cheap and never half-parses;
    None when no shape matches.
    """
    if not isinstance(payload, dict):
        return None
    if payload.get("object") in ("page", "instagram") and "entry" in payload:
        return "meta_webhook"
    if "for_user_id" in payload:
        return "x_account_activity"
    if len(payload.keys() & {"post", "topic", "ping"}) == 1 and len(payload) == 1:
        return "discourse_webhook"
    if payload.get("kind") == "youtube#commentThread" or (
        isinstance(payload.get("snippet"), dict) and "topLevelComment" in payload["snippet"]
    ):
        return "youtube"
    if _has(payload, "reviewId", "starRating") or (
        _has(payload, "reviewId", "name") and "/reviews/" in str(payload["name"])
    ):
        return "google_business"
    if _has(payload, "reviewId", "comments"):
        return "google_play"
    if _has(payload, "stars", "consumer") or _has(payload, "stars", "businessUnit"):
        return "trustpilot"
    resource = payload.get("data") if isinstance(payload.get("data"), dict) else payload
    if isinstance(resource, dict) and resource.get("type") == "customerReviews":
        return "app_store"
    if payload.get("kind") in ("t1", "t3") and isinstance(payload.get("data"), dict):
        return "reddit"
    if _has(payload, "id", "platform", "text"):
        return "jsonl"
    return None
