"""Incident clusters: members of an outage marked together, lone complaints and noise not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.enrich import EnrichConfig, Enricher
from pipeline.enrich.enricher import brand_pattern, incident_urgency
from pipeline.enrich.features import Doc, Prepared, prepare
from pipeline.enrich.incidents import IncidentSettings, IncidentTracker, content_words
from schemas.models import Intent, Kind, Platform, SocialEvent, Urgency

T0 = datetime(2025, 3, 7, 18, 0, tzinfo=UTC)

# Six messages about one nationwide card outage at one bank; four sound like an ordinary
# complaint on their own, and the stream starts with one of those.
INCIDENT = [
    "my card got declined 3 times at the supermarket tonight, so embarrassing",
    "@BanqueAzur card payments down everywhere? card declined at the supermarket and at "
    "the petrol station, is it an outage?",
    "card declined at the petrol station tonight, had to pay cash",
    "same, card declined at the supermarket checkout, queue behind me staring",
    "is Banque Azur down for everyone? card payments declined nationwide tonight",
    "card payments keep getting declined tonight, tried the supermarket and the petrol "
    "station",
]
NOISE = [
    ("Croque", "Ma pizza est arrivée froide et il manquait les frites, remboursez-moi"),
    ("Kairo", "Love my new running shoes, super comfy on long runs"),
    ("Banque Azur", "How do I change the email address on my account?"),
    ("Nuvia Mobile", "Can I keep my number if I switch to the 5G plan?"),
    ("Croque", "Le livreur était super sympa, merci !"),
    ("Banque Azur", "Quel est le plafond de virement pour un compte joint ?"),
    ("Kairo", "Do you ship to Canada? Looking for the trail model in size 44"),
    ("Nuvia Mobile", "Ma facture de mars est plus élevée que prévu, pourquoi ?"),
]


def event(text: str, n: int, brand: str = "Banque Azur", minutes: float = 0) -> SocialEvent:
    return SocialEvent(
        event_id=f"x:{n}", platform=Platform.x, kind=Kind.comment, source="test",
        platform_item_id=str(n), conversation_id=str(n), brand=brand, text=text,
        created_at=T0 + timedelta(minutes=minutes),
    )


def mixed_stream() -> tuple[list[SocialEvent], set[str]]:
    """The incident spread among unrelated messages of several brands (one a minute)."""
    events: list[SocialEvent] = []
    members: set[str] = set()
    noise = iter(NOISE)
    for k, text in enumerate(INCIDENT):
        if k % 2 == 0:
            brand, other = next(noise)
            events.append(event(other, len(events), brand, minutes=len(events)))
        members.add(f"x:{len(events)}")
        events.append(event(text, len(events), minutes=len(events)))
    for brand, other in noise:
        events.append(event(other, len(events), brand, minutes=len(events)))
    return events, members


@pytest.fixture(scope="module")
def offline_marks() -> dict[str, bool]:
    events, _ = mixed_stream()
    out = Enricher().enrich_many(events, lookahead=True)
    return {e.event_id: o.crisis_signal for e, o in zip(events, out, strict=True)}


def test_given_an_incident_in_a_mixed_stream_when_looking_ahead_then_every_member_is_marked(
        offline_marks: dict[str, bool]) -> None:
    _, members = mixed_stream()
    assert {i for i, marked in offline_marks.items() if marked} == members


def test_the_cluster_marks_members_the_per_message_head_alone_misses() -> None:
    events, members = mixed_stream()
    alone = Enricher(EnrichConfig(incidents=False)).enrich_many(events, lookahead=True)
    head_marked = {e.event_id for e, o in zip(events, alone, strict=True) if o.crisis_signal}
    assert members - head_marked, "the stream should hold members that sound ordinary"


def test_a_lone_card_complaint_among_unrelated_messages_is_not_a_crisis() -> None:
    events = [event(text, n, brand, minutes=n) for n, (brand, text) in enumerate(NOISE)]
    events.append(event("card declined at the supermarket today, can you check my account?",
                        len(events), minutes=len(events)))
    out = Enricher().enrich_many(events, lookahead=True)
    assert not any(o.crisis_signal for o in out)


def test_streaming_marks_only_members_arriving_once_the_group_exists() -> None:
    events, members = mixed_stream()
    batched = Enricher().enrich_many(events)
    single = Enricher()
    assert batched == [single.enrich(e) for e in events]
    ordered = [e.event_id for e in events if e.event_id in members]
    marked = {e.event_id for e, o in zip(events, batched, strict=True) if o.crisis_signal}
    assert ordered[0] not in marked
    assert ordered[-1] in marked
    assert marked <= members


def test_incidents_off_gives_the_per_message_head_only() -> None:
    events, _ = mixed_stream()
    off = Enricher(EnrichConfig(incidents=False))
    on = Enricher()
    assert sum(o.crisis_signal for o in off.enrich_many(events, lookahead=True)) \
        < sum(o.crisis_signal for o in on.enrich_many(events, lookahead=True))


def prepared(text: str) -> Prepared:
    return prepare(Doc(text, "comment", "x", None, "en"))


def test_cluster_members_follow_the_urgency_conventions() -> None:
    fixed = incident_urgency(prepared("working again now, fixed, thanks"), Intent.praise, [])
    assert fixed == (Urgency.low, [])
    compensation = incident_urgency(
        prepared("will you refund the fees charged during the outage?"), Intent.question, [])
    assert compensation == (Urgency.medium, [])
    complaint = incident_urgency(prepared("card declined twice"), Intent.complaint, ["churn"])
    assert complaint == (Urgency.high, ["churn", "incident"])
    plain_question = incident_urgency(prepared("is it down for everyone?"), Intent.question, [])
    assert plain_question[0] is Urgency.high


def test_incident_members_in_a_stream_are_urgent() -> None:
    events, members = mixed_stream()
    out = Enricher().enrich_many(events, lookahead=True)
    urgencies = {o.urgency for e, o in zip(events, out, strict=True) if e.event_id in members}
    assert urgencies == {Urgency.high}


def test_content_words_drop_brand_stop_words_and_plurals() -> None:
    words = content_words("Les virements bloqués chez Banque Azur, trips cancelled by the agents",
                          brand_pattern("Banque Azur"))
    assert "azur" not in words
    assert "les" not in words
    assert {"trip", "zztransfer", "zzblocked", "zzsupport"} <= set(words)


def test_content_words_are_the_same_across_languages() -> None:
    french = content_words("Ma carte bancaire est refusée au supermarché ; +2€ par mois")
    english = content_words("my debit card was declined at the supermarket, €2 extra")
    spanish = content_words("mi tarjeta rechazada en el supermercado")
    shared = {"zzcard", "zzdeclined", "zzsupermarket"}
    assert shared <= set(french) and shared <= set(english) and shared <= set(spanish)
    assert "zzmoney2" in french and "zzmoney2" in english


def test_a_longer_glossary_phrase_wins_over_its_words() -> None:
    assert content_words("they stole my personal data") == ["stole", "zzdataleak"]


def tracker(**settings: float) -> IncidentTracker:
    return IncidentTracker({}, 1.0, IncidentSettings(**settings))  # type: ignore[arg-type]


def test_ordinary_messages_do_not_chain_into_an_incident_without_seeds() -> None:
    t = tracker(min_size=3, min_seeds=1)
    ids = [t.add("B", T0, ["app", "crash", "login"], seed=False) for _ in range(5)]
    assert not any(t.is_incident("B", i) for i in ids)
    assert t.group_size("B", ids[-1]) == 1
    seed = t.add("B", T0, ["app", "crash", "login"], seed=True)
    assert t.is_incident("B", seed)
    assert all(t.is_incident("B", i) for i in ids)


def test_groups_are_per_brand_and_forget_messages_older_than_the_window() -> None:
    t = tracker(min_size=2, min_seeds=1, window_hours=1)
    first = t.add("A", T0, ["outage", "sos"], seed=True)
    other_brand = t.add("B", T0, ["outage", "sos"], seed=True)
    assert not t.is_incident("A", first) and not t.is_incident("B", other_brand)
    late = t.add("A", T0 + timedelta(hours=2), ["outage", "sos"], seed=True)
    assert not t.is_incident("A", late)
    assert not t.is_incident("A", first)
    again = t.add("A", T0 + timedelta(hours=2, minutes=5), ["outage", "sos"], seed=False)
    assert t.is_incident("A", again) and t.is_incident("A", late)
