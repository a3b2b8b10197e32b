"""End to end through the real broker, a real worker process and the real local helpdesk."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.producer import RawProducer
from connectors.sinks.helpdesk import HelpdeskSink, marker
from connectors.sources.backfill import BackfillConfig, BackfillSource
from infra.broker import EmbeddedBroker
from infra.helpdesk_server import HelpdeskInfo, HelpdeskServer, free_port
from infra.run import DEMO_MALFORMED, DEMO_TRAFFIC
from infra.topics import ensure_topics
from pipeline.enrich.pii import PiiRedactor
from schemas.models import (
    DeadLetter,
    FeedbackItem,
    ModerationItem,
    RawEnvelope,
    SocialEvent,
    Stage,
    TicketCommand,
    TicketOutcome,
    TicketResult,
)
from schemas.topics import TOPICS
from tests.integration.kafka_utils import WorkerProcess, read_topics

pytestmark = pytest.mark.integration

FEEDBACK_TOPICS = [name for name in TOPICS if name.startswith("feedback.")]


@pytest.fixture()
def fresh_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of its own: the tests below count every record on their topics."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as b:
        ensure_topics(b.bootstrap, partitions_override=3)
        yield b


@pytest.fixture()
def fresh_helpdesk(tmp_path: Path) -> Iterator[HelpdeskInfo]:
    with HelpdeskServer(data_dir=tmp_path / "helpdesk", port=free_port()) as info:
        yield info


def _worker(broker: EmbeddedBroker, helpdesk: HelpdeskInfo, tmp_path: Path,
            name: str) -> WorkerProcess:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "PORTE_VOIX_HELPDESK_URL": helpdesk.base_url,
        "PORTE_VOIX_HELPDESK_TOKEN": helpdesk.api_token.get_secret_value(),
        "PORTE_VOIX_HELPDESK_QUEUES": json.dumps(helpdesk.queues),
        "PORTE_VOIX_APP_ID": "porte-voix-e2e",
        "PORTE_VOIX_DELIVER_BACKOFF_SECONDS": "0.2",
    }
    return WorkerProcess(env, tmp_path / f"{name}.log")


def _backfill(broker: EmbeddedBroker, *paths: Path) -> int:
    sent = 0
    with RawProducer(broker.bootstrap) as producer:
        for path in paths:
            sent += sum(producer.send_all(BackfillSource(BackfillConfig(path=path)).read()))
    return sent


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def _wait_for_results(broker: EmbeddedBroker, worker: WorkerProcess, minimum: int,
                      timeout: float) -> list[TicketResult]:
    """Wait until every ticket command has a result (the loop back), or fail with the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.alive(), worker.log_tail()
        commands = {TicketCommand.model_validate_json(r.value).command_id
                    for r in read_topics(broker.bootstrap, ["crm.commands"], quiet=1.0,
                                         timeout=20)}
        results = [TicketResult.model_validate_json(r.value)
                   for r in read_topics(broker.bootstrap, ["crm.results"], quiet=1.0,
                                        timeout=20)]
        done = {r.command_id for r in results}
        if len(commands) >= minimum and commands <= done:
            return results
        time.sleep(2)
    raise AssertionError(f"not every command delivered in {timeout}s\n{worker.log_tail()}")


def _assert_one_ticket_per_conversation(broker: EmbeddedBroker, info: HelpdeskInfo) -> int:
    commands = [TicketCommand.model_validate_json(r.value)
                for r in read_topics(broker.bootstrap, ["crm.commands"], quiet=1.0)]
    by_conversation: dict[str, set[str]] = defaultdict(set)
    for cmd in commands:
        by_conversation[cmd.external_id].add(cmd.command_id)
    sink = HelpdeskSink(base_url=info.base_url, api_token=info.api_token)
    tickets = sink.list_tickets()
    per_external = Counter(t.get("custom_external_id") for t in tickets)
    assert set(per_external) == set(by_conversation), "a conversation without its ticket"
    assert all(n == 1 for n in per_external.values()), f"duplicate tickets: {per_external}"
    for ticket in tickets:
        # django-helpdesk records the opening message as the first follow-up too.
        texts = [f.get("comment") or "" for f in sink.followups(int(ticket["id"]))]
        for command_id in by_conversation[ticket["custom_external_id"]]:
            found = sum(text.count(marker(command_id)) for text in texts) or (
                ticket.get("description") or "").count(marker(command_id))
            assert found == 1, f"command {command_id} appears {found} times on {ticket['id']}"
    assert any(len(ids) > 1 for ids in by_conversation.values()), "no follow-up exercised"
    return len(tickets)


