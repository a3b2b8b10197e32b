"""A CRM that fails 30% of calls for a while: every ticket still exists exactly once.

Messages go through the real broker and a real worker process into the real local helpdesk,
behind a proxy that fails requests before they arrive (nothing written) and after they were
processed (written, but the worker sees an error and retries). Retry topics carry the commands
the CRM kept refusing; idempotency against the helpdesk itself keeps every message single.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.producer import RawProducer
from connectors.sinks.helpdesk import HelpdeskSink, marker
from infra.broker import EmbeddedBroker
from infra.helpdesk_server import HelpdeskInfo, HelpdeskServer
from infra.processes import free_port
from infra.topics import ensure_topics
from schemas.models import RawEnvelope, TicketCommand, TicketOutcome, TicketResult
from tests.integration.faulty_proxy import FaultyProxy
from tests.integration.kafka_utils import WorkerProcess, read_topics

pytestmark = pytest.mark.integration

CONVERSATIONS = int(os.environ.get("PORTE_VOIX_TEST_CRM_CONVERSATIONS", "25"))
MESSAGES_PER_CONVERSATION = 4
DEADLINE = float(os.environ.get("PORTE_VOIX_TEST_CRM_DEADLINE", "300"))
COMPLAINTS = [
    "Ma commande n'est jamais arrivée et personne ne répond, je veux un remboursement",
    "I was charged twice for the same order, please refund me",
    "Impossible de me connecter à mon compte depuis hier, mot de passe refusé",
    "My parcel was marked delivered but it never came, where is it?",
]


def _records() -> list[bytes]:
    lines = []
    for c in range(CONVERSATIONS):
        for m in range(MESSAGES_PER_CONVERSATION):
            record = {"id": f"r{c}-{m}", "conversation_id": f"conv{c}", "platform": "facebook",
                      "kind": "dm", "brand": "Croque", "rating": None,
                      "text": f"{COMPLAINTS[(c + m) % len(COMPLAINTS)]} (message {m + 1}, "
                              f"dossier {c})",
                      "created_at": f"2026-11-14T21:{m:02d}:{c % 60:02d}+00:00"}
            lines.append(RawEnvelope.wrap("jsonl", json.dumps(record).encode()))
    return lines  # type: ignore[return-value]


@pytest.fixture()
def helpdesk(tmp_path: Path) -> Iterator[HelpdeskInfo]:
    with HelpdeskServer(data_dir=tmp_path / "helpdesk", port=free_port()) as info:
        yield info


def test_a_crm_failing_30_percent_of_calls_still_gets_every_ticket_exactly_once(
    tmp_path: Path, helpdesk: HelpdeskInfo
) -> None:
    proxy = FaultyProxy(helpdesk.base_url, failure_rate=0.3, window_seconds=25).start()
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker:
        ensure_topics(broker.bootstrap, partitions_override=3)
        worker = WorkerProcess({
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "PORTE_VOIX_HELPDESK_URL": proxy.url,
            "PORTE_VOIX_HELPDESK_TOKEN": helpdesk.api_token.get_secret_value(),
            "PORTE_VOIX_HELPDESK_QUEUES": json.dumps(helpdesk.queues),
            "PORTE_VOIX_APP_ID": "porte-voix-resilience",
            "PORTE_VOIX_DELIVER_MAX_ATTEMPTS": "2",
            "PORTE_VOIX_DELIVER_BACKOFF_SECONDS": "0.1",
            "PORTE_VOIX_DELIVER_RETRY_DELAYS": "[2, 5, 10]",
            "PORTE_VOIX_QUALITY_ENABLED": "false",
        }, tmp_path / "worker.log").start()
        try:
            with RawProducer(broker.bootstrap) as producer:
                sent = sum(producer.send_all(_records()))  # type: ignore[arg-type]
            assert sent == CONVERSATIONS * MESSAGES_PER_CONVERSATION
            commands: dict[str, TicketCommand] = {}
            results: list[TicketResult] = []
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline:
                assert worker.alive(), worker.log_tail()
                commands = {c.command_id: c for c in (
                    TicketCommand.model_validate_json(r.value)
                    for r in read_topics(broker.bootstrap, ["crm.commands"], quiet=0.5))}
                results = [TicketResult.model_validate_json(r.value)
                           for r in read_topics(broker.bootstrap, ["crm.results"], quiet=0.5)]
                if commands and set(commands) <= {r.command_id for r in results}:
                    break
                time.sleep(2)
            else:
                raise AssertionError(f"undelivered commands\n{worker.log_tail()}")
            retried = read_topics(broker.bootstrap, ["crm.retry.1", "crm.retry.2"], quiet=0.5)
            letters = read_topics(broker.bootstrap, ["crm.deadletter"], quiet=0.5)
        finally:
            worker.stop()
            proxy.stop()
    assert proxy.counts["failed_before"] > 0 and proxy.counts["failed_after"] > 0
    assert letters == [], "nothing should be dead-lettered once the CRM recovers"
    assert all(r.outcome is not TicketOutcome.failed for r in results)
    assert len(commands) >= CONVERSATIONS * 2, "most messages should make ticket commands"
    assert retried, "a 30% failure rate should have sent commands through a retry topic"

    by_conversation: dict[str, set[str]] = defaultdict(set)
    for cmd in commands.values():
        by_conversation[cmd.external_id].add(cmd.command_id)
    sink = HelpdeskSink.from_info(helpdesk)
    tickets = sink.list_tickets()
    per_conversation = Counter(t["custom_external_id"] for t in tickets)
    assert set(per_conversation) == set(by_conversation)
    assert max(per_conversation.values()) == 1, per_conversation
    for ticket in tickets:
        texts = [f.get("comment") or "" for f in sink.followups(int(ticket["id"]))]
        for command_id in by_conversation[ticket["custom_external_id"]]:
            assert sum(t.count(marker(command_id)) for t in texts) == 1, command_id
