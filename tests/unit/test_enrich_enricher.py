"""The Enricher end to end: clear-cut labels, brand areas, batching, state, review flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.enrich import MODEL_VERSION, EnrichConfig, Enricher
from schemas.models import (
    Author,
    AuthorTier,
    Intent,
    Kind,
    Lang,
    PiiKind,
    Platform,
    ProductArea,
    Sentiment,
    SocialEvent,
    Urgency,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def event(text: str, n: int = 0, brand: str = "Croque", minutes: float = 0,
          author: Author | None = None, kind: Kind = Kind.comment,
          rating: int | None = None) -> SocialEvent:
    return SocialEvent(
        event_id=f"x:{n}", platform=Platform.x, kind=kind, source="test",
        platform_item_id=str(n), conversation_id=str(n), brand=brand, text=text,
        rating=rating, created_at=T0 + timedelta(minutes=minutes), author=author or Author(),
    )


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def test_angry_french_slang_complaint_is_negative_complaint(enricher: Enricher) -> None:
    e = enricher.enrich(event(
        "sérieux c'est abusé, 2h que j'attends ma commande et elle arrive froide, "
        "j'en ai marre de vos livreurs", 1))
    assert e.lang is Lang.fr
    assert e.sentiment is Sentiment.negative
    assert e.sentiment_score < 0
    assert e.intent is Intent.complaint


@pytest.mark.parametrize("text", [
    "Oh great, the app crashed again right when I was paying. Thanks a lot.",
    "Bravo, troisième commande froide cette semaine, vraiment le top du service 🙄",
])
def test_sarcastic_praise_of_a_failure_is_negative(enricher: Enricher, text: str) -> None:
    e = enricher.enrich(event(text, 2))
    assert e.sentiment is Sentiment.negative
    assert e.intent is Intent.complaint


def test_quebec_french_complaint_is_french_and_negative(enricher: Enricher) -> None:
    e = enricher.enrich(event(
        "Ça fait deux semaines que j'attends mes souliers pis y'a personne qui me répond, "
        "c'est vraiment pas correct", 3, brand="Kairo"))
    assert e.lang is Lang.fr
    assert e.sentiment is Sentiment.negative


def test_clear_praise_is_positive(enricher: Enricher) -> None:
    e = enricher.enrich(event("Livraison ultra rapide et burger parfait, merci Croque, au top ! 😍",
                              4))
    assert e.sentiment is Sentiment.positive
    assert e.sentiment_score > 0
    assert e.intent is Intent.praise


def test_emoji_only_and_foreign_messages_are_lang_other(enricher: Enricher) -> None:
    out = enricher.enrich_many([event("😡😡😡", 5), event("??", 6),
                                event("Hola, ¿por qué mi pedido no ha llegado todavía?", 7)])
    assert [e.lang for e in out] == [Lang.other] * 3


def test_pii_is_redacted_with_typed_placeholders(enricher: Enricher) -> None:
    e = enricher.enrich(event("Remboursez-moi, commande n° 4588123, tel 06 12 34 56 78, "
                              "mail paul@exemple.fr", 8))
    assert set(e.pii) == {PiiKind.order_id, PiiKind.phone, PiiKind.email}
    assert e.redacted_text == ("Remboursez-moi, commande n° [ORDER_ID], tel [PHONE], "
                               "mail [EMAIL]")


def test_brand_without_an_area_never_gets_it() -> None:
    config = EnrichConfig(brand_areas={"Banque Azur": [ProductArea.account, ProductArea.app]})
    enricher = Enricher(config)
    e = enricher.enrich(event("le livreur n'est jamais venu, ma livraison est en retard de "
                              "3 jours", 9, brand="Banque Azur"))
    assert e.product_area in (ProductArea.account, ProductArea.app, ProductArea.other)


def test_brand_scam_impersonating_support_is_spam_with_high_urgency(enricher: Enricher) -> None:
    e = enricher.enrich(event(
        "Croque Support here: we saw your complaint, DM us on WhatsApp with your card "
        "details to receive your refund today", 10, kind=Kind.reply))
    assert e.intent is Intent.spam
    assert e.urgency is Urgency.high
    assert "fraud" in e.urgency_reasons


def test_batch_gives_the_same_results_as_one_by_one() -> None:
    events = [
        event("my order never arrived, where is it?", 20),
        event("Vous êtes nuls, remboursez-moi tout de suite !!", 21),
        event("my order never arrived, where is it??", 22, minutes=5),
        event("😍", 23),
        event("Super appli, j'adore le suivi en direct", 24, kind=Kind.review, rating=5),
    ]
    single = Enricher()
    batched = Enricher()
    assert batched.enrich_many(events) == [single.enrich(e) for e in events]


def test_duplicates_persist_across_calls_and_respect_the_window() -> None:
    enricher = Enricher(EnrichConfig(dup_window_hours=1))
    text = "Ma commande est arrivée froide et il manque les boissons, remboursez-moi svp"
    assert enricher.enrich(event(text, 30)).dup_of is None
    assert enricher.enrich_many([event(text + " !", 31, minutes=10)])[0].dup_of == "x:30"
    assert enricher.enrich(event(text, 32, minutes=200)).dup_of is None
    assert enricher.enrich(event(text, 33, brand="Kairo", minutes=11)).dup_of is None


def test_author_tier_and_first_time(enricher: Enricher) -> None:
    star = Author(id="star", followers=2_000_000, verified=True)
    first = enricher.enrich(event("Great burgers tonight", 40, author=star))
    second = enricher.enrich(event("Ordering again tomorrow", 41, author=star))
    assert first.author_tier is AuthorTier.celebrity
    assert (first.author_first_time, second.author_first_time) == (True, False)
    assert enricher.enrich(event("hello", 42)).author_first_time is None


def test_confidence_floor_of_one_sends_everything_to_review() -> None:
    e = Enricher(EnrichConfig(confidence_floor=1.0)).enrich(event("ok", 50))
    assert e.needs_review is True
    assert Enricher(EnrichConfig(confidence_floor=0.0)).enrich(event("ok", 51)).needs_review \
        is False


def test_scores_are_in_range_and_model_version_is_set(enricher: Enricher) -> None:
    e = enricher.enrich(event("", 60))
    assert -1.0 <= e.sentiment_score <= 1.0
    assert e.model_version.startswith(MODEL_VERSION)
    assert enricher.enrich_many([]) == []
