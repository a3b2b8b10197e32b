"""Crisis detection on replayed timelines: one alert per incident, growth updates, cool-down."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from pipeline.analytics.crisis import CrisisConfig, CrisisDetector, ReorderBuffer
from pipeline.analytics.runtime import AnalyticsRuntime
from schemas.models import CrisisAlert, EnrichedEvent, Intent, Platform, ProductArea, Sentiment
from tests.unit.analytics_demo import demo_records
from tests.unit.analytics_factory import event

FRIDAY = datetime(2026, 11, 13, 0, 0, tzinfo=UTC)
SATURDAY_NIGHT = datetime(2026, 11, 14, 20, 40, tzinfo=UTC)


def quiet_day(start: datetime) -> list[EnrichedEvent]:
    """A normal day: a few messages an hour on every theme, one complaint every three hours."""
    out = []
    for hour in range(24):
        at = start + timedelta(hours=hour)
        out.append(event(at + timedelta(minutes=5), sentiment=Sentiment.positive,
                         intent=Intent.praise, text="super appli"))
        out.append(event(at + timedelta(minutes=25), area=ProductArea.delivery,
                         sentiment=Sentiment.neutral, intent=Intent.question))
        if hour % 3 == 0:
            out.append(event(at + timedelta(minutes=45), text="bug au paiement"))
    return out


def outage(start: datetime, minutes: int = 110) -> list[EnrichedEvent]:
    """A Saturday-night outage: complaints every few minutes, faster in the second hour,
    on several platforms and in both languages."""
    out = []
    platforms = [Platform.x, Platform.facebook, Platform.instagram, Platform.google_play]
    minute, n = 0, 0
    while minute < minutes:
        out.append(event(start + timedelta(minutes=minute), platform=platforms[n % 4],
                         text=f"app down #{n}" if n % 2 else f"l'appli plante #{n}"))
        minute += 4 if minute < 50 else 2
        n += 1
    return out


def replay(detector: CrisisDetector, events: list[EnrichedEvent],
           until: datetime | None = None) -> list[CrisisAlert]:
    alerts: list[CrisisAlert] = []
    for e in sorted(events, key=lambda e: e.event.created_at):
        alerts.extend(detector.observe(e))
    if until is not None:
        alerts.extend(detector.tick(until))
    return alerts


def test_replayed_outage_gives_one_open_a_few_updates_and_one_close() -> None:
    timeline = quiet_day(FRIDAY) + quiet_day(FRIDAY + timedelta(days=1))[:40] + outage(
        SATURDAY_NIGHT)
    alerts = replay(CrisisDetector(), timeline, until=SATURDAY_NIGHT + timedelta(hours=6))

    statuses = [a.status for a in alerts]
    assert statuses[0] == "open" and statuses[-1] == "closed"
    assert statuses.count("open") == 1 and statuses.count("closed") == 1
    assert 1 <= statuses.count("update") <= 4, statuses
    assert {a.incident_id for a in alerts} == {alerts[0].incident_id}
    assert {(a.brand, a.theme) for a in alerts} == {("Croque", ProductArea.app)}
    opened, closed = alerts[0], alerts[-1]
    assert SATURDAY_NIGHT <= opened.updated_at <= SATURDAY_NIGHT + timedelta(minutes=20)
    assert opened.started_at == SATURDAY_NIGHT
    assert opened.baseline_per_hour == 0.5  # the floor: a complaint every 3 h is below it
    assert opened.growth >= 3.0
    assert len(opened.first_messages) >= 3 and opened.first_messages[0] == "l'appli plante #0"
    last_message = max(e.event.created_at for e in outage(SATURDAY_NIGHT))
    assert closed.updated_at == last_message + timedelta(minutes=120)
    assert closed.message_count == len(outage(SATURDAY_NIGHT))
    assert set(closed.platforms) == {Platform.x, Platform.facebook, Platform.instagram,
                                     Platform.google_play}
    counts = [a.message_count for a in alerts if a.status != "closed"]
    assert all(b >= a * 1.5 for a, b in itertools.pairwise(counts))


def test_updates_are_not_sent_every_minute_while_the_incident_grows() -> None:
    burst = [event(SATURDAY_NIGHT + timedelta(seconds=20 * i)) for i in range(180)]
    alerts = replay(CrisisDetector(), quiet_day(FRIDAY) + burst)
    updates = [a for a in alerts if a.status == "update"]
    assert len(updates) <= 6, [a.updated_at for a in updates]
    gaps = [b.updated_at - a.updated_at for a, b in itertools.pairwise(updates)]
    assert all(gap >= timedelta(minutes=30) for gap in gaps)


def test_no_alert_on_a_quiet_day_or_on_praise_or_on_the_brand_own_posts() -> None:
    brand_posts = [event(SATURDAY_NIGHT + timedelta(minutes=i), is_brand=True)
                   for i in range(30)]
    praise = [event(SATURDAY_NIGHT + timedelta(minutes=i), sentiment=Sentiment.positive,
                    intent=Intent.praise) for i in range(30)]
    spam = [event(SATURDAY_NIGHT + timedelta(minutes=i), intent=Intent.spam) for i in range(30)]
    assert replay(CrisisDetector(), quiet_day(FRIDAY) + brand_posts + praise + spam,
                  until=SATURDAY_NIGHT + timedelta(days=1)) == []


def test_the_threshold_follows_the_baseline_not_a_fixed_count() -> None:
    """Eight complaints an hour is a crisis for a quiet theme, not for one that is always busy."""
    busy = [event(FRIDAY + timedelta(minutes=7 * i)) for i in range(int(48 * 60 / 7))]
    spike = [event(FRIDAY + timedelta(days=2, minutes=7 * i)) for i in range(8)]
    quiet = quiet_day(FRIDAY) + quiet_day(FRIDAY + timedelta(days=1))
    assert [a.status for a in replay(CrisisDetector(), quiet + spike)][:1] == ["open"]
    assert replay(CrisisDetector(), busy + spike) == []


def test_a_stricter_configuration_needs_a_bigger_spike() -> None:
    spike = quiet_day(FRIDAY) + [event(SATURDAY_NIGHT + timedelta(minutes=5 * i))
                                 for i in range(5)]
    assert replay(CrisisDetector(CrisisConfig(min_messages=6)), spike) == []
    assert replay(CrisisDetector(CrisisConfig(z_threshold=10)), spike) == []
    assert [a.status for a in replay(CrisisDetector(), spike)] == ["open"]


def test_no_incident_opens_before_the_warm_up_history() -> None:
    spike = outage(SATURDAY_NIGHT, minutes=30)
    assert replay(CrisisDetector(), spike) == []
    assert replay(CrisisDetector(CrisisConfig(warmup=timedelta(0))), spike)[0].status == "open"


def test_each_brand_and_theme_gets_its_own_incident_and_a_later_spike_a_new_one() -> None:
    first = quiet_day(FRIDAY) + outage(SATURDAY_NIGHT, minutes=30)
    other = [event(SATURDAY_NIGHT + timedelta(minutes=3 * i), brand="Kairo",
                   area=ProductArea.delivery) for i in range(6)]
    later = outage(SATURDAY_NIGHT + timedelta(days=1), minutes=30)
    alerts = replay(CrisisDetector(), first + other + later,
                    until=SATURDAY_NIGHT + timedelta(days=2))
    opened = sorted((a.started_at, a.brand, a.theme.value) for a in alerts if a.status == "open")
    assert [(b, t, at) for at, b, t in opened] == [("Croque", "app", SATURDAY_NIGHT),
                      ("Kairo", "delivery", SATURDAY_NIGHT),
                      ("Croque", "app", SATURDAY_NIGHT + timedelta(days=1))]
    assert sum(a.status == "closed" for a in alerts) == 3


def test_duplicate_deliveries_are_counted_once() -> None:
    spike = quiet_day(FRIDAY) + outage(SATURDAY_NIGHT, minutes=30)
    once = replay(CrisisDetector(), spike, until=SATURDAY_NIGHT + timedelta(hours=5))
    twice = replay(CrisisDetector(), [e for e in spike for _ in range(2)],
                   until=SATURDAY_NIGHT + timedelta(hours=5))
    assert [(a.status, a.message_count) for a in once] == [
        (a.status, a.message_count) for a in twice]


def test_a_restart_replays_the_topic_without_publishing_the_same_alerts_again() -> None:
    timeline = quiet_day(FRIDAY) + outage(SATURDAY_NIGHT)
    records = [("social.enriched", i % 3, e.model_dump_json().encode())
               for i, e in enumerate(timeline)]
    read_at = SATURDAY_NIGHT + timedelta(hours=2)
    later = read_at + timedelta(hours=3)
    first = AnalyticsRuntime()
    published = first.ingest(records, read_at) + first.idle(later)
    assert [a.status for a in published].count("open") == 1
    assert published[-1].status == "closed"
    restarted = AnalyticsRuntime(published=published)
    again = restarted.ingest(records, later) + restarted.idle(later + timedelta(hours=3))
    assert again == []
    assert restarted.state.alerts[published[0].incident_id].status == "closed"


def test_reorder_buffer_releases_in_time_order_across_partitions() -> None:
    read = datetime(2026, 11, 22, tzinfo=UTC)
    buffer = ReorderBuffer(max_hold=timedelta(seconds=30))
    behind = [event(SATURDAY_NIGHT + timedelta(minutes=i)) for i in range(0, 60, 10)]
    ahead = [event(SATURDAY_NIGHT + timedelta(days=1, minutes=i)) for i in range(3)]
    for e in ahead:
        buffer.push(0, e, read)
    assert [e for e, _ in buffer.release(read)] == ahead  # one partition delivered so far
    buffer.push(0, event(SATURDAY_NIGHT + timedelta(days=2)), read)
    for e in behind:
        buffer.push(1, e, read)
    released = buffer.release(read + timedelta(seconds=1))
    assert [e for e, _ in released] == behind
    assert len(buffer) == 1  # the day-2 event waits for partition 1 to catch up...
    assert len(buffer.release(read + timedelta(seconds=31))) == 1  # ...or for max_hold


def test_reorder_buffer_waits_for_every_expected_partition_once() -> None:
    read = datetime(2026, 11, 22, tzinfo=UTC)
    buffer = ReorderBuffer(max_hold=timedelta(seconds=30))
    buffer.expect([0, 1])
    late = event(SATURDAY_NIGHT)
    buffer.push(0, event(SATURDAY_NIGHT + timedelta(days=1)), read)
    assert buffer.release(read) == []  # partition 1 has not delivered yet
    buffer.push(1, late, read + timedelta(seconds=5))
    assert [e for e, _ in buffer.release(read + timedelta(seconds=5))] == [late]


def test_demo_traffic_opens_incidents_only_for_the_croque_saturday_outage() -> None:
    runtime = AnalyticsRuntime()
    read_at = datetime(2026, 11, 22, tzinfo=UTC)
    alerts = runtime.ingest(demo_records(), read_at) + runtime.idle(read_at)
    assert alerts, "the demo outage should be detected"
    assert {a.brand for a in alerts} == {"Croque"}
    for alert in alerts:
        assert datetime(2026, 11, 14, 20, 40, tzinfo=UTC) <= alert.started_at
        assert alert.started_at < datetime(2026, 11, 14, 22, 0, tzinfo=UTC)
    by_incident: dict[str, list[str]] = {}
    for alert in alerts:
        by_incident.setdefault(alert.incident_id, []).append(alert.status)
    for statuses in by_incident.values():
        assert statuses[0] == "open" and statuses[-1] == "closed"
        assert statuses.count("open") == statuses.count("closed") == 1


def test_a_backfill_read_in_seconds_is_not_closed_by_the_wall_clock_mid_read() -> None:
    """Old messages read now: the wall clock is far ahead of them, yet between two batches the
    incident must stay open until its messages stop arriving for a cool-down."""
    now = datetime(2026, 11, 22, tzinfo=UTC)
    runtime = AnalyticsRuntime()
    history = [("social.enriched", 0, e.model_dump_json().encode())
               for e in quiet_day(FRIDAY) + outage(SATURDAY_NIGHT)]
    half = len(history) - 20
    alerts = runtime.ingest(history[:half], now) + runtime.idle(now + timedelta(seconds=1))
    alerts += runtime.ingest(history[half:], now + timedelta(seconds=2))
    assert [a.status for a in alerts].count("open") == 1
    assert all(a.status != "closed" for a in alerts)
    closing = runtime.idle(now + timedelta(minutes=121))
    assert [a.status for a in closing] == ["closed"]
    assert closing[0].message_count == len(outage(SATURDAY_NIGHT))
