"""Product feedback reaches the product tracker: one Jira issue per feedback item, redacted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from connectors.producer import RawProducer
from connectors.sources.backfill import BackfillConfig, BackfillSource
from infra.broker import EmbeddedBroker
from infra.run import DEMO_TRAFFIC
from infra.topics import ensure_topics
from schemas.models import FeedbackItem, TicketResult
from schemas.topics import TOPICS
from tests.fakes.jira import FakeJira
from tests.integration.kafka_utils import WorkerProcess, read_topics

pytestmark = pytest.mark.integration

FEEDBACK_TOPICS = [name for name in TOPICS if name.startswith("feedback.")]


def test_every_feedback_item_becomes_exactly_one_jira_issue(tmp_path: Path) -> None:
    jira = FakeJira().start()
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker:
        ensure_topics(broker.bootstrap, partitions_override=2)
        worker = WorkerProcess({
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "PORTE_VOIX_APP_ID": "porte-voix-jira",
            "PORTE_VOIX_DELIVER_ENABLED": "false",
            "PORTE_VOIX_QUALITY_ENABLED": "false",
            "PORTE_VOIX_ANALYTICS_ENABLED": "false",
            "PORTE_VOIX_FEEDBACK_SINK": "jira",
            "PORTE_VOIX_JIRA_URL": jira.url,
            "PORTE_VOIX_JIRA_EMAIL": jira.email,
            "PORTE_VOIX_JIRA_API_TOKEN": jira.api_token,
        }, tmp_path / "worker.log").start()
        try:
            with RawProducer(broker.bootstrap) as producer:
                sum(producer.send_all(BackfillSource(BackfillConfig(path=DEMO_TRAFFIC)).read()))
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                assert worker.alive(), worker.log_tail()
                items = {i.feedback_id: i for i in (
                    FeedbackItem.model_validate_json(r.value)
                    for r in read_topics(broker.bootstrap, FEEDBACK_TOPICS, quiet=0.5))}
                results = [TicketResult.model_validate_json(r.value)
                           for r in read_topics(broker.bootstrap, ["crm.results"], quiet=0.5)]
                if items and set(items) <= {r.command_id for r in results}:
                    break
                time.sleep(2)
            else:
                raise AssertionError(worker.log_tail())
        finally:
            worker.stop()
            jira.stop()
    for feedback_id, item in items.items():
        issues = jira.issues_labelled(f"pv-{feedback_id}")
        assert len(issues) == 1, feedback_id
        first_line = item.redacted_text.strip().splitlines()[0][:40]
        assert first_line in str(issues[0]["fields"]["description"])
