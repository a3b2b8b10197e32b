"""French and English labels of the dashboard, the digest and the alert messages.

One table, so a label cannot exist in one language and be missing in the other (a unit test
checks both columns are complete). ``pick_lang`` reads ``?lang=`` first, then Accept-Language.
"""

from __future__ import annotations

from schemas.models import Intent, ProductArea, Sentiment

__all__ = ["LABELS", "LANGS", "label", "pick_lang"]

LANGS = ("en", "fr")

_BASE: dict[str, tuple[str, str]] = {
    "title": ("Community dashboard", "Tableau de bord communauté"),
    "overview": ("Overview", "Vue d'ensemble"),
    "feedback": ("Product feedback", "Retours produit"),
    "all_brands": ("All brands", "Toutes les marques"),
    "brand": ("Brand", "Marque"),
    "period": ("Period", "Période"),
    "days": ("days", "jours"),
    "volume": ("Messages", "Messages"),
    "net_sentiment": ("Net sentiment", "Sentiment net"),
    "authors": ("Community members", "Membres actifs"),
    "new_authors": ("new", "nouveaux"),
    "response_time": ("Median first response", "Délai médian de 1re réponse"),
    "p90": ("90th percentile", "90e centile"),
    "answered": ("answered", "répondues"),
    "unresolved": ("Unresolved conversations", "Conversations non résolues"),
    "unresolved_help": ("Ticket opened, no brand reply yet",
                        "Ticket ouvert, pas encore de réponse de la marque"),
    "vs_previous": ("vs previous period", "vs période précédente"),
    "sentiment_over_time": ("Sentiment over time", "Sentiment dans le temps"),
    "volume_by_platform": ("Volume by platform", "Volume par plateforme"),
    "share_of_voice": ("Share of voice", "Part de voix"),
    "incidents": ("Crisis incidents", "Incidents de crise"),
    "no_incidents": ("No crisis incident.", "Aucun incident de crise."),
    "status_open": ("open", "ouvert"),
    "status_update": ("growing", "en hausse"),
    "status_closed": ("closed", "clos"),
    "started": ("started", "début"),
    "messages_count": ("messages", "messages"),
    "growth": ("rate vs baseline", "rythme vs référence"),
    "top_themes": ("Top themes", "Thèmes principaux"),
    "negative_share": ("negative", "négatifs"),
    "ambassadors": ("Ambassadors", "Ambassadeurs"),
    "detractors": ("Detractors", "Détracteurs"),
    "prescribers": ("Prescribers (reach)", "Prescripteurs (audience)"),
    "followers": ("followers", "abonnés"),
    "anonymous": ("private author", "auteur privé"),
    "intents": ("Intents", "Intentions"),
    "connectors": ("Connector health", "Santé des connecteurs"),
    "no_connectors": ("No connector report yet.", "Aucun rapport de connecteur."),
    "dead_letters": ("Dead letters", "Lettres mortes"),
    "tickets": ("CRM tickets", "Tickets CRM"),
    "none": ("None.", "Aucun."),
    "area": ("Product area", "Domaine produit"),
    "all_areas": ("All areas", "Tous les domaines"),
    "themes": ("Themes", "Thèmes"),
    "quotes": ("Quotes", "Citations"),
    "count": ("count", "nombre"),
    "previous": ("previous", "avant"),
    "previous_week": ("previous week", "semaine précédente"),
    "original": ("original", "original"),
    "export_csv": ("Export CSV", "Exporter en CSV"),
    "digest_md": ("Weekly digest (Markdown)", "Synthèse hebdo (Markdown)"),
    "digest_html": ("Weekly digest (HTML)", "Synthèse hebdo (HTML)"),
    "digest_title": ("Weekly product feedback", "Retours produit de la semaine"),
    "no_feedback": ("No product feedback this week.", "Aucun retour produit cette semaine."),
    "latest_feedback": ("Latest feedback", "Derniers retours"),
    "loading": ("Reading the topics…", "Lecture des topics…"),
    "records_read": ("records read", "enregistrements lus"),
    "data_until": ("data up to", "données jusqu'au"),
    "language": ("Language", "Langue"),
    "chart_desc": ("Messages per period, stacked by sentiment",
                   "Messages par période, empilés par sentiment"),
    "alert_open": ("Crisis incident opened", "Incident de crise ouvert"),
    "alert_update": ("Crisis incident growing", "Incident de crise en hausse"),
    "alert_closed": ("Crisis incident closed", "Incident de crise clos"),
    "platforms": ("Platforms", "Plateformes"),
    "languages": ("Languages", "Langues"),
    "first_messages": ("First messages", "Premiers messages"),
    "baseline": ("baseline/h", "référence/h"),
}

_AREAS: dict[ProductArea, tuple[str, str]] = {
    ProductArea.billing: ("Billing", "Facturation"),
    ProductArea.delivery: ("Delivery", "Livraison"),
    ProductArea.app: ("App", "Application"),
    ProductArea.network: ("Network", "Réseau"),
    ProductArea.account: ("Account", "Compte"),
    ProductArea.product_quality: ("Product quality", "Qualité produit"),
    ProductArea.customer_service: ("Customer service", "Service client"),
    ProductArea.pricing: ("Pricing", "Tarifs"),
    ProductArea.other: ("Other", "Autre"),
}

_SENTIMENTS: dict[Sentiment, tuple[str, str]] = {
    Sentiment.negative: ("Negative", "Négatif"),
    Sentiment.neutral: ("Neutral", "Neutre"),
    Sentiment.positive: ("Positive", "Positif"),
}

_INTENTS: dict[Intent, tuple[str, str]] = {
    Intent.complaint: ("Complaint", "Réclamation"),
    Intent.question: ("Question", "Question"),
    Intent.feature_request: ("Feature request", "Demande d'évolution"),
    Intent.praise: ("Praise", "Éloge"),
    Intent.spam: ("Spam", "Spam"),
    Intent.toxic: ("Toxic", "Toxique"),
    Intent.other: ("Other", "Autre"),
}

LABELS: dict[str, tuple[str, str]] = {
    **_BASE,
    **{f"area_{k.value}": v for k, v in _AREAS.items()},
    **{f"sentiment_{k.value}": v for k, v in _SENTIMENTS.items()},
    **{f"intent_{k.value}": v for k, v in _INTENTS.items()},
}


def label(key: str, lang: str = "en") -> str:
    """The label in ``lang`` (English for an unknown language); the key itself if unknown."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "fr" else pair[0]


def pick_lang(query: str | None, accept_language: str | None) -> str:
    """``?lang=`` when it is fr or en, else the first of fr/en in Accept-Language, else en."""
    if query in LANGS:
        return query  # type: ignore[return-value]
    ranked: list[tuple[float, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower().split("-")[0]
        weight = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag in LANGS:
            ranked.append((-weight, f"{index:04d}{tag}"))
    return sorted(ranked)[0][1][4:] if ranked else "en"