def test_demo_traffic_makes_one_ticket_per_conversation_feedback_and_dead_letters(
    fresh_broker: EmbeddedBroker, fresh_helpdesk: HelpdeskInfo, tmp_path: Path
) -> None:
    worker = _worker(fresh_broker, fresh_helpdesk, tmp_path, "worker").start()
    try:
        sent = _backfill(fresh_broker, DEMO_TRAFFIC, DEMO_MALFORMED)
        assert sent == _lines(DEMO_TRAFFIC) + _lines(DEMO_MALFORMED)
        results = _wait_for_results(fresh_broker, worker, minimum=5, timeout=240)
    finally:
        worker.stop()
    assert all(r.outcome is not TicketOutcome.failed for r in results), results
    assert _assert_one_ticket_per_conversation(fresh_broker, fresh_helpdesk) >= 5

    events = [SocialEvent.model_validate_json(r.value)
              for r in read_topics(fresh_broker.bootstrap, ["social.events"])]
    brand_own = {e.event_id for e in events if e.author.is_brand}
    commands = [TicketCommand.model_validate_json(r.value)
                for r in read_topics(fresh_broker.bootstrap, ["crm.commands"])]
    assert brand_own, "the demo traffic has brand echoes"
    assert not brand_own & {c.event_id for c in commands}, "a brand's own post made a ticket"

    feedback = [FeedbackItem.model_validate_json(r.value)
                for r in read_topics(fresh_broker.bootstrap, FEEDBACK_TOPICS)]
    assert feedback, "no product feedback reached the feedback topics"
    moderation = [ModerationItem.model_validate_json(r.value)
                  for r in read_topics(fresh_broker.bootstrap, ["moderation.queue"])]
    texts = {e.event_id: e.text for e in events}
    redactor = PiiRedactor()
    for item in [*feedback, *moderation]:
        assert item.event_id in texts
        assert redactor.find(item.redacted_text) == [], "PII left the CRM path"
    assert any(redactor.find(texts[i.event_id]) for i in [*feedback, *moderation]), (
        "the demo should exercise redaction on a non-CRM route")

    letters = [DeadLetter.model_validate_json(r.value)
               for r in read_topics(fresh_broker.bootstrap, ["social.deadletter"],
                                    min_count=_lines(DEMO_MALFORMED))]
    assert len(letters) >= _lines(DEMO_MALFORMED)
    for letter in letters:
        assert letter.stage is Stage.normalize
        assert len(letter.error) > 10
        RawEnvelope.model_validate_json(letter.raw)  # the raw record is kept whole


def test_killing_the_worker_mid_stream_still_gives_exactly_one_ticket_per_conversation(
    fresh_broker: EmbeddedBroker, fresh_helpdesk: HelpdeskInfo, tmp_path: Path
) -> None:
    first = _worker(fresh_broker, fresh_helpdesk, tmp_path, "first").start()
    _backfill(fresh_broker, DEMO_TRAFFIC)
    deadline = time.monotonic() + 180
    delivered = 0
    while time.monotonic() < deadline and delivered < 5:
        assert first.alive(), first.log_tail()
        delivered = len(read_topics(fresh_broker.bootstrap, ["crm.results"], quiet=0.5,
                                    timeout=10))
        time.sleep(0.5)
    assert delivered >= 5, first.log_tail()
    first.kill()
    second = _worker(fresh_broker, fresh_helpdesk, tmp_path, "second").start()
    try:
        _wait_for_results(fresh_broker, second, minimum=5, timeout=240)
    finally:
        second.stop()
    _assert_one_ticket_per_conversation(fresh_broker, fresh_helpdesk)
    log = json.dumps(second.log_tail(20000))
    assert fresh_helpdesk.api_token.get_secret_value() not in log
