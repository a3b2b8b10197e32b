"""KPIs over hand-written timelines: every number below is counted by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.analytics.kpis import (
    Period,
    buckets,
    community,
    members,
    overview,
    response_time,
    share_of_voice,
    unresolved_conversations,
)
from pipeline.analytics.state import AnalyticsState
from schemas.models import (
    Action,
    EnrichedEvent,
    Intent,
    Platform,
    ProductArea,
    Sentiment,
    TicketOutcome,
    TicketResult,
)
from tests.unit.analytics_factory import event

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
WEEK = Period(T0, T0 + timedelta(days=7), brand="Croque")


def state_of(*events: EnrichedEvent) -> AnalyticsState:
    state = AnalyticsState()
    for e in events:
        state.add_enriched(e)
    return state


def ticket(conversation: str, outcome: TicketOutcome = TicketOutcome.created) -> TicketResult:
    return TicketResult(command_id=f"cmd-{conversation}", external_id=conversation,
                        event_id="e", target="helpdesk", outcome=outcome, at=T0)


def test_volume_sentiment_and_intents_count_community_messages_only() -> None:
    state = state_of(
        event(T0, sentiment=Sentiment.negative),
        event(T0 + timedelta(hours=1), sentiment=Sentiment.positive, intent=Intent.praise),
        event(T0 + timedelta(hours=2), sentiment=Sentiment.neutral, intent=Intent.question),
        event(T0 + timedelta(hours=2), sentiment=Sentiment.positive, is_brand=True),
        event(T0 + timedelta(hours=3), brand="Kairo"),
    )
    data = overview(state, WEEK, timedelta(hours=1))
    assert data["volume"]["current"] == 3
    assert data["sentiment"]["mix"] == {"negative": 1, "neutral": 1, "positive": 1}
    assert data["sentiment"]["net"]["current"] == 0.0
    assert data["intents"] == {"complaint": 1, "question": 1, "praise": 1}
    timeline = data["timeline"]
    assert len(timeline) == 7 * 24
    assert [b["volume"] for b in timeline[:4]] == [1, 1, 1, 0]
    assert timeline[0]["net"] == -1.0 and timeline[3]["net"] is None


def test_trend_compares_with_the_previous_period_of_the_same_length() -> None:
    before = [event(T0 - timedelta(days=1, hours=i), sentiment=Sentiment.negative)
              for i in range(4)]
    now = [event(T0 + timedelta(hours=i), sentiment=Sentiment.positive) for i in range(6)]
    data = overview(state_of(*before, *now), WEEK, timedelta(days=1))
    assert data["volume"] == {"current": 6, "previous": 4, "change": 0.5}
    assert data["sentiment"]["net"]["current"] == 1.0
    assert data["sentiment"]["net"]["previous"] == -1.0


def test_community_size_counts_unique_authors_and_new_members() -> None:
    old_friend = event(T0 - timedelta(days=2), author="amel")
    state = state_of(
        old_friend,
        event(T0, author="amel"), event(T0 + timedelta(hours=1), author="amel"),
        event(T0 + timedelta(hours=2), author="bruno"),
        event(T0 + timedelta(hours=3), author="chloe"),
    )
    data = overview(state, WEEK, timedelta(days=1))
    assert data["community"]["authors"]["current"] == 3
    assert data["community"]["authors"]["previous"] == 1
    assert data["community"]["authors"]["change"] == 2.0
    assert data["community"]["new_authors"] == 2


def test_response_time_is_first_brand_reply_minus_first_community_message() -> None:
    state = state_of(
        event(T0, conversation="a", author="amel"),
        event(T0 + timedelta(minutes=5), conversation="a", author="amel"),
        event(T0 + timedelta(minutes=30), conversation="a", is_brand=True),
        event(T0 + timedelta(minutes=50), conversation="a", is_brand=True),
        event(T0, conversation="b", author="bruno"),
        event(T0 + timedelta(minutes=90), conversation="b", is_brand=True),
        event(T0, conversation="c", author="chloe"),  # never answered
        event(T0 + timedelta(minutes=10), conversation="d", is_brand=True),  # brand's own post
    )
    rt = response_time(state, WEEK)
    assert rt.conversations == 3
    assert rt.answered == 2
    assert rt.median_minutes == 60.0  # median of 30 and 90
    assert rt.p90_minutes == 90.0


def test_unresolved_means_a_ticket_and_no_brand_reply_yet() -> None:
    state = state_of(
        event(T0, conversation="answered"),
        event(T0 + timedelta(minutes=20), conversation="answered", is_brand=True),
        event(T0, conversation="waiting"),
        event(T0, conversation="no-ticket"),
        event(T0, conversation="failed"),
    )
    for e in state.events.values():
        conversation = e.event.conversation_key
        if "answered" in conversation or "waiting" in conversation:
            state.add_ticket_result(ticket(conversation))
        elif "failed" in conversation:
            state.add_ticket_result(ticket(conversation, TicketOutcome.failed))
    assert unresolved_conversations(state, WEEK) == ["x:waiting"]


def test_share_of_voice_splits_community_volume_across_brands() -> None:
    state = state_of(
        *[event(T0 + timedelta(minutes=i), brand="Croque") for i in range(3)],
        event(T0, brand="Kairo"),
        *[event(T0, brand="Kairo", is_brand=True) for _ in range(5)],
        event(T0 - timedelta(days=30), brand="Kairo"),
    )
    assert share_of_voice(state, WEEK) == {"Croque": 0.75, "Kairo": 0.25}
    only_x = Period(WEEK.start, WEEK.end, platform=Platform.facebook)
    assert share_of_voice(state, only_x) == {}


def test_ambassadors_detractors_and_prescribers_with_their_recent_messages() -> None:
    messages = [
        event(T0, author="fan", sentiment=Sentiment.positive, text="top", followers=120),
        event(T0 + timedelta(hours=1), author="fan", sentiment=Sentiment.positive,
              text="encore top", followers=150),
        event(T0, author="grumpy", sentiment=Sentiment.negative, text="nul", followers=9000),
        event(T0, author="mixed", sentiment=Sentiment.positive, text="bien"),
        event(T0 + timedelta(hours=1), author="mixed", sentiment=Sentiment.negative, text="bof"),
    ]
    ranked = members(messages)
    assert [m.label for m in ranked] == ["@fan", "@mixed", "@grumpy"]
    stance = {m.label: m.stance for m in ranked}
    assert stance == {"@fan": "ambassador", "@mixed": "neutral", "@grumpy": "detractor"}
    fan = ranked[0].as_dict()
    assert fan["followers"] == 150 and fan["recent"] == ["encore top", "top"]
    data = overview(state_of(*messages), WEEK, timedelta(days=1))
    assert [m["label"] for m in data["members"]["prescribers"]] == ["@grumpy", "@fan"]
    assert [m["label"] for m in data["members"]["ambassadors"]] == ["@fan"]
    assert [m["label"] for m in data["members"]["detractors"]] == ["@grumpy"]


def test_replays_edits_and_removals_do_not_inflate_the_counts() -> None:
    original = event(T0, event_id="x:1", sentiment=Sentiment.negative, text="nul")
    edited = event(T0, event_id="x:1", sentiment=Sentiment.positive, text="finalement top",
                   action=Action.edited)
    edited = edited.model_copy(update={"event": edited.event.model_copy(
        update={"received_at": T0 + timedelta(hours=1)})})
    spam = event(T0, event_id="x:2", intent=Intent.spam)
    removed = event(T0, event_id="x:2", action=Action.deleted)
    state = state_of(original, original, edited, original, spam, removed, spam)
    now = community(state, WEEK)
    assert [e.enrichment.redacted_text for e in now] == ["finalement top"]


def test_themes_and_platforms_are_ranked_by_volume() -> None:
    state = state_of(
        *[event(T0, area=ProductArea.billing, platform=Platform.facebook) for _ in range(3)],
        event(T0, area=ProductArea.app, sentiment=Sentiment.positive),
    )
    data = overview(state, WEEK, timedelta(days=1))
    assert data["themes"][0] == {"theme": "billing", "count": 3, "previous": 0,
                                 "negative_share": 1.0}
    assert data["platforms"] == {"facebook": 3, "x": 1}


def test_buckets_keep_empty_hours_for_the_chart() -> None:
    period = Period(T0, T0 + timedelta(hours=3))
    out = buckets([event(T0 + timedelta(minutes=90))], period, timedelta(hours=1))
    assert [b.volume for b in out] == [0, 1, 0]
