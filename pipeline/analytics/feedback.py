"""Product feedback for product teams: themes per area, PII-free quotes, CSV and weekly digest.

Only :class:`FeedbackItem` records are read (``feedback.<area>`` topics), and only their
``redacted_text``: what product teams see never carries an e-mail, a phone or a card number.
A "theme" inside an area is a recurring word or word pair (French and English stop words
removed, accents kept for display, matched accent-folded), counted once per message.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pipeline.analytics.i18n import label
from pipeline.analytics.state import AnalyticsState
from pipeline.enrich.text import strip_accents
from schemas.models import FeedbackItem, ProductArea

__all__ = ["CSV_COLUMNS", "digest_html", "digest_markdown", "export_csv", "feedback_view",
           "items", "themes"]

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")
_ELISION = re.compile(r"^(?:[cdjlmnst]|qu)['’]", re.IGNORECASE)

STOPWORDS = frozenset(strip_accents(w) for w in """
a à au aux avec ce ces cet cette ceci cela ça dans de des du elle elles en et est été être eu
fait faire il ils je j la le les leur leurs lui ma mais me même mes moi mon ne ni nos notre nous
on ou où par pas plus pour qu que qui sa se ses si son sont sur ta te tes toi ton tous tout toute
toutes très tu un une vos votre vous y été était avais avoir ai as avons avez ont suis es sommes
êtes depuis quand comme aussi encore déjà rien bien fois ici là alors donc car peu trop chez
après avant sans sous entre vers bonjour merci svp stp oui non ya
the and for with this that have has had was were are is be been being not but you your yours
our ours they them their its it's i'm i've can could would should will just than then there
here what when where which who why how all any some more most very too also only into from
about out over again once off own same so such no nor of on in to at by as an or if do does did
hello thanks thank please get got my me we he she his her him yes chaque toujours vraiment
still even really just don't can't i'm it's
""".split())


def items(state: AnalyticsState, area: ProductArea | None = None, brand: str | None = None,
          start: datetime | None = None, end: datetime | None = None) -> list[FeedbackItem]:
    """Feedback items of an area and brand in ``[start, end)``, newest first."""
    found = [f for f in state.feedback.values()
             if (area is None or f.product_area is area)
             and (brand is None or f.brand == brand)
             and (start is None or f.created_at >= start)
             and (end is None or f.created_at < end)]
    return sorted(found, key=lambda f: f.created_at, reverse=True)


def _terms(text: str) -> set[str]:
    """Words and word pairs of a message, accent-folded and lower-cased, stop words out."""
    words = []
    for raw in _WORD.findall(_PLACEHOLDER.sub(" ", text)):
        word = strip_accents(_ELISION.sub("", raw.lower())).strip("'’-")
        if len(word) >= 3 and word not in STOPWORDS:
            words.append(word)
    # Pairs skip the stop words between them: "mise à jour" -> "mise jour".
    return set(words) | {f"{a} {b}" for a, b in itertools.pairwise(words)}


def themes(now: list[FeedbackItem], before: Iterable[FeedbackItem] = (), top: int = 8,
           quotes: int = 3) -> list[dict[str, object]]:
    """Recurring terms of the period with their count, previous count and quotes.

    A word is dropped when a word pair holding it covers the same messages (the pair says
    more); the quotes are the newest messages that mention the theme.
    """
    by_term: dict[str, list[FeedbackItem]] = defaultdict(list)
    for item in now:
        for term in _terms(item.redacted_text):
            by_term[term].append(item)
    previous = Counter(t for item in before for t in _terms(item.redacted_text))
    ranked = sorted(by_term.items(), key=lambda kv: (-len(kv[1]), -len(kv[0].split()), kv[0]))
    chosen: list[tuple[str, list[FeedbackItem]]] = []
    for term, hits in ranked:
        if len(hits) < 2 and chosen:
            break
        ids = {h.feedback_id for h in hits}
        if any(term in other.split() and ids == {h.feedback_id for h in other_hits}
               for other, other_hits in chosen):
            continue
        chosen = [(o, oh) for o, oh in chosen
                  if not (o in term.split() and {h.feedback_id for h in oh} == ids)]
        chosen.append((term, hits))
        if len(chosen) >= top:
            break
    return [
        {"theme": term, "count": len(hits), "previous": previous[term],
         "quotes": [_quote(h) for h in sorted(hits, key=lambda f: f.created_at,
                                              reverse=True)[:quotes]]}
        for term, hits in chosen
    ]


def _quote(item: FeedbackItem) -> dict[str, Any]:
    return {"text": item.redacted_text, "brand": item.brand, "platform": item.platform.value,
            "intent": item.intent.value, "sentiment": item.sentiment.value,
            "lang": item.lang.value, "rating": item.rating, "url": item.url,
            "created_at": item.created_at.isoformat()}


def feedback_view(state: AnalyticsState, area: ProductArea | None, brand: str | None,
                  end: datetime, days: float = 7) -> dict[str, Any]:
    """Everything the feedback browser shows for one area (all areas when None)."""
    start = end - timedelta(days=days)
    now = items(state, area, brand, start, end)
    before = items(state, area, brand, start - (end - start), start)
    per_area = Counter(f.product_area.value for f in items(state, None, brand, start, end))
    return {
        "area": area.value if area else None, "brand": brand,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "count": len(now), "previous": len(before),
        "areas": {a.value: per_area[a.value] for a in ProductArea},
        "intents": dict(Counter(f.intent.value for f in now).most_common()),
        "sentiment": dict(Counter(f.sentiment.value for f in now).most_common()),
        "themes": themes(now, before),
        "latest": [_quote(f) for f in now[:20]],
    }


CSV_COLUMNS = ("created_at", "brand", "platform", "product_area", "intent", "sentiment", "lang",
               "rating", "redacted_text", "url", "event_id")


def export_csv(rows: Iterable[FeedbackItem]) -> str:
    """Feedback as CSV (RFC 4180, UTF-8): redacted text only, one row per item."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for f in rows:
        writer.writerow([f.created_at.isoformat(), f.brand, f.platform.value,
                         f.product_area.value, f.intent.value, f.sentiment.value, f.lang.value,
                         "" if f.rating is None else f.rating, f.redacted_text, f.url or "",
                         f.event_id])
    return out.getvalue()


