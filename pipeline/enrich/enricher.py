"""The enrichment stage: one ``SocialEvent`` in, one ``Enrichment`` out, batched for speed.

Order of work per batch: PII is masked first (models and people downstream only ever see the
redacted text), then language, then one pass of every linear head over the batch, then the
business rules that need no model (brand product areas, urgency reasons, spam speaking in
the brand's name, the labelling conventions that tie ``actionable`` and ``feature_specific``
to the intent), then the stateful parts in list order (near-duplicates, first-time authors).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from pipeline.enrich.author import AuthorMemory, author_tier
from pipeline.enrich.classifier import TextModels
from pipeline.enrich.config import EnrichConfig
from pipeline.enrich.dedup import NearDuplicateIndex
from pipeline.enrich.features import Doc, Prepared, prepare
from pipeline.enrich.incidents import IncidentSettings, IncidentTracker, content_words
from pipeline.enrich.lang import LanguageDetector
from pipeline.enrich.lexicons import lexicons
from pipeline.enrich.pii import PiiRedactor
from pipeline.enrich.text import strip_accents
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

# Words of a brand name that say nothing about who is speaking ("Nuvia Mobile" -> "nuvia").
_GENERIC_NAME_WORDS = frozenset(
    "mobile mobiles bank banque air fitness tv energie energy group groupe app shop store "
    "the les and et".split())


def brand_pattern(brand: str) -> re.Pattern[str]:
    """Finds the brand in lower-cased, accent-folded text, handles included ("@nuviacare").

    Spam that names the brand speaks in its name (fake support, refunds, giveaways): that is
    fraud on its customers, urgent; spam that does not is a generic scam. On the training
    spam this reads urgency right 97% of the time, against 64% for a list of bait words.
    """
    folded = strip_accents(brand.lower())
    words = [w for w in re.findall(r"[a-z0-9]+", folded)
             if len(w) >= 3 and w not in _GENERIC_NAME_WORDS]
    if not words:
        words = ["".join(re.findall(r"[a-z0-9]+", folded)) or folded]
    return re.compile("|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)))


_REASON_FAMILIES = ("outage", "safety", "fraud", "legal", "data_leak", "churn")


# In the training data complaints and insults are negative and praise positive (> 98 %), spam
# and feature requests neutral (> 91 %): a confident intent overrules the sentiment head where
# they disagree. That catches sarcasm ("Génial, encore une panne") that a bag of words reads
# as positive, and the polite "Great app! Please add..." that is a request, not praise.
_INTENT_SENTIMENT = {Intent.complaint: "negative", Intent.toxic: "negative",
                     Intent.praise: "positive", Intent.spam: "neutral",
                     Intent.feature_request: "neutral"}
_AGREE_MIN_CONFIDENCE = 0.6


def _agree(intent: Intent, intent_conf: float, label: str, score: float,
           conf: float) -> tuple[str, float, float]:
    expected = _INTENT_SENTIMENT.get(intent)
    if expected is None or label == expected or intent_conf < _AGREE_MIN_CONFIDENCE:
        return label, score, conf
    if expected == "neutral":
        return expected, 0.0, min(conf, intent_conf)
    if label == "neutral":
        return label, score, conf
    signed = abs(score) if expected == "positive" else -abs(score)
    return expected, signed, min(conf, intent_conf)


_COMPENSATION = re.compile(
    r"\b(?:compens\w*|dedommag\w*|indemni\w*|rembours\w*|refund\w*|voucher|credit|avoir|"
    r"geste commercial|free month|mois offert|goodwill)\b")


def incident_urgency(prep: Prepared, intent: Intent,
                     reasons: list[str]) -> tuple[Urgency, list[str]]:
    """The conventions' urgency of an incident cluster member.

    High, except praise ("fixed, thanks": low) and a question about compensation (medium).
    """
    if intent is Intent.praise:
        return Urgency.low, []
    if intent is Intent.question and _COMPENSATION.search(prep.model_text):
        return Urgency.medium, []
    return Urgency.high, sorted({*reasons, "incident"})


def consistent_flags(intent: Intent, actionable: bool,
                     feature_specific: bool) -> tuple[bool, bool]:
    """The labelling conventions that hold whatever the text: a question always gets an
    answer (actionable), praise never asks for one, and spam is neither a case nor feedback.
    """
    if intent is Intent.question:
        return True, feature_specific
    if intent is Intent.praise:
        return False, feature_specific
    if intent is Intent.spam:
        return False, False
    return actionable, feature_specific


@dataclass(frozen=True, slots=True)
class _Row:
    """One event's model outputs, already reduced to labels, confidences and flags."""

    sentiment: str
    sentiment_conf: float
    sentiment_score: float
    intent: str
    intent_conf: float
    urgency: str
    area: ProductArea
    area_conf: float
    crisis: bool
    crisis_p: float
    actionable: bool
    feature_specific: bool


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
        thresholds = self._models.meta.get("thresholds")
        self._thresholds: dict[str, float] = dict(thresholds) if isinstance(thresholds, dict) \
            else {}
        if self.config.crisis_threshold is not None:
            self._thresholds["crisis"] = self.config.crisis_threshold
        self._intent_thresholds: dict[str, dict[str, float]] = {}
        for key, value in self._thresholds.items():
            head, at, intent = key.partition("@")
            if at:
                self._intent_thresholds.setdefault(head, {})[intent] = value
        lexicons()  # compile the cue and concept patterns now, not on the first message
        content_words("")
        self.model_version = f"{MODEL_VERSION}+{self._models.meta.get('digest', 'unknown')}"
        self._area_classes = [ProductArea(c) for c in self._models.classes("product_area")]
        self._area_masks: dict[str, np.ndarray] = {}
        self._brand_patterns: dict[str, re.Pattern[str]] = {}
        cfg = self.config
        default_idf = self._models.meta.get("term_default_idf")
        self._incidents = IncidentTracker(
            self._models.term_idf,
            float(default_idf) if isinstance(default_idf, int | float) else 1.0,
            IncidentSettings(similarity=cfg.incident_similarity,
                             strong_similarity=cfg.incident_strong_similarity,
                             min_size=cfg.incident_min_size,
                             min_seeds=cfg.incident_min_seeds,
                             window_items=cfg.incident_window_items,
                             window_hours=cfg.incident_window_hours))

    def enrich(self, event: SocialEvent) -> Enrichment:
        return self.enrich_many([event])[0]

    def enrich_many(self, events: Sequence[SocialEvent],
                    lookahead: bool = False) -> list[Enrichment]:
        """Enrich a batch; duplicates are looked for in list order, against earlier calls too.

        Without ``lookahead`` (the streaming worker) the result equals ``enrich`` called on
        each event in turn: an event joins the incident clusters that exist when it arrives,
        so the first messages of an incident are not marked. With ``lookahead`` (offline
        files) the whole batch is grouped first, then every member of an incident cluster in
        the batch is marked, the early ones included.
        """
        if not events:
            return []
        redactions = [self._pii.redact(e.text) for e in events]
        langs = self._lang.detect_many([e.text for e in events])
        prepared = [
            prepare(Doc(redacted, e.kind.value, e.platform.value, e.rating, lang.value))
            for e, (_, redacted), (lang, _) in zip(events, redactions, langs, strict=True)
        ]
        rows = self._rows(events, self._models.predict(prepared))
        incident = self._incident_members(events, rows, prepared, redactions, lookahead)
        return [self._decide(event, row, prep, lang, pii, redacted, member)
                for event, row, prep, lang, (pii, redacted), member
                in zip(events, rows, prepared, langs, redactions, incident, strict=True)]

    def _incident_members(self, events: Sequence[SocialEvent], rows: Sequence[_Row],
                          prepared: Sequence[Prepared],
                          redactions: Sequence[tuple[list[PiiKind], str]],
                          lookahead: bool) -> list[bool]:
        """Which events belong to an incident cluster of their brand (see ``incidents``).

        A seed reads as a crisis on its own: the crisis head is sure enough, or a negative
        message names an outage, a safety problem or a data leak (a shoe that injures
        runners is a crisis long before the head has seen one).
        """
        if not self.config.incidents:
            return [False] * len(events)
        seed_p = self.config.incident_seed_probability
        seed_cues = self.config.incident_seed_cues
        tracker = self._incidents
        ids = []
        marked = []
        for event, row, prep, (_, redacted) in zip(events, rows, prepared, redactions,
                                                   strict=True):
            words = content_words(redacted, self._brand_pattern(event.brand))
            seed = row.crisis_p >= seed_p or (
                row.sentiment == "negative" and any(c in prep.cues for c in seed_cues))
            item = tracker.add(event.brand, event.created_at, words, seed)
            ids.append(item)
            marked.append(tracker.is_incident(event.brand, item))
        if lookahead:
            marked = [m or tracker.is_incident(e.brand, i)
                      for e, i, m in zip(events, ids, marked, strict=True)]
        return marked

    def _rows(self, events: Sequence[SocialEvent],
              probs: dict[str, np.ndarray]) -> list[_Row]:
        """Every head's decision for the whole batch at once, as plain Python values.

        Taking argmaxes and thresholds on the batch matrices, not row by row, spares a few
        dozen small numpy calls per event.
        """
        models = self._models

        def pick(name: str) -> tuple[list[str], list[float]]:
            p = probs[name]
            best = p.argmax(axis=1)
            classes = models.classes(name)
            return ([classes[k] for k in best.tolist()],
                    p[np.arange(len(p)), best].tolist())

        def column(name: str, cls: str) -> np.ndarray:
            return probs[name][:, models.classes(name).index(cls)]

        sentiment, sentiment_conf = pick("sentiment")
        score = (column("sentiment", "positive") - column("sentiment", "negative")).tolist()
        intent, intent_conf = pick("intent")

        def flags(name: str) -> list[bool]:
            """Head above its threshold: the predicted intent's own one where training chose
            one (``actionable@toxic``), else the head's."""
            base = self._thresholds.get(name, 0.5)
            per_intent = self._intent_thresholds.get(name)
            cut = base if per_intent is None else np.array(
                [per_intent.get(i, base) for i in intent])
            return (column(name, "1") >= cut).tolist()

        urgency, _ = pick("urgency")
        masks = np.stack([self._area_mask(e.brand) for e in events])
        areas = np.where(masks, probs["product_area"], 0.0)
        best_area = areas.argmax(axis=1)
        totals = areas.sum(axis=1)
        area_conf = (areas[np.arange(len(areas)), best_area]
                     / np.where(totals > 0, totals, 1.0)).tolist()
        return [_Row(*values) for values in zip(
            sentiment, sentiment_conf, score, intent, intent_conf, urgency,
            [self._area_classes[k] for k in best_area.tolist()], area_conf,
            flags("crisis"), column("crisis", "1").tolist(), flags("actionable"),
            flags("feature_specific"), strict=True)]

    def _decide(self, event: SocialEvent, row: _Row, prep: Prepared,
                lang: tuple[Lang, float], pii: list[PiiKind], redacted: str,
                incident: bool) -> Enrichment:
        cfg = self.config
        intent = Intent(row.intent)
        sentiment_label, sentiment_score, sentiment_conf = _agree(
            intent, row.intent_conf, row.sentiment, row.sentiment_score, row.sentiment_conf)
        urgency, reasons = self._urgency(prep, intent, row.urgency,
                                         self._brand_pattern(event.brand))
        if incident and cfg.incident_urgency and intent is not Intent.spam:
            urgency, reasons = incident_urgency(prep, intent, reasons)
        actionable, feature_specific = consistent_flags(intent, row.actionable,
                                                        row.feature_specific)
        needs_review = min(sentiment_conf, row.intent_conf, row.area_conf) \
            < cfg.confidence_floor
        dup_of = self._dups.check_and_add(event.brand, event.event_id, event.text,
                                          event.created_at)
        author = event.author
        # Every value is built above with its exact type and range (enums, clipped scores),
        # so the contract's validation is skipped: it cost a sixth of the time per event.
        # tests/unit/test_enrich_features.py checks the output against a validated copy.
        return Enrichment.model_construct(
            model_version=self.model_version,
            lang=lang[0],
            lang_confidence=_clip(lang[1]),
            sentiment=Sentiment(sentiment_label),
            sentiment_score=float(max(-1.0, min(1.0, sentiment_score))),
            sentiment_confidence=_clip(sentiment_conf),
            intent=intent,
            intent_confidence=_clip(row.intent_conf),
            product_area=row.area,
            product_area_confidence=_clip(row.area_conf),
            urgency=urgency,
            urgency_reasons=reasons,
            pii=pii,
            redacted_text=redacted,
            dup_of=dup_of,
            crisis_signal=row.crisis or incident,
            actionable=actionable,
            feature_specific=feature_specific,
            author_tier=author_tier(author, cfg.tier_micro_followers, cfg.tier_macro_followers,
                                    cfg.tier_celebrity_followers),
            author_first_time=self._authors.first_time(event.brand, author,
                                                       event.platform.value),
            needs_review=needs_review,
        )

    def _brand_pattern(self, brand: str) -> re.Pattern[str]:
        pattern = self._brand_patterns.get(brand)
        if pattern is None:
            pattern = self._brand_patterns[brand] = brand_pattern(brand)
        return pattern

    def _area_mask(self, brand: str) -> np.ndarray:
        """Which product areas the brand has (``other`` always), cached per brand."""
        mask = self._area_masks.get(brand)
        if mask is None:
            allowed = set(self.config.brand_areas.get(brand) or list(ProductArea))
            allowed.add(ProductArea.other)
            mask = np.array([a in allowed for a in self._area_classes], dtype=bool)
            self._area_masks[brand] = mask
        return mask

    @staticmethod
    def _urgency(prep: Prepared, intent: Intent, predicted: str,
                 brand: re.Pattern[str]) -> tuple[Urgency, list[str]]:
        """Model urgency, explained by the risk cues found when it is high.

        The cues are already inputs of the urgency model (second layer included); forcing
        ``high`` on any risk cue on top of it lost 1 point of macro-F1 in cross-validation
        ("cancel" or "hurt" in a calm question), so the model decides and the cues explain.
        """
        if intent is Intent.spam:
            if brand.search(strip_accents(prep.doc.text.lower())):
                return Urgency.high, ["fraud", "brand_impersonation"]
            return Urgency.low, []
        urgency = Urgency(predicted)
        if urgency is not Urgency.high:
            return urgency, []
        found = prep.cues
        reasons = [f for f in _REASON_FAMILIES if f in found]
        if "angry" in found and intent in (Intent.complaint, Intent.toxic):
            reasons.append("very_angry")
        return urgency, reasons
