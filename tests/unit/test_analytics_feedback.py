"""Product feedback browser data: themes, CSV export, weekly digest, labels in FR and EN."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from pipeline.analytics.feedback import (
    CSV_COLUMNS,
    digest_html,
    digest_markdown,
    export_csv,
    feedback_view,
    themes,
)
from pipeline.analytics.i18n import LABELS, label, pick_lang
from pipeline.analytics.state import AnalyticsState
from pipeline.enrich.pii import PiiRedactor
from schemas.models import FeedbackItem, Intent, Lang, Platform, ProductArea, Sentiment
from tests.unit.analytics_demo import demo_records

END = datetime(2026, 11, 21, tzinfo=UTC)


def item(text: str, at: datetime, area: ProductArea = ProductArea.app,
         brand: str = "Croque", url: str | None = None) -> FeedbackItem:
    return FeedbackItem(feedback_id=f"f-{text}-{at.isoformat()}", event_id=f"e-{text}",
                        brand=brand, platform=Platform.google_play, product_area=area,
                        intent=Intent.feature_request, sentiment=Sentiment.neutral,
                        lang=Lang.fr, redacted_text=text, url=url, created_at=at)


def test_themes_are_recurring_word_pairs_with_counts_trend_and_newest_quotes() -> None:
    now = [item("Le mode sombre svp", END - timedelta(days=1)),
           item("vivement un mode sombre !", END - timedelta(days=2)),
           item("Mode sombre et export PDF", END - timedelta(days=3)),
           item("Export PDF des factures", END - timedelta(days=4))]
    before = [item("mode sombre?", END - timedelta(days=9))]
    found = themes(now, before)
    assert found[0]["theme"] == "mode sombre"
    assert found[0]["count"] == 3 and found[0]["previous"] == 1
    assert [q["text"] for q in found[0]["quotes"]] == [
        "Le mode sombre svp", "vivement un mode sombre !", "Mode sombre et export PDF"]
    assert found[1]["theme"] == "export pdf" and found[1]["count"] == 2
    assert all(t["theme"] not in {"mode", "sombre", "le", "et"} for t in found)


def test_accents_and_stop_words_do_not_split_a_theme() -> None:
    found = themes([item("Problème de réseau", END), item("probleme de reseau", END)])
    assert found[0]["theme"] == "probleme reseau" or found[0]["theme"] == "probleme"
    assert found[0]["count"] == 2


def test_csv_export_has_one_row_per_item_and_only_redacted_text() -> None:
    rows = [item('dit "non", puis\nrien', END, url="https://example.test/1")]
    parsed = list(csv.reader(io.StringIO(export_csv(rows))))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert parsed[1][CSV_COLUMNS.index("redacted_text")] == 'dit "non", puis\nrien'
    assert parsed[1][CSV_COLUMNS.index("url")] == "https://example.test/1"


def demo_state() -> AnalyticsState:
    state = AnalyticsState()
    for topic, _, value in demo_records():
        state.apply(topic, value)
    return state


def test_demo_feedback_view_digest_and_export_carry_no_pii() -> None:
    state = demo_state()
    end = datetime(2026, 11, 21, tzinfo=UTC)
    view = feedback_view(state, None, None, end)
    assert view["count"] == len(state.feedback) > 5
    assert sum(view["areas"].values()) == view["count"]
    redactor = PiiRedactor()
    markdown = digest_markdown(state, None, end, "fr")
    html = digest_html(state, None, end, "en")
    rows = list(csv.DictReader(io.StringIO(export_csv(state.feedback.values()))))
    assert len(rows) == len(state.feedback)
    body = html.split("</style>", 1)[1]  # colour codes look like order numbers
    for text in (markdown, body, *(r["redacted_text"] for r in rows)):
        assert redactor.find(text) == [], "PII in product feedback output"
    assert markdown.startswith("# Retours produit de la semaine")
    assert "## Application" in markdown
    assert "<h1>Weekly product feedback" in html and "<script" not in html


def test_digest_of_an_empty_week_says_so() -> None:
    assert "No product feedback this week." in digest_markdown(AnalyticsState(), None, END)


def test_every_label_exists_in_french_and_english() -> None:
    for key, (en, fr) in LABELS.items():
        assert en.strip() and fr.strip(), key
    assert label("area_billing", "fr") == "Facturation"
    assert label("area_billing", "en") == "Billing"


def test_language_comes_from_the_query_then_accept_language() -> None:
    assert pick_lang("fr", "en-US") == "fr"
    assert pick_lang(None, "de-DE,fr-CA;q=0.8,en;q=0.5") == "fr"
    assert pick_lang(None, "en-GB,fr;q=0.9") == "en"
    assert pick_lang("xx", "de") == "en"
    assert pick_lang(None, None) == "en"