def _digest_sections(state: AnalyticsState, brand: str | None,
                     end: datetime) -> list[tuple[ProductArea, int, int, list[dict[str, object]]]]:
    start = end - timedelta(days=7)
    sections = []
    for area in ProductArea:
        now = items(state, area, brand, start, end)
        if not now:
            continue
        before = items(state, area, brand, start - timedelta(days=7), start)
        sections.append((area, len(now), len(before), themes(now, before, top=5, quotes=2)))
    return sorted(sections, key=lambda s: -s[1])


def digest_markdown(state: AnalyticsState, brand: str | None, end: datetime,
                    lang: str = "en") -> str:
    """The week's product feedback as Markdown: per area, count, themes and two quotes each."""
    start = end - timedelta(days=7)
    title = label("digest_title", lang)
    scope = brand or label("all_brands", lang)
    lines = [f"# {title} — {scope}", "",
             f"{start.date().isoformat()} → {end.date().isoformat()}", ""]
    sections = _digest_sections(state, brand, end)
    if not sections:
        lines.append(label("no_feedback", lang))
    for area, count, previous, found in sections:
        lines += [f"## {label('area_' + area.value, lang)} — {count} "
                  f"({label('previous_week', lang)}: {previous})", ""]
        for theme in found:
            lines.append(f"- **{theme['theme']}** × {theme['count']}")
            for quote in theme["quotes"]:  # type: ignore[attr-defined]
                text = str(quote["text"]).replace("\n", " ")
                link = f" ([{label('original', lang)}]({quote['url']}))" if quote["url"] else ""
                lines.append(f"  - « {text} » — {quote['brand']}, {quote['platform']}{link}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def digest_html(state: AnalyticsState, brand: str | None, end: datetime,
                lang: str = "en") -> str:
    """The same digest as a standalone HTML page (e-mail friendly: no script, inline style)."""
    esc = html.escape
    start = end - timedelta(days=7)
    scope = brand or label("all_brands", lang)
    parts = [f"<!doctype html><html lang='{esc(lang)}'><head><meta charset='utf-8'>",
             f"<title>{esc(label('digest_title', lang))}</title>",
             "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;"
             "color:#1a1a1a;padding:0 1rem}h2{border-bottom:1px solid #ccc}"
             "blockquote{margin:.3rem 0 .3rem 1rem;color:#333}a{color:#0b57d0}</style>",
             "</head><body>",
             f"<h1>{esc(label('digest_title', lang))} — {esc(scope)}</h1>",
             f"<p>{start.date().isoformat()} → {end.date().isoformat()}</p>"]
    sections = _digest_sections(state, brand, end)
    if not sections:
        parts.append(f"<p>{esc(label('no_feedback', lang))}</p>")
    for area, count, previous, found in sections:
        parts.append(f"<h2>{esc(label('area_' + area.value, lang))} — {count} "
                     f"<small>({esc(label('previous_week', lang))}: {previous})</small></h2><ul>")
        for theme in found:
            parts.append(f"<li><strong>{esc(str(theme['theme']))}</strong> × {theme['count']}")
            for quote in theme["quotes"]:  # type: ignore[attr-defined]
                link = (f" <a href='{esc(str(quote['url']))}'>{esc(label('original', lang))}</a>"
                        if quote["url"] else "")
                parts.append(f"<blockquote>« {esc(str(quote['text']))} » — "
                             f"{esc(str(quote['brand']))}, {esc(str(quote['platform']))}"
                             f"{link}</blockquote>")
            parts.append("</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
