"""Builders of synthetic enriched events for the analytics tests (timelines written by hand)."""

from __future__ import annotations

import itertools
from datetime import datetime

from schemas.models import (
    Action,
    Author,
    EnrichedEvent,
    Enrichment,
    Intent,
    Kind,
    Lang,
    Platform,
    ProductArea,
    Sentiment,
    SocialEvent,
    Urgency,
)

_ids = itertools.count(1)
_SCORES = {Sentiment.negative: -0.8, Sentiment.neutral: 0.0, Sentiment.positive: 0.8}


def event(at: datetime, *, brand: str = "Croque", area: ProductArea = ProductArea.app,
          sentiment: Sentiment = Sentiment.negative, intent: Intent = Intent.complaint,
          author: str | None = None, followers: int | None = None, is_brand: bool = False,
          platform: Platform = Platform.x, conversation: str | None = None,
          text: str = "l'appli plante", lang: Lang = Lang.fr, event_id: str | None = None,
          action: Action = Action.created, score: float | None = None,
          crisis: bool = False) -> EnrichedEvent:
    n = next(_ids)
    item = event_id or f"item{n}"
    return EnrichedEvent(
        event=SocialEvent(
            event_id=event_id or f"{platform.value}:{item}", platform=platform,
            kind=Kind.comment, action=action, source="test", platform_item_id=item,
            conversation_id=conversation or item, brand=brand,
            author=Author(id=author or f"user{n}", handle=author or f"user{n}",
                          followers=followers, is_brand=is_brand),
            text=text, created_at=at, received_at=at),
        enrichment=Enrichment(
            model_version="test", lang=lang, sentiment=sentiment,
            sentiment_score=_SCORES[sentiment] if score is None else score, intent=intent,
            product_area=area, urgency=Urgency.low, redacted_text=text, crisis_signal=crisis),
    )
