"""Pollers against the real embedded broker: crash and resume, Retry-After, refused tokens.

A fake Trustpilot serves three pages; the poller writes to ``social.raw``, commits its cursor on
``connectors.cursors`` only after the broker acknowledged a page, and reports on
``connectors.health``.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.cursors import KafkaCursorStore
from connectors.health import HealthReporter
from connectors.producer import RawProducer
from connectors.sources.pollers import PollRunner, Stream, TrustpilotPoller
from connectors.sources.pollers.reviews import TrustpilotConfig
from infra.broker import EmbeddedBroker
from pipeline.normalize import BrandDirectory, normalize
from pipeline.normalize.brands import Brand
from schemas.models import ConnectorHealth, CursorState, RawEnvelope
from tests.fakes.reviews import TrustpilotFake
from tests.integration.kafka_utils import read_topics

pytestmark = pytest.mark.integration

BRANDS = BrandDirectory(brands=[Brand(name="Nuvia Mobile")], default_brand="Nuvia Mobile")
PAGE = 4


class Crash(Exception):
    """Stands for the process dying between the broker's ack and the cursor commit."""


@pytest.fixture
def fake() -> Iterator[TrustpilotFake]:
    with TrustpilotFake() as api:
        yield api


def seed(fake: TrustpilotFake, unit: str, count: int) -> list[str]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    ids = []
    for i in range(count):
        review = fake.add_review(unit, f"{unit[:12]}{i:012x}", 1 + i % 5, f"Avis {i}",
                                 "Facture en double ce mois-ci", start + timedelta(minutes=i))
        ids.append(review["id"])
    return ids


def runner(broker: EmbeddedBroker, fake: TrustpilotFake, unit: str, producer: RawProducer,
           health: HealthReporter, cursors: KafkaCursorStore, **config: object) -> PollRunner:
    settings = TrustpilotConfig(base_url=fake.url, api_key=fake.api_key, accounts=[unit],
                                page_size=PAGE, backoff_factor=0.05, **config)  # type: ignore[arg-type]
    return PollRunner(TrustpilotPoller(settings), producer, cursors, health)


def raw_of(broker: EmbeddedBroker, unit: str, count: int) -> list[RawEnvelope]:
    records = read_topics(broker.bootstrap, ["social.raw"], min_count=count, timeout=20,
                          quiet=0.5)
    envelopes = [RawEnvelope.model_validate_json(r.value) for r in records]
    return [e for e in envelopes if e.account == unit]


def test_given_a_crash_before_the_cursor_commit_when_restarted_then_every_item_once(
        broker: EmbeddedBroker, fake: TrustpilotFake) -> None:
    unit = uuid.uuid4().hex[:24]
    ids = seed(fake, unit, 3 * PAGE)  # three full pages

    def crash_on_page_2(stream: Stream, page: int) -> None:
        if page == 2:
            raise Crash("killed after the broker acked page 2, before its cursor commit")

    with RawProducer(broker.bootstrap) as producer, HealthReporter(broker.bootstrap) as health:
        with KafkaCursorStore(broker.bootstrap) as cursors:
            first = runner(broker, fake, unit, producer, health, cursors)
            first.on_page_stored = crash_on_page_2
            with pytest.raises(Crash):
                first.run_once()
        with KafkaCursorStore(broker.bootstrap) as cursors:  # the restarted process
            state = cursors.get("trustpilot", unit, "reviews")
            assert state is not None and state.items == PAGE  # only page 1 was committed
            report = runner(broker, fake, unit, producer, health, cursors).run_once()
        assert report.exit_code == 0, report.errors

    envelopes = raw_of(broker, unit, 3 * PAGE + PAGE)
    by_raw = {e.raw_id: e for e in envelopes}
    events = [ev for e in by_raw.values() for ev in normalize(e, BRANDS) if ev.kind == "review"]
    assert Counter(ev.event_id for ev in events) == Counter(f"trustpilot:{i}" for i in ids)
    replayed = [raw for raw, n in Counter(e.raw_id for e in envelopes).items() if n > 1]
    assert len(replayed) == PAGE  # only page 2 (acked, cursor not committed) came again

    cursor_records = [r for r in read_topics(broker.bootstrap, ["connectors.cursors"],
                                             quiet=0.5, timeout=20)
                      if r.key == f"trustpilot/{unit}/reviews".encode()]
    last = CursorState.model_validate_json(cursor_records[-1].value)
    assert last.items == 3 * PAGE and '"next":null' in (last.cursor or "")


def test_given_429_with_retry_after_when_polling_then_it_is_waited_out(
        broker: EmbeddedBroker, fake: TrustpilotFake) -> None:
    unit = uuid.uuid4().hex[:24]
    ids = seed(fake, unit, 2 * PAGE)
    fake.rate_limit(after=1, times=1, retry_after="1")  # the second request gets a 429
    with RawProducer(broker.bootstrap) as producer, HealthReporter(broker.bootstrap) as health, \
            KafkaCursorStore(broker.bootstrap) as cursors:
        started = time.monotonic()
        report = runner(broker, fake, unit, producer, health, cursors).run_once()
        waited = time.monotonic() - started
    assert report.exit_code == 0 and report.new_items == len(ids)
    assert waited >= 1.0
    assert fake.statuses.count(429) == 1 and fake.statuses[-1] == 200
    assert report.health[0].status == "degraded" and "429" in report.health[0].detail
    assert report.health[0].last_success_at is not None


