"""The enrichment stage: one ``SocialEvent`` in, one ``Enrichment`` out, batched for speed.

Order of work per batch: PII is masked first (models and people downstream only ever see the
redacted text), then language, then one pass of every linear head over the batch, then the
business rules that need no model (brand product areas, urgency reasons, scam impersonation),
then the stateful parts in list order (near-duplicates, first-time authors).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np

from pipeline.enrich.author import AuthorMemory, author_tier
from pipeline.enrich.classifier import TextModels
from pipeline.enrich.config import EnrichConfig
from pipeline.enrich.dedup import NearDuplicateIndex
from pipeline.enrich.features import Doc, Prepared, prepare
from pipeline.enrich.lang import LanguageDetector
from pipeline.enrich.lexicons import lexicons
from pipeline.enrich.pii import PiiRedactor
from schemas.models import (
    Enrichment,
    Intent,
    Lang,
    PiiKind,
    ProductArea,
    Sentiment,
    SocialEvent,
    Urgency,
)

MODEL_VERSION = "enrich-1.0"

_BRAND_BAIT = ("support", "refund", "rembours", "giveaway", "concours", "gagn", "won", "winner",
               "whatsapp", "telegram", "verify", "verif", "confirm", "xurlx", "dm", "mp ",
               "official", "officiel", "service client", "customer service", "helpdesk")


_REASON_FAMILIES = ("outage", "safety", "fraud", "legal", "data_leak", "churn")


# In the training data complaints and insults are negative and praise positive (> 98 %): a
# confident intent overrules the sentiment head where they disagree, which catches sarcasm
# ("Génial, encore une panne") that a bag of words reads as positive.
_INTENT_SENTIMENT = {Intent.complaint: "negative", Intent.toxic: "negative",
                     Intent.praise: "positive"}
_AGREE_MIN_CONFIDENCE = 0.6


def _agree(intent: Intent, intent_conf: float, label: str, score: float,
           conf: float) -> tuple[str, float, float]:
    expected = _INTENT_SENTIMENT.get(intent)
    if expected is None or label == expected or label == "neutral" \
            or intent_conf < _AGREE_MIN_CONFIDENCE:
        return label, score, conf
    signed = abs(score) if expected == "positive" else -abs(score)
    return expected, signed, min(conf, intent_conf)


def _clip(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


class Enricher:
    """Loads the models once and enriches events; keeps the duplicate and author windows."""

    def __init__(self, config: EnrichConfig | None = None) -> None:
        self.config = config or EnrichConfig()
        self._models = TextModels.load(self.config.model_path)
        self._lang = LanguageDetector()
        self._pii = PiiRedactor()
        self._dups = NearDuplicateIndex(
            window=timedelta(hours=self.config.dup_window_hours),
            threshold=self.config.dup_threshold,
            min_chars=self.config.dup_min_chars,
            max_items_per_brand=self.config.dup_max_items_per_brand,
        )
        self._authors = AuthorMemory(self.config.max_known_authors)
        lexicons()  # compile the cue patterns now, not on the first message
        self.model_version = f"{MODEL_VERSION}+{self._models.meta.get('digest', 'unknown')}"
        self._area_classes = [ProductArea(c) for c in self._models.classes("product_area")]
        self._area_masks: dict[str, np.ndarray] = {}

    def enrich(self, event: SocialEvent) -> Enrichment:
        return self.enrich_many([event])[0]

    def enrich_many(self, events: Sequence[SocialEvent]) -> list[Enrichment]:
        """Enrich a batch; duplicates are looked for in list order, against earlier calls too."""
        if not events:
            return []
        redactions = [self._pii.redact(e.text) for e in events]
        langs = self._lang.detect_many([e.text for e in events])
        prepared = [
            prepare(Doc(redacted, e.kind.value, e.platform.value, e.rating, lang.value))
            for e, (_, redacted), (lang, _) in zip(events, redactions, langs, strict=True)
        ]
        probs = self._models.predict(prepared)
        out: list[Enrichment] = []
        for i, event in enumerate(events):
            row = {name: p[i] for name, p in probs.items()}
            pii, redacted = redactions[i]
            out.append(self._decide(event, row, prepared[i], langs[i], pii, redacted))
        return out

    def _decide(self, event: SocialEvent, row: dict[str, np.ndarray], prep: Prepared,
                lang: tuple[Lang, float], pii: list[PiiKind], redacted: str) -> Enrichment:
        models = self._models
        cfg = self.config

        def pick(name: str) -> tuple[str, float]:
            k = int(row[name].argmax())
            return models.classes(name)[k], float(row[name][k])

        def prob(name: str, cls: str) -> float:
            return float(row[name][models.classes(name).index(cls)])

        sentiment_label, sentiment_conf = pick("sentiment")
        sentiment_score = prob("sentiment", "positive") - prob("sentiment", "negative")
        intent_label, intent_conf = pick("intent")
        area, area_conf = self._area(event.brand, row["product_area"])
        intent = Intent(intent_label)
        sentiment_label, sentiment_score, sentiment_conf = _agree(
            intent, intent_conf, sentiment_label, sentiment_score, sentiment_conf)
        urgency, reasons = self._urgency(row, prep, intent, pick("urgency")[0])
        crisis = prob("crisis", "1") >= 0.5
        actionable = prob("actionable", "1") >= 0.5 and intent not in (Intent.spam,)
        feature_specific = prob("feature_specific", "1") >= 0.5
        needs_review = min(sentiment_conf, intent_conf, area_conf) < cfg.confidence_floor
        dup_of = self._dups.check_and_add(event.brand, event.event_id, event.text,
                                          event.created_at)
        author = event.author
        return Enrichment(
            model_version=self.model_version,
            lang=lang[0],
            lang_confidence=_clip(lang[1]),
            sentiment=Sentiment(sentiment_label),
            sentiment_score=float(max(-1.0, min(1.0, sentiment_score))),
            sentiment_confidence=_clip(sentiment_conf),
            intent=intent,
            intent_confidence=_clip(intent_conf),
            product_area=area,
            product_area_confidence=_clip(area_conf),
            urgency=urgency,
            urgency_reasons=reasons,
            pii=pii,
            redacted_text=redacted,
            dup_of=dup_of,
            crisis_signal=crisis,
            actionable=actionable,
            feature_specific=feature_specific,
            author_tier=author_tier(author, cfg.tier_micro_followers, cfg.tier_macro_followers,
                                    cfg.tier_celebrity_followers),
            author_first_time=self._authors.first_time(event.brand, author,
                                                       event.platform.value),
            needs_review=needs_review,
        )

    def _area(self, brand: str, probs: np.ndarray) -> tuple[ProductArea, float]:
        """Most likely product area among those the brand has (renormalised confidence)."""
        mask = self._area_masks.get(brand)
        if mask is None:
            allowed = set(self.config.brand_areas.get(brand) or list(ProductArea))
            allowed.add(ProductArea.other)
            mask = np.array([a in allowed for a in self._area_classes], dtype=bool)
            self._area_masks[brand] = mask
        masked = np.where(mask, probs, 0.0)
        total = float(masked.sum()) or 1.0
        k = int(masked.argmax())
        return self._area_classes[k], float(masked[k]) / total

    @staticmethod
    def _urgency(row: dict[str, np.ndarray], prep: Prepared, intent: Intent,
                 predicted: str) -> tuple[Urgency, list[str]]:
        """Model urgency, raised to high by an explicit risk cue and explained by the cues."""
        found = prep.cues
        reasons: list[str] = [f for f in _REASON_FAMILIES if f in found]
        if intent is Intent.spam:
            text = prep.model_text
            if any(bait in text for bait in _BRAND_BAIT):
                return Urgency.high, ["fraud", "brand_impersonation"]
            return Urgency.low, []
        urgency = Urgency(predicted)
        if "angry" in found and intent in (Intent.complaint, Intent.toxic):
            reasons.append("very_angry")
        strong = [r for r in reasons if r in ("safety", "fraud", "legal", "data_leak", "churn")]
        if strong and intent in (Intent.complaint, Intent.toxic, Intent.question):
            urgency = Urgency.high
        if urgency is not Urgency.high:
            reasons = []
        return urgency, reasons