def test_given_a_revoked_key_when_polling_then_health_auth_failed_on_the_topic(
        broker: EmbeddedBroker, fake: TrustpilotFake) -> None:
    unit = uuid.uuid4().hex[:24]
    seed(fake, unit, 2)
    with RawProducer(broker.bootstrap) as producer, HealthReporter(broker.bootstrap) as health, \
            KafkaCursorStore(broker.bootstrap) as cursors:
        poll = runner(broker, fake, unit, producer, health, cursors)
        fake.api_key = "rotated-by-the-platform"  # our key is revoked
        report = poll.run_once()
    assert report.exit_code == 2
    records = read_topics(broker.bootstrap, ["connectors.health"], min_count=1, quiet=0.5,
                          timeout=20)
    mine = [ConnectorHealth.model_validate_json(r.value) for r in records
            if r.key == f"trustpilot/{unit}".encode()]
    assert [h.status for h in mine] == ["auth_failed"]
    assert "401" in mine[0].detail and "rotated" not in mine[0].detail


def test_poll_command_once_reads_its_config_from_the_environment(
        broker: EmbeddedBroker, fake: TrustpilotFake, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from connectors.sources.pollers import poll_command

    unit = uuid.uuid4().hex[:24]
    seed(fake, unit, 3)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
    monkeypatch.setenv("PORTE_VOIX_POLL_TRUSTPILOT_BASE_URL", fake.url)
    monkeypatch.setenv("PORTE_VOIX_POLL_TRUSTPILOT_API_KEY", fake.api_key)
    monkeypatch.setenv("PORTE_VOIX_POLL_TRUSTPILOT_ACCOUNTS", unit)
    assert poll_command("trustpilot", once=True, interval=60) == 0
    assert f"trustpilot {unit} reviews: 3 new item(s)" in capsys.readouterr().err
    assert poll_command("trustpilot", once=True, interval=60) == 0  # nothing new, still fine
    assert "0 new item(s)" in capsys.readouterr().err

    monkeypatch.delenv("PORTE_VOIX_POLL_TRUSTPILOT_API_KEY")
    assert poll_command("trustpilot", once=True, interval=60) == 2
    assert "PORTE_VOIX_POLL_TRUSTPILOT_API_KEY" in capsys.readouterr().err
    assert poll_command("myspace", once=True, interval=60) == 2


def test_run_forever_polls_until_stopped_and_stops_for_good_on_a_refused_key(
        broker: EmbeddedBroker, fake: TrustpilotFake) -> None:
    import threading

    unit = uuid.uuid4().hex[:24]
    seed(fake, unit, 2)
    with RawProducer(broker.bootstrap) as producer, HealthReporter(broker.bootstrap) as health, \
            KafkaCursorStore(broker.bootstrap) as cursors:
        poll = runner(broker, fake, unit, producer, health, cursors)
        stop = threading.Event()
        codes: list[int] = []
        thread = threading.Thread(target=lambda: codes.append(poll.run_forever(0.1, stop)))
        thread.start()
        deadline = time.monotonic() + 10
        while len(fake.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        thread.join(10)
        assert codes == [0] and len(fake.requests) >= 3

        fake.api_key = "revoked"
        assert poll.run_forever(0.1, threading.Event()) == 2


def test_given_5xx_then_an_unreadable_page_then_retried_and_dead_lettered(
        broker: EmbeddedBroker, fake: TrustpilotFake) -> None:
    from schemas.models import DeadLetter

    unit = uuid.uuid4().hex[:24]
    ids = seed(fake, unit, 2)
    with RawProducer(broker.bootstrap) as producer, HealthReporter(broker.bootstrap) as health, \
            KafkaCursorStore(broker.bootstrap) as cursors:
        poll = runner(broker, fake, unit, producer, health, cursors)
        fake.inject(502, times=2)  # retried by the session, invisible to the run
        report = poll.run_once()
        assert report.exit_code == 0 and report.new_items == len(ids)
        assert fake.statuses[:3] == [502, 502, 200]

        fake.inject(200, raw=b"<html>maintenance</html>")
        broken = poll.run_once()
    assert broken.exit_code == 1 and broken.errors[0].kind.value == "bad_input"
    assert broken.health[0].status == "degraded"
    letters = [DeadLetter.model_validate_json(r.value)
               for r in read_topics(broker.bootstrap, ["social.deadletter"], min_count=1,
                                    quiet=0.5, timeout=20)
               if r.key == f"trustpilot/{unit}/reviews".encode()]
    assert [letter.raw for letter in letters] == [b"<html>maintenance</html>"]
    assert letters[0].stage.value == "ingest" and "unreadable page" in letters[0].error
